"""The register stage end to end on the tiny model: lineage, copy, gates, version.json."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.evaluate.helpers import cached_adapter, make_pipeline, publish_inputs
from webtune.handoffs import EvalReport, Manifest, RegistryVersion
from webtune.pipeline import run_one_stage, stage_spec
from webtune.registry.stage import run_register
from webtune.registry.store import ModelRegistry
from webtune.stage import run_stage


@pytest.fixture
def adapter(tiny_model_dir, tmp_path_factory):
    return cached_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter"))


def evaluate_and_register(run_dir, pipeline):
    run_one_stage(stage_spec("evaluate"), pipeline, run_dir, force=True)
    return run_one_stage(stage_spec("register"), pipeline, run_dir, force=True)


def test_register_records_lineage_copies_the_adapter_and_promotes(tmp_path, tiny_model_dir, adapter):
    run_dir, registry = tmp_path / "runs" / "tiny", tmp_path / "registry"
    publish_inputs(run_dir, tiny_model_dir, adapter)
    pipeline = make_pipeline(tiny_model_dir, registry, register={"model_name": "writer"})
    manifest = evaluate_and_register(run_dir, pipeline)
    assert manifest.counts.to_json() == {"in": 1, "kept": 1, "rejected": 0}
    assert manifest.stats["promoted"] is True

    version = RegistryVersion.read(run_dir / "register")
    assert (version.name, version.version, version.kind) == ("writer", 1, "adapter")
    assert version.promoted and version.aliases == ["production"]
    lineage = version.lineage
    assert lineage.run_dir == str(run_dir.resolve())
    for stage in ("dataset", "train", "evaluate"):
        published = Manifest.read(run_dir / stage)
        assert lineage.stages[stage].fingerprint == published.fingerprint
        assert lineage.stages[stage].config == published.config
    build_outputs = {o.path: o.sha256 for o in Manifest.read(run_dir / "dataset").outputs}
    assert lineage.data["dataset"] == {k: v for k, v in build_outputs.items() if k in ("test.jsonl", "train.jsonl")}
    assert lineage.train_metrics == {"train_loss": 1.5}
    assert lineage.eval_metrics == EvalReport.read(run_dir / "evaluate").metrics
    assert version.gates.passed is True
    assert version.description == "a tiny test pipeline"  # the pipeline's, through ctx.shared
    # The registry's own file holds the record, not where it lies or what points at it.
    on_disk = json.loads((registry / "writer" / "v1" / "version.json").read_text())
    assert "path" not in on_disk and "aliases" not in on_disk and on_disk["pipeline"] == "tiny"

    # The registry holds its own copy: deleting the run keeps the version loadable.
    shutil.rmtree(run_dir)
    stored = ModelRegistry(registry).get("writer")
    assert stored.version == 1
    from webtune.serve.loader import load_chat_model, resolve_ref

    model = load_chat_model(resolve_ref("writer@production", ModelRegistry(registry)))
    assert isinstance(model.complete([{"role": "user", "content": "hi"}], max_new_tokens=3).text, str)


def test_a_failed_gate_registers_without_promoting(tmp_path, tiny_model_dir, adapter):
    run_dir, registry = tmp_path / "run", tmp_path / "registry"
    publish_inputs(run_dir, tiny_model_dir, adapter)
    evaluate_and_register(run_dir, make_pipeline(tiny_model_dir, registry))
    strict = make_pipeline(tiny_model_dir, registry, register={"promote_if": {"min_rouge_l": 0.99}})
    manifest = run_one_stage(stage_spec("register"), strict, run_dir, force=True)
    assert manifest.stats["version"] == 2 and manifest.stats["promoted"] is False
    version = RegistryVersion.read(run_dir / "register" / "version.json")
    assert {g.gate: g.passed for g in version.gates.checks} == {
        "tuned_loss_below_base": True, "min_rouge_l": False}
    assert ModelRegistry(registry).production("tiny") == 1  # production stays on the earlier version


def test_registering_the_same_inputs_again_returns_the_same_version(tmp_path, tiny_model_dir, adapter):
    run_dir, registry = tmp_path / "run", tmp_path / "registry"
    publish_inputs(run_dir, tiny_model_dir, adapter)
    pipeline = make_pipeline(tiny_model_dir, registry)
    first = evaluate_and_register(run_dir, pipeline)
    again = run_one_stage(stage_spec("register"), pipeline, run_dir, force=True)
    assert (first.stats["version"], again.stats["version"]) == (1, 1) and again.stats["promoted"]
    store = ModelRegistry(registry)
    assert store.version_numbers("tiny") == [1]
    assert store.get("tiny", 1).identity == first.fingerprint == again.fingerprint
    assert [e["event"] for e in store.state("tiny")["events"]] == ["register", "promote"]


def test_hosted_model_is_registered_by_id(tmp_path, tiny_model_dir):
    run_dir, registry = tmp_path / "run", tmp_path / "registry"
    publish_inputs(run_dir, tiny_model_dir, None, train_result={
        "backend": "openai", "base_model": "gpt-4o-mini", "model_id": "ft:gpt-4o-mini:org::abc"})
    pipeline = make_pipeline(tiny_model_dir, registry)
    # Without an evaluation (register reads it only when given): the gates have no figures.
    manifest = run_stage("register", run_register, run_dir=run_dir, config=pipeline.register_,
                         inputs={"dataset": run_dir / "dataset", "train": run_dir / "train"},
                         shared={"name": pipeline.name})
    version = RegistryVersion.read(run_dir / "register")
    assert (version.kind, version.model_id, version.artifact) == ("hosted", "ft:gpt-4o-mini:org::abc", None)
    assert manifest.stats["promoted"] is False  # no loss figures: the default gate fails
    assert version.gates.checks[0].detail == "no loss in the evaluation"
