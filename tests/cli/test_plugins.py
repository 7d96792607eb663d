"""A real plugin package, installed editable into a throwaway virtualenv, used from a pipeline file.

The plugin (tests/plugins/webtune_hello, a clean step `shout`) is copied to a temporary folder
and ``pip install --no-deps --no-build-isolation --no-index -e`` installs it into a new
virtualenv that sees this environment's packages through a ``.pth`` file; the project's own
environment is never changed. A second, broken plugin is installed next to it: it must cost one
warning line, not the commands.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from typer.testing import CliRunner

from webtune.cli.main import app

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "tests" / "plugins" / "webtune_hello"
BROKEN_ENTRY_POINT = "webtune.steps: broken = webtune_broken_missing:Step"
BIN = "Scripts" if os.name == "nt" else "bin"


def make_venv(where: Path) -> Path:
    """A virtualenv whose interpreter also sees the packages of the one running the tests."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / BIN / "python"
    site_packages = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip()
    # `import site` lines of a .pth run at start-up: this environment's packages (and their .pth files).
    shared = sysconfig.get_paths()["purelib"]
    (Path(site_packages) / "_webtune_test_shared.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
    return Path(site_packages)


def install_broken_plugin(site_packages: Path) -> None:
    """A distribution whose entry point names a module that does not exist."""
    info = site_packages / "webtune_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: webtune-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[webtune.steps]\nbroken = webtune_broken_missing:Step\n")


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory) -> Path:
    """The python of a virtualenv holding webtune-hello (editable) and a broken plugin."""
    root = tmp_path_factory.mktemp("plugin-env")
    source = root / "webtune_hello"
    shutil.copytree(PLUGIN, source)  # the build writes egg-info next to the sources: not into the repo
    site_packages = make_venv(root / "venv")
    python = root / "venv" / BIN / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--disable-pip-version-check", "-e", str(source)], check=True)
    install_broken_plugin(site_packages)
    return python


def webtune(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(python), "-m", "webtune.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_plugin_clean_step_runs_from_a_pipeline_file(plugin_python, tmp_path):
    (tmp_path / "docs.jsonl").write_text(
        '{"body": "hello there friend, how are you today"}\n'
        '{"body": "please whisper this quietly to nobody"}\n'
        '{"body": "another ordinary line of plain words"}\n')
    (tmp_path / "pipeline.yaml").write_text(
        "name: hello\n"
        "sources: [{kind: files, paths: [docs.jsonl], fields: {text: body}}]\n"
        "clean:\n"
        "  workers: 2\n"
        "  batch_size: 1\n"  # one document per batch: the worker processes load the plugin too
        "  steps:\n"
        "    - step: shout\n"
        "      reject_word: whisper\n")
    result = webtune(plugin_python, "run", "pipeline.yaml", "--to", "clean", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    warnings = [line for line in result.stderr.splitlines() if "webtune: warning:" in line]
    assert len(warnings) == 1 and BROKEN_ENTRY_POINT in warnings[0] and "ModuleNotFoundError" in warnings[0]

    clean = tmp_path / "runs" / "hello" / "clean"
    texts = [json.loads(line)["text"] for line in (clean / "documents.jsonl").read_text().splitlines()]
    assert texts == ["HELLO THERE FRIEND, HOW ARE YOU TODAY", "ANOTHER ORDINARY LINE OF PLAIN WORDS"]
    rejects = [json.loads(line) for line in (clean / "rejects.jsonl").read_text().splitlines()]
    assert [(r["step"], r["reason"], r["value"]) for r in rejects] == [("shout", "contains_word", "whisper")]
    manifest = json.loads((clean / "manifest.json").read_text())
    assert manifest["counts"] == {"in": 3, "kept": 2, "rejected": 1}
    assert manifest["stats"]["steps"]["shout"]["shouted"] == 2


def test_a_bad_option_of_the_plugin_step_names_its_line_and_key(plugin_python, tmp_path):
    (tmp_path / "pipeline.yaml").write_text("name: hello\nclean:\n  steps:\n    - step: shout\n"
                                            "      reject_words: [whisper]\n")
    result = webtune(plugin_python, "clean", "--pipeline", "pipeline.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "pipeline.yaml:5: clean.steps.0.reject_words: unknown key" in result.stderr


def test_webtune_plugins_lists_the_plugin_and_where_it_came_from(plugin_python, tmp_path):
    result = webtune(plugin_python, "plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    shout = next(line for line in lines if line.strip().startswith("shout "))
    assert shout.split(None, 1)[1] == "webtune-hello 0.1.0 (webtune.steps: shout = webtune_hello:Shout)"
    assert any(line.strip().startswith("length ") and "built-in (webtune.clean.steps.length)" in line
               for line in lines)
    assert lines[-1].startswith("failed: plugin webtune-broken 0.1 (" + BROKEN_ENTRY_POINT)

    schema = webtune(plugin_python, "schema", cwd=tmp_path)
    assert '"shout": "#/$defs/ShoutConfig"' in schema.stdout and '"reject_word"' in schema.stdout


def test_webtune_plugins_lists_every_builtin_by_kind_here():
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    backends = {(row["kind"], row["name"]): row["origin"] for row in listed["backends"]}
    assert backends[("source", "files")] == "built-in (webtune.collect.sources.files)"
    assert backends[("trainer", "openai")] == "built-in (webtune.train.backends.openai)"
    assert ("metric", "rouge_l") in backends and ("step", "dedup") in backends
    assert not any(name == "shout" for _, name in backends)  # the plugin is not installed here
