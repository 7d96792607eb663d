"""`webtune run --refresh` twice on the refresh example's snapshots, with a tiny model.

Day 1 makes dataset v1 and model v1 (promoted). Day 2 (a third of the products unchanged, a
third changed, a third new) collects only the changed and new ones, dedups against v1,
continues training from v1's adapter, compares v2 with v1 on the frozen benchmark (v1's test
split) and the new test split, and promotes v2 or refuses with the reason (exit code 4).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.refresh.history import History
from webtune.registry.store import ModelRegistry
from webtune.stage import read_manifest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "refresh"


def make_snapshots(out: Path, count: int) -> dict[str, int]:
    spec = importlib.util.spec_from_file_location("make_snapshots", EXAMPLE / "make_snapshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    day1, day2, counts = module.make(count, 7)
    out.mkdir(parents=True, exist_ok=True)
    (out / "day1.json").write_text(json.dumps(day1))
    (out / "day2.json").write_text(json.dumps(day2))
    return counts


@pytest.fixture
def refresh_pipeline(tmp_path, tiny_model_dir) -> Path:
    config = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    config["base_model"] = str(tiny_model_dir)
    config["run_dir"] = "runs"
    config["train"].update({"epochs": 1, "max_seq_len": 512, "eval_steps": 0})
    config["evaluate"].update({"max_examples": 2, "max_new_tokens": 4, "metrics": ["loss"],
                               "bootstrap_resamples": 200})
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run(pipeline: Path, snapshot: Path):
    shutil.copyfile(snapshot, pipeline.parent / "data" / "snapshot.json")
    return CliRunner().invoke(app, ["run", str(pipeline)], terminal_width=200)


def test_two_refresh_runs_collect_only_what_is_new_and_gate_against_production(refresh_pipeline):
    root = refresh_pipeline.parent
    counts = make_snapshots(root / "data", 90)
    history = History(root / "registry" / "history" / "office-products-refresh")
    registry = ModelRegistry(root / "registry")

    first = run(refresh_pipeline, root / "data" / "day1.json")
    assert first.exit_code in (0, 4), first.output
    assert history.versions() == [1]
    v1 = history.lineage(1)
    assert v1["collected"]["new"] == read_manifest(root / "runs" / "v1" / "collect").counts.kept
    assert v1["train"]["mode"] == "first"
    assert registry.get("office-copywriter-fresh", 1).refresh["dataset_version"] == 1
    registry.promote("office-copywriter-fresh", 1, force=True)  # a random tiny model may miss its gates

    second = run(refresh_pipeline, root / "data" / "day2.json")
    assert second.exit_code in (0, 4), second.output
    v2 = history.lineage(2)
    collect = read_manifest(root / "runs" / "v2" / "collect")
    # every record of day 2 is new, changed or unchanged, and the unchanged ones are not kept
    assert v2["collected"]["unchanged"] == counts["unchanged"]
    assert v2["collected"]["changed"] == counts["changed"]
    assert v2["collected"]["new"] == counts["new"]
    assert collect.counts.kept == counts["changed"] + counts["new"]
    assert collect.counts.seen == collect.counts.kept + collect.counts.rejected
    # changed re-listings are recognised by dedup against v1
    assert v2["clean"]["seen_before"] > 0
    # continued from v1's adapter, compared with v1 on the frozen benchmark and the new test split
    assert v2["train"] == {"mode": "continue", "from": "office-copywriter-fresh@1"}
    train_config = read_manifest(root / "runs" / "v2" / "train").config["stage"]
    assert train_config["init_adapter"].endswith("v1/artifact")
    report = json.loads((root / "runs" / "v2" / "evaluate" / "report.json").read_text())
    sets = {s["name"]: s for s in report["champion"]["sets"]}
    assert report["champion"]["champion"] == "office-copywriter-fresh@1"
    assert sets["benchmark"]["examples"] == v1["examples"]["test"] and len(sets["benchmark"]["delta_ci95"]) == 2
    assert sets["new"]["examples"] > 0
    version = registry.get("office-copywriter-fresh", 2)
    champion_gates = {g.gate: g for g in version.gates.checks if g.gate.startswith("champion_")}
    assert set(champion_gates) == {"champion_benchmark_loss", "champion_new_loss"}
    promoted = registry.production("office-copywriter-fresh") == 2
    assert promoted == version.gates.passed == (second.exit_code == 0)
    if not promoted:
        assert "not promoted" in second.output and v2["model"]["refused"]
    # test examples of v1 never move into v2's training split
    v1_test = {json.dumps(json.loads(line)["messages"]) for line in
               (history.version_dir(1) / "test.jsonl").read_text().splitlines()}
    v2_train = {json.dumps(json.loads(line)["messages"]) for line in
                (root / "runs" / "v2" / "dataset" / "train.jsonl").read_text().splitlines()}
    assert not v1_test & v2_train

    # rollback stays one command
    if not promoted:
        registry.promote("office-copywriter-fresh", 2, force=True)
    rolled = CliRunner().invoke(app, ["registry", "rollback", "office-copywriter-fresh",
                                      "--registry", str(root / "registry")])
    assert rolled.exit_code == 0, rolled.output
    assert registry.production("office-copywriter-fresh") == 1

    third = run(refresh_pipeline, root / "data" / "day2.json")  # the same snapshot again
    assert third.exit_code == 0, third.output
    assert "nothing new" in third.output and history.versions() == [1, 2]
