"""The model registry: version numbers, aliases, promotion stack, rollback, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from webtune.errors import ConfigError, InputError
from webtune.registry.store import ModelRegistry, parse_reference


def artifact(tmp_path, text="weights"):
    folder = tmp_path / f"art-{text}"
    folder.mkdir()
    (folder / "adapter_model.safetensors").write_text(text)
    return folder


def test_versions_are_numbered_and_hold_a_copy(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    src = artifact(tmp_path, "one")
    first = reg.register("copy", {"kind": "adapter"}, src)
    second = reg.register("copy", {"kind": "adapter"}, artifact(tmp_path, "two"))
    assert (first.version, second.version) == (1, 2)
    src.joinpath("adapter_model.safetensors").unlink()  # the registry does not depend on the source
    assert (tmp_path / "reg/copy/v1/artifact/adapter_model.safetensors").read_text() == "one"
    assert reg.names() == ["copy"]
    assert reg.resolve("copy") == 2  # nothing promoted yet: the latest
    assert reg.resolve("copy", "1") == reg.resolve("copy", "v1") == 1
    assert [e["event"] for e in reg.state("copy")["events"]] == ["register", "register"]


def test_promote_and_rollback_follow_the_promotion_stack(tmp_path):
    reg = ModelRegistry(tmp_path)
    for text in "abc":
        reg.register("m", {"kind": "adapter"}, artifact(tmp_path, text))
    reg.promote("m", 1)
    reg.promote("m", 3)
    assert reg.production("m") == 3 and reg.get("m").version == 3
    assert reg.get("m", 3).aliases == ["production"]
    reg.rollback("m")
    assert reg.production("m") == 1
    with pytest.raises(InputError, match="nothing to roll back to"):
        reg.rollback("m")
    reg.promote("m", 2)
    reg.promote("m", 2)  # promoting the production version again changes nothing
    reg.rollback("m")
    assert reg.production("m") == 1
    events = [(e["event"], e["version"]) for e in reg.state("m")["events"] if e["event"] != "register"]
    assert events == [("promote", 1), ("promote", 3), ("rollback", 1), ("promote", 2), ("promote", 2),
                      ("rollback", 1)]


def test_unknown_names_versions_and_aliases_are_clear_errors(tmp_path):
    reg = ModelRegistry(tmp_path)
    reg.register("m", {"kind": "hosted", "model_id": "ft:x"})
    with pytest.raises(InputError, match="no version 7 \\(versions: 1\\)"):
        reg.get("m", 7)
    with pytest.raises(InputError, match="no version or alias 'staging'"):
        reg.get("m", "staging")
    with pytest.raises(InputError, match="no model 'other'.*registered: m"):
        reg.get("other")
    with pytest.raises(ConfigError, match="NAME@VERSION"):
        parse_reference("bad name@1")
    with pytest.raises(InputError, match="^version record of m: kind: "):
        reg.register("m", {"model_id": "ft:y"})  # no kind: refused before anything is stored
    assert reg.version_numbers("m") == [1]
    assert parse_reference("m@production") == ("m", "production")


def test_concurrent_registers_get_distinct_complete_versions(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    sources = [artifact(tmp_path, str(i)) for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        stored = list(pool.map(lambda s: ModelRegistry(tmp_path / "reg").register(
            "m", {"kind": "adapter", "description": s.name}, s), sources))
    assert sorted(v.version for v in stored) == list(range(1, 9))
    for v in stored:  # each version holds the artifact of the register that got its number
        folder = tmp_path / "reg" / "m" / f"v{v.version}"
        assert json.loads((folder / "version.json").read_text())["description"] == v.description
        assert (folder / "artifact/adapter_model.safetensors").read_text() == v.description.removeprefix("art-")
    assert not [p for p in (tmp_path / "reg/m").iterdir() if p.name.startswith(".tmp")]
    assert len(reg.state("m")["events"]) == 8


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from webtune.registry.store import ModelRegistry

root, log = Path(sys.argv[1]), Path(sys.argv[2])
with ModelRegistry(root).lock("m"):
    with open(log, "a") as fh:
        fh.write(f"start {time.monotonic()}\\n")
    time.sleep(0.4)
    with open(log, "a") as fh:
        fh.write(f"end {time.monotonic()}\\n")
"""


def test_two_processes_serialise_on_the_registry_lock(tmp_path):
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    log = tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "reg"), str(log)], env=env)
             for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    events = [line.split() for line in log.read_text().splitlines()]
    # One holder at a time: start, end, start, end; the second starts after the first ended.
    assert [kind for kind, _ in events] == ["start", "end", "start", "end"]
    assert float(events[2][1]) >= float(events[1][1])


def test_the_same_identity_registers_once_and_completes_its_history(tmp_path):
    reg = ModelRegistry(tmp_path)
    first = reg.register("same", {"kind": "adapter"}, artifact(tmp_path), identity="abc")
    # A kill after the version was renamed into place, before its event was recorded.
    state = reg.state("same")
    state["events"] = []
    reg._write_state("same", state)
    again = reg.register("same", {"kind": "adapter"}, artifact(tmp_path, "other"), identity="abc")
    assert (first.version, again.version, reg.version_numbers("same")) == (1, 1, [1])
    assert again.identity == "abc" and reg.find_identity("same", "abc") == 1
    assert [e["event"] for e in reg.state("same")["events"]] == ["register"]
    assert reg.register("same", {"kind": "adapter"}, artifact(tmp_path, "new"), identity="xyz").version == 2
    assert reg.register("same", {"kind": "adapter"}, artifact(tmp_path, "anon")).version == 3


def test_concurrent_registers_of_one_identity_make_one_version(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    src = artifact(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(lambda _: reg.register("one", {"kind": "adapter"}, src, identity="i").version,
                                range(4)))
    assert numbers == [1, 1, 1, 1] and reg.version_numbers("one") == [1]
    assert not list(reg.model_dir("one").glob(".tmp-*"))


def test_stale_temporaries_are_swept_and_live_ones_kept(tmp_path):
    from filelock import FileLock

    reg = ModelRegistry(tmp_path)
    folder = reg.model_dir("sweep")
    (folder / ".tmp-dead" / "artifact").mkdir(parents=True)  # a register killed mid-copy
    (folder / ".tmp-dead.lock").touch()
    (folder / ".tmp-gone.lock").touch()  # killed between its lock and its directory
    (folder / ".tmp-live").mkdir()
    live = FileLock(folder / ".tmp-live.lock")  # a register still copying, in another thread
    live.acquire()
    try:
        reg.register("sweep", {"kind": "adapter"}, artifact(tmp_path))
        assert sorted(p.name for p in folder.glob(".tmp-*")) == [".tmp-live", ".tmp-live.lock"]
    finally:
        live.release()
    reg.register("sweep", {"kind": "adapter"}, artifact(tmp_path, "2"))
    assert not list(folder.glob(".tmp-*"))
