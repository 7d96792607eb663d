"""Kill -9 at named points of every stage (WEBTUNE_FAULT), rerun, and compare with an unkilled run.

Each run is `webtune run` in a subprocess killed by SIGKILL at a `webtune.faults` point: no
cleanup of any kind runs, as with ``kill -9`` or the OOM killer. One run directory is killed
at a point of each stage in turn (each rerun resumes and goes further), and its stage
directories must then hold what an uninterrupted run's hold (`tests.faults.snapshot`), with
exactly one registered version and nothing temporary left. Publishing over an existing output
is killed after its atomic exchange and, in the two-rename fallback, between the renames.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import webtune as webtune_package
from tests.faults.snapshot import differences, snapshot
from webtune.registry.store import ModelRegistry

ROOT = Path(__file__).resolve().parents[2]
KILLED = -signal.SIGKILL
WORDS = "paper pen binder stapler blue red clip folder desk lamp ink note pad".split()


def pipeline_config(model_dir: Path) -> dict:
    """A six-stage pipeline on local files and the tiny model, a few seconds end to end."""
    return {
        "name": "kills", "base_model": str(model_dir), "seed": 1,
        "sources": [{"kind": "files", "paths": ["docs.jsonl"]}],
        "clean": {"steps": [{"step": "normalize", "fields": ["title", "description"]},
                            {"step": "length", "field": "description", "min_words": 8}]},
        "dataset": {"templates": [{"name": "writer", "requires": ["title", "description"],
                                   "user": "Describe {{ title }}", "assistant": "{{ description }}"}],
                    "split": {"validation": 0.2, "test": 0.2}},
        "train": {"max_steps": 4, "save_steps": 1, "eval_steps": 0, "max_seq_len": 64,
                  "pack_length": 64, "lora": {"r": 2, "alpha": 4}},
        "evaluate": {"metrics": ["loss"], "max_examples": 0},
        "register": {"model_name": "kills"},
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model_dir) -> Path:
    """A project folder (pipeline.yaml, docs.jsonl) with one uninterrupted run in runs/base."""
    root = tmp_path_factory.mktemp("kills")
    rng = random.Random(0)
    with open(root / "docs.jsonl", "w", encoding="utf-8") as out:
        for i in range(24):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 20)))
            out.write(json.dumps({"title": f"Item {i} {rng.choice(WORDS)}", "description": words}) + "\n")
    (root / "pipeline.yaml").write_text(yaml.safe_dump(pipeline_config(tiny_model_dir)))
    done = webtune(root, "base", "run", "pipeline.yaml")
    assert done.returncode == 0, done.stderr
    return root


def webtune(root: Path, run: str, *args: str, fault: str | None = None,
            no_exchange: bool = False) -> subprocess.CompletedProcess:
    """``webtune ARGS --run-dir runs/RUN`` in a subprocess (its registry in ``home-RUN``),
    killed at ``fault`` when given; ``no_exchange`` makes publish take its two-rename fallback."""
    env = {k: v for k, v in os.environ.items() if k != "WEBTUNE_FAULT"}
    env.update({"PYTHONPATH": os.pathsep.join([str(Path(webtune_package.__file__).parents[1]), str(ROOT)]),
                "PYTHONHASHSEED": "0",  # peft lists target modules in set order
                "HF_HUB_OFFLINE": "1", "WEBTUNE_HOME": str(root / f"home-{run}"), "COLUMNS": "200"})
    if fault:
        env["WEBTUNE_FAULT"] = fault
    command = [sys.executable, "-m", "tests.faults.runner", *(["--no-exchange"] if no_exchange else []),
               *args, "--run-dir", f"runs/{run}"]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    if fault:
        assert done.returncode == KILLED, f"{fault} was never reached:\n{done.stderr[-3000:]}"
    return done


def side_names(folder: Path) -> list[str]:
    """Temporary and set-aside entries (``.name.tmp-*``, ``.name.old-*``, ``.tmp-*``) in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and "-" in p.name
                  and (".tmp-" in p.name or ".old-" in p.name or p.name.startswith(".tmp-")))


def test_a_run_killed_in_every_stage_reruns_to_the_outputs_of_an_unkilled_run(project):
    run = project / "runs" / "k"
    registry = ModelRegistry(project / "home-k" / "registry")
    models = registry.model_dir("kills")

    webtune(project, "k", "run", "pipeline.yaml", fault="stage.before_publish")
    assert not (run / "collect").exists() and side_names(run)  # the finished, unpublished output
    webtune(project, "k", "run", "pipeline.yaml", fault="stage.after_publish:2")
    assert (run / "clean" / "manifest.json").is_file() and not side_names(run)
    assert (run / ".work" / "clean").is_dir()  # killed before its work dir was cleared

    webtune(project, "k", "run", "pipeline.yaml", fault="stage.before_publish")
    assert not (run / "dataset").exists() and not (run / ".work" / "clean").exists()  # skipped, cleared

    webtune(project, "k", "run", "pipeline.yaml", fault="train.checkpoint_saved:2")
    assert json.loads((run / ".work/train/checkpoints/latest.json").read_text())["step"] == 2
    assert not (run / "train").exists()
    # Resumed from step 2, killed half-way through writing step 3's checkpoint: step 2 stays the latest.
    webtune(project, "k", "run", "pipeline.yaml", fault="train.checkpoint_writing")
    assert json.loads((run / ".work/train/checkpoints/latest.json").read_text())["step"] == 2
    assert list((run / ".work/train/checkpoints").glob(".step-3.tmp-*"))
    # Training resumes by default (and publishes); evaluate is killed before publishing.
    resumed = webtune(project, "k", "run", "pipeline.yaml", fault="stage.before_publish:2")
    assert "resuming from step-2" in resumed.stderr
    assert (run / "train" / "manifest.json").is_file() and not (run / "evaluate").exists()

    webtune(project, "k", "run", "pipeline.yaml", fault="register.copying")  # half-way through the copy
    assert sorted(p.is_dir() for p in models.glob(".tmp-*")) == [False, True]  # the copy, its lock
    webtune(project, "k", "run", "pipeline.yaml", fault="register.before_rename")
    assert len(list(models.glob(".tmp-*"))) == 2  # the stale one was swept, a new one left
    webtune(project, "k", "run", "pipeline.yaml", fault="register.after_rename")
    assert registry.version_numbers("kills") == [1] and not (run / "register").exists()
    webtune(project, "k", "run", "pipeline.yaml", fault="register.after_promote")
    assert registry.production("kills") == 1

    done = webtune(project, "k", "run", "pipeline.yaml")
    assert done.returncode == 0, done.stderr
    assert registry.version_numbers("kills") == [1] and registry.production("kills") == 1
    events = [e["event"] for e in registry.state("kills")["events"]]
    assert events == ["register", "promote"]
    assert not list(models.glob(".tmp-*")) and not side_names(run)
    assert not (run / ".work").exists() or not any((run / ".work").iterdir())  # clean's too
    assert differences(snapshot(project / "runs" / "base"), snapshot(run)) == []


def test_publish_killed_mid_swap_keeps_one_whole_output(project):
    shutil.copytree(project / "runs" / "base", project / "runs" / "p")
    run, again = project / "runs" / "p", ("run", "pipeline.yaml", "--from", "clean", "--to", "clean")

    # The fallback, killed between its renames: the old output aside, the new one not yet in
    # place (under its temporary name), none at runs/p/clean...
    webtune(project, "p", *again, fault="publish.between_renames", no_exchange=True)
    assert not (run / "clean").exists()
    assert [name[:11] for name in side_names(run)] == [".clean.old-", ".clean.tmp-"]
    # ...and the next start puts it back: unchanged, so nothing reruns.
    back = webtune(project, "p", "run", "pipeline.yaml", "--to", "clean")
    assert back.returncode == 0, back.stderr
    assert back.stderr.count("unchanged, skipped") == 2 and not side_names(run)
    assert differences(snapshot(project / "runs" / "base", ("clean",)), snapshot(run, ("clean",))) == []

    # Killed after the exchange (the old output under the temporary name) or after the
    # fallback's second rename (the old one still aside): the new output is in place.
    for no_exchange in (False, True):
        webtune(project, "p", *again, fault="publish.after_swap", no_exchange=no_exchange)
        assert (run / "clean" / "manifest.json").is_file() and len(side_names(run)) == 1
    done = webtune(project, "p", "run", "pipeline.yaml", "--to", "clean")
    assert done.returncode == 0 and done.stderr.count("unchanged, skipped") == 2, done.stderr
    assert not side_names(run)
    assert differences(snapshot(project / "runs" / "base", ("collect", "clean")),
                       snapshot(run, ("collect", "clean"))) == []
