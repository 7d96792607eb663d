"""A core-only install (`pip install webtune`, no extras) runs the CLI and names missing extras in one line.

The core-only runs happen in a subprocess where every non-core distribution fails to import
(see tests/core/core_only.py); they would fail on a module-level `import numpy` anywhere in
what the CLI or a pipeline file loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Literal

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import create_model

from webtune.errors import ConfigError
from webtune.extras import OPTIONAL_MODULES, MissingExtraError, Needs, missing_extra_error, require
from webtune.plugins import Registry

ROOT = Path(__file__).resolve().parents[2]
CORE_ONLY = Path(__file__).with_name("core_only.py")
EXAMPLE_PIPELINES = sorted(ROOT.glob("examples/**/pipeline*.yaml"))


def core_only(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "WEBTUNE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, str(CORE_ONLY), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)  # a bound on a hang, not a speed test


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The stderr error of a failed run, checked to be one line and no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.mark.parametrize("args", [["--help"], ["doctor"], ["schema"]], ids=["help", "doctor", "schema"])
def test_core_only_commands_work(args, tmp_path):
    proc = core_only("cli", *args, cwd=tmp_path, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if args == ["doctor"]:  # the simulation is real: torch cannot be imported
        assert "torch not installed" in proc.stdout


def test_core_only_loads_every_example_pipeline(tmp_path):
    assert EXAMPLE_PIPELINES, "no example pipelines found"
    code = "\n".join([
        "import importlib.util",
        "try:",
        "    import numpy",
        "except ModuleNotFoundError:",
        "    pass",
        "else:",
        "    raise SystemExit('numpy imported: the core-only simulation is off')",
        "from webtune.config import load_pipeline",
        "import webtune.pipeline",  # every stage module, as `webtune run` imports them
        *[f"load_pipeline({str(p)!r})" for p in EXAMPLE_PIPELINES],
        "print('loaded', len(" + repr([str(p) for p in EXAMPLE_PIPELINES]) + "))",
    ])
    proc = core_only("code", code, cwd=tmp_path, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert f"loaded {len(EXAMPLE_PIPELINES)}" in proc.stdout


def _pipeline(tmp_path: Path, text: str) -> Path:
    (tmp_path / "docs.jsonl").write_text('{"text": "one two three four"}\n{"text": "five six seven eight"}\n')
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"name: core-only\nrun_dir: runs\nsources:\n  - kind: files\n    paths: [docs.jsonl]\n{text}")
    return path


def test_core_only_stage_missing_its_extra_stops_with_one_line(tmp_path):
    pipeline = _pipeline(tmp_path, "clean:\n  steps:\n    - step: length\n      min_words: 1\n    - step: dedup\n")
    proc = core_only("cli", "run", str(pipeline), cwd=tmp_path, home=tmp_path / "home")
    line = one_error_line(proc)
    assert line == "error: clean step 'dedup' needs numpy, datasketch: pip install 'webtune[clean]'"
    assert (tmp_path / "runs" / "collect" / "documents.jsonl").is_file()  # collect needs no extra


def test_core_only_undeclared_optional_import_is_one_line_too(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a b c"]}), tmp_path / "docs.parquet")
    (tmp_path / "p.yaml").write_text("name: pq\nrun_dir: runs\nsources:\n  - kind: files\n    paths: [docs.parquet]\n")
    proc = core_only("cli", "collect", "-p", "p.yaml", cwd=tmp_path, home=tmp_path / "home")
    assert one_error_line(proc) == "error: webtune collect needs pyarrow: pip install 'webtune[collect]'"


def test_core_only_backends_name_their_extra(tmp_path):
    code = "\n".join([
        "from webtune.errors import WebtuneError",
        "from webtune.train.backends import TRAINERS",
        "from webtune.evaluate.metrics import METRICS",
        "from webtune.collect.sources import SOURCES",
        "for registry, name in ((TRAINERS, 'local'), (TRAINERS, 'openai'), (METRICS, 'rouge_l'),"
        " (SOURCES, 'crawl')):",
        "    try:",
        "        registry.get(name)",
        "    except WebtuneError as exc:",
        "        print(exc)",
        "METRICS.get('exact_match')",  # a backend without extra needs still loads
    ])
    proc = core_only("code", code, cwd=tmp_path, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "train backend 'local' needs torch, transformers, peft, accelerate: pip install 'webtune[train]'",
        "train backend 'openai' needs openai: pip install 'webtune[hosted]'",
        "evaluate metric 'rouge_l' needs rouge_score: pip install 'webtune[evaluate]'",
        "collect source 'crawl' needs lxml, protego: pip install 'webtune[collect]'",
    ]


# ------------------------------------------------------------------ the helper itself

def test_require_names_only_the_missing_modules():
    require("x", "clean", "json", "os")  # stdlib: present
    with pytest.raises(MissingExtraError) as err:
        require("clean step 'demo'", "clean", "json", "no_such_module_xyz", "no.such.pkg")
    assert str(err.value) == ("clean step 'demo' needs no_such_module_xyz, no.such.pkg: "
                              "pip install 'webtune[clean]'")


def test_registry_checks_needs_when_a_backend_is_fetched():
    reg = Registry("widget", label="demo widget")

    def config(name):  # every backend has a Config tagged with its name (webtune.plugins)
        return create_model(f"{name}Config", widget=(Literal[name], name))

    @reg.register("heavy")
    class Heavy:
        Config = config("heavy")
        needs = Needs("train", "no_such_module_xyz")

    @reg.register("light")
    class Light:
        Config = config("light")

    assert reg.get("light") is Light
    assert reg.names() == ["heavy", "light"]  # listing never checks: config loading stays core-only
    with pytest.raises(MissingExtraError, match=r"^demo widget 'heavy' needs no_such_module_xyz: "
                                                r"pip install 'webtune\[train\]'$"):
        reg.get("heavy")
    with pytest.raises(ConfigError):
        reg.get("nope")


def test_missing_extra_error_only_for_known_optional_modules():
    err = missing_extra_error(ModuleNotFoundError("No module named 'torch.nn'", name="torch.nn"), "webtune train")
    assert str(err) == "webtune train needs torch: pip install 'webtune[train]'"
    assert missing_extra_error(ModuleNotFoundError("x", name="webtune.nope"), "webtune run") is None


def test_optional_modules_match_pyproject_extras():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, (dist, extra) in OPTIONAL_MODULES.items():
        names = {canonicalize_name(Requirement(r).name) for r in extras[extra]}
        assert canonicalize_name(dist) in names, f"{module}: {dist} is not in the [{extra}] extra"
