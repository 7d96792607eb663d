"""Weights hash on every version, `promote --force` past failed gates, `diff` forms, exports on a version."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.errors import InputError
from webtune.handoffs import ExportRecord, RegistryVersion
from webtune.registry.store import ModelRegistry
from webtune.stage import tree_sha256 as weights_sha256

runner = CliRunner()


def _artifact(folder, weights: bytes):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter_model.safetensors").write_bytes(weights)
    return folder


def _record(loss: float, passed: bool = True, data: str = "aaa"):
    checks = [] if passed else [{"gate": "tuned_loss_below_base", "passed": False,
                                 "detail": f"tuned {loss:.4f} vs base 2.0000"}]
    return {"kind": "adapter", "base_model": "smollm2-135m-instruct",
            "lineage": {"eval_metrics": {"base": {"loss": 2.0}, "tuned": {"loss": loss}},
                        "data": {"dataset": {"train.jsonl": data}},
                        "stages": {"train": {"config": {"epochs": 1}}}},
            "gates": {"passed": passed, "checks": checks}}


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "220")
    reg = ModelRegistry(tmp_path / "reg")
    reg.register("writer", _record(1.7), _artifact(tmp_path / "a1", b"weights-one"))
    reg.register("writer", _record(2.3, passed=False, data="bbb"), _artifact(tmp_path / "a2", b"weights-two"))
    reg.register("writer", _record(1.7), _artifact(tmp_path / "a3", b"weights-one"))
    return reg


def cli(registry, *args):
    result = runner.invoke(app, [*args, "--registry", str(registry.root)])
    return result.exit_code, result.output


def test_each_version_records_the_sha256_of_its_weights(registry, tmp_path):
    one, two, three = registry.versions("writer")
    assert one.weights_sha256 == weights_sha256(tmp_path / "a1") and len(one.weights_sha256) == 64
    assert one.weights_sha256 != two.weights_sha256  # different weights, different digest
    assert one.weights_sha256 == three.weights_sha256  # same files, same digest


def test_promote_of_a_failed_version_needs_force_and_names_the_gate(registry):
    code, out = cli(registry, "registry", "promote", "writer@2")
    assert code == 1 and "failed its gates" in out and "tuned_loss_below_base" in out and "--force" in out
    assert registry.production("writer") is None
    with pytest.raises(InputError, match="tuned 2.3000 vs base"):
        registry.promote("writer", 2)
    code, out = cli(registry, "registry", "promote", "writer@2", "--force")
    assert code == 0 and "production → v2" in out and "forced" in out
    assert registry.production("writer") == 2
    assert registry.state("writer")["events"][-1]["forced"] is True
    assert cli(registry, "registry", "promote", "writer@1")[0] == 0  # a passing version needs no --force


@pytest.mark.parametrize("args", [("writer@1", "writer@2"), ("1", "2"), ("writer@1", "2"), ("v1", "writer@2")])
def test_diff_accepts_named_and_bare_versions(registry, args):
    code, out = cli(registry, "registry", "diff", *args)
    assert code == 0, out
    assert "diff writer@1 ↔ writer@2" in out
    for section, field in (("weights", "weights_sha256"), ("data", "lineage.data.dataset.train.jsonl"),
                           ("metrics", "lineage.eval_metrics.tuned.loss"), ("gates", "gates.passed")):
        assert section in out and field in out
    assert "different weights" in out


def test_diff_of_same_weights_says_so_and_bare_numbers_need_one_model(registry, tmp_path):
    code, out = cli(registry, "registry", "diff", "1", "3")
    assert code == 0 and "same weights" in out and "weights_sha256" not in out
    registry.register("other", _record(1.0), _artifact(tmp_path / "o1", b"x"))
    code, out = cli(registry, "registry", "diff", "1", "3")
    assert code == 2 and "exactly one model" in out and "other, writer" in out


def test_exports_are_recorded_on_the_version(registry):
    registry.record_export("writer", 1, ExportRecord(format="gguf", path="/x/out", files={"m.gguf": "ab"}))
    registry.record_export("writer", 1, ExportRecord(format="gguf", path="/x/out", files={"m.gguf": "cd"}))
    registry.record_export("writer", 1, ExportRecord(format="ollama", path="/x/out"))
    stored = RegistryVersion.read(registry.version_dir("writer", 1))
    assert [(e.format, e.files) for e in stored.exports] == [("gguf", {"m.gguf": "cd"}), ("ollama", {})]
    assert registry.get("writer", 2).exports == []
    code, out = cli(registry, "registry", "show", "writer@1")
    assert code == 0 and "export gguf" in out and "/x/out" in out and "export ollama" in out
    assert registry.get("writer", 1).weights_sha256[:16] in out
