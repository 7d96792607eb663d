"""The stage contract: every stage is a function from input stores to an output store.

A stage function takes a `StageContext` and returns a `StageResult`:

    def run_clean(ctx: StageContext) -> StageResult:
        for doc in read_jsonl(ctx.input("collect") / "documents.jsonl"): ...
        ctx.rejects.write(Reject(...))
        return StageResult(counts=Counts(seen=n, kept=k, rejected=r))

`run_stage` does the rest, the same way for every stage:

* it fingerprints the stage's inputs (content hashes) and config, and skips the
  stage when an earlier complete run had the same fingerprint;
* it gives the function a fresh temporary output directory and publishes it as
  ``<run_dir>/<stage>/`` only when the function returns, so an interrupted stage
  leaves nothing a later run would trust;
* it writes ``manifest.json`` (a `webtune.handoffs.Manifest`: inputs with hashes, config,
  counts, timings, library versions) and checks that ``in == kept + rejected``;
* the function sees its own config section (``ctx.config``), the pipeline-wide settings
  its `StageSpec` declares (``ctx.shared``) and its inputs: exactly what the fingerprint
  covers, never the whole pipeline;
* ``<run_dir>/.work/<stage>/`` survives between attempts, for resume state such as a
  Bright Data snapshot id, an OpenAI job id or training checkpoints; it is cleared only
  after the stage's output is published (but for what the stage lists in
  ``StageResult.keep_work``), so a stage that fails half-way keeps everything done so far.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import os
import platform
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel
from rich.console import Console

import webtune
from webtune import faults
from webtune.errors import InputError
from webtune.handoffs import Counts, FileEntry, InputRef, Manifest
from webtune.jsonl import JsonlWriter
from webtune.records import canonical_json, utc_now

MANIFEST = Manifest.FILE
REJECTS = "rejects.jsonl"
KEY_LIBRARIES = (
    "torch", "transformers", "peft", "accelerate", "datasets", "trafilatura",
    "datasketch", "openai", "httpx", "pydantic",
)
_SECRET_KEY = re.compile(r"(token|secret|password|api_?key)$", re.IGNORECASE)


@dataclass
class StageResult:
    """What a stage function reports back: its counts and any stage-specific figures."""

    counts: Counts = field(default_factory=Counts)
    stats: dict[str, Any] = field(default_factory=dict)
    # Names in ``ctx.work_dir`` that outlive publishing: state that costs money to redo (a
    # hosted job's id and uploads, teacher answers). The rest of the work dir is cleared.
    keep_work: tuple[str, ...] = ()


@dataclass
class StageContext:
    """Everything a stage function may use. Stages never look at each other's internals.

    ``config`` (the stage's section) and ``shared`` (the pipeline-wide settings its
    `StageSpec` declares, such as ``base_model`` and ``seed``) are all the settings a stage
    gets: both are part of its fingerprint. What another stage decided comes from that
    stage's output (e.g. `webtune.handoffs.TrainResult`), never from its config.
    """

    stage: str
    run_dir: Path
    output_dir: Path
    work_dir: Path
    inputs: dict[str, Path]
    config: Any
    shared: dict[str, Any] = field(default_factory=dict)
    console: Console = field(default_factory=lambda: Console(stderr=True))
    force: bool = False
    # The stage's fingerprint (config, shared settings and inputs): an identity for what it makes.
    fingerprint: str = ""
    _rejects: JsonlWriter | None = None

    def input(self, name: str) -> Path:
        """The published directory of input ``name`` (usually a previous stage)."""
        if name not in self.inputs:
            raise InputError(f"{self.stage}: needs the output of '{name}', which was not given")
        return self.inputs[name]

    @property
    def rejects(self) -> JsonlWriter:
        """The stage's ``rejects.jsonl``, opened on first use."""
        if self._rejects is None:
            self._rejects = JsonlWriter(self.output_dir / REJECTS)
        return self._rejects

    def close(self, ok: bool) -> None:
        if self._rejects is not None:
            self._rejects.close(ok=ok)


StageFn = Callable[[StageContext], StageResult]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so memory stays flat."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder: Path) -> str:
    """One sha256 over every file under ``folder``: each relative path and its content, in path order.

    Two folders with the same digest hold the same files (weights, adapter config); a renamed
    file changes it too. The registry's ``weights_sha256``; the train stage's fingerprint of a
    starting adapter or model.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def describe_files(root: Path, relative_to: Path | None = None) -> list[dict[str, Any]]:
    """Path, size and SHA-256 of ``root`` (a file) or of every file under it (a directory)."""
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: not found")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    base = relative_to or (root if root.is_dir() else root.parent)
    out = []
    for path in files:
        if path.name == MANIFEST and path.parent == root:
            continue
        try:
            shown = str(path.relative_to(base))
        except ValueError:
            shown = str(path)
        out.append({"path": shown, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return out


def library_versions() -> dict[str, str]:
    """Versions of Python, webtune and the key libraries that are installed."""
    found = {"python": platform.python_version(), "webtune": webtune.__version__}
    for name in KEY_LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def redact_secrets(obj: Any) -> Any:
    """A copy of a config with values of keys that look like secrets replaced by '***'."""
    if isinstance(obj, dict):
        return {
            k: ("***" if isinstance(v, str) and v and _SECRET_KEY.search(str(k)) else redact_secrets(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [redact_secrets(v) for v in obj]
    return obj


def config_to_json(config: Any) -> Any:
    """A JSON-able, secret-free view of a stage config (a pydantic model, dict or None)."""
    if isinstance(config, BaseModel):
        config = config.model_dump(mode="json")
    return redact_secrets(config)


def outputs_changed(stage_dir: Path, manifest: Manifest) -> list[dict[str, Any]] | None:
    """The current files of a published stage when they differ from what its manifest lists.

    Cheap first: the same file names and sizes, none modified after the manifest was written,
    means unchanged (publishing renames the directory, which keeps the files' times). Only
    when that check fails are the files hashed, so a copied run directory (new times, same
    bytes) still counts as unchanged. None: unchanged.
    """
    listed = {o.path: o for o in manifest.outputs}
    written = (stage_dir / MANIFEST).stat().st_mtime_ns
    files = [p for p in sorted(stage_dir.rglob("*")) if p.is_file() and p != stage_dir / MANIFEST]
    names = {str(p.relative_to(stage_dir)) for p in files}
    if names == set(listed) and all(
            p.stat().st_size == listed[str(p.relative_to(stage_dir))].bytes
            and p.stat().st_mtime_ns <= written for p in files):
        return None
    current = describe_files(stage_dir)
    return None if current == [o.model_dump() for o in manifest.outputs] else current


def input_description(inputs: dict[str, Path], external: list[Path],
                      console: Console | None = None) -> list[dict[str, Any]]:
    """Describe a stage's inputs: published stages by their manifest, files by their hash.

    A published stage whose files were changed by hand after it wrote them is described by
    the files' hashes instead, so the stages after it run again.
    """
    described = []
    for name, path in sorted(inputs.items()):
        manifest = read_manifest(path)
        edited = outputs_changed(path, manifest) if manifest is not None else None
        if manifest is not None and edited is None:
            described.append({"stage": name, "path": str(path), "fingerprint": manifest.fingerprint,
                              "outputs": [o.model_dump() for o in manifest.outputs]})
        else:
            if edited is not None and console is not None:
                console.print(f"[yellow]{path}: changed since the {name} stage wrote it; "
                              "its files are fingerprinted by content[/yellow]")
            described.append({"stage": name, "path": str(path), "files": edited or describe_files(path)})
    for path in external:
        described.append({"path": str(path), "files": describe_files(path)})
    return described


def fingerprint(stage: str, config_json: Any, inputs: list[dict[str, Any]]) -> str:
    """A hash of everything that decides a stage's output: its name, config and inputs."""
    stable_inputs = [{k: v for k, v in item.items() if k != "path"} for item in inputs]
    return hashlib.sha256(canonical_json([stage, config_json, stable_inputs]).encode()).hexdigest()


def read_manifest(stage_dir: Path) -> Manifest | None:
    """The manifest of a published, complete stage directory; None when there is none.

    An unreadable or incomplete manifest counts as none: the stage is not trusted and runs
    again. (`Manifest.read` is the strict reader, with an error naming the file.)
    """
    path = Path(stage_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.read(path)
    except (OSError, InputError):
        return None


_SIDE_NAME = re.compile(r"^\.(.+)\.(tmp|old)-[0-9a-f]+$")
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def recover_outputs(parent: Path, remove_temporary: bool = True) -> list[Path]:
    """Undo what a kill in the middle of publishing left in ``parent``; return the restored outputs.

    ``.<stage>.old-*`` is a published output moved aside by `publish`'s fallback: when the kill
    came before the new output took its place, it is renamed back (so the stage keeps its
    earlier output), otherwise it is removed. ``.<stage>.tmp-*`` (the output of a killed stage,
    or an old output swapped out) is removed when ``remove_temporary``.
    """
    restored: list[Path] = []
    if not parent.is_dir():
        return restored
    for path in sorted(parent.iterdir()):
        match = _SIDE_NAME.match(path.name)
        if not match or not path.is_dir():
            continue
        final = parent / match.group(1)
        if match.group(2) == "old" and not final.exists():
            os.replace(path, final)
            restored.append(final)
        elif match.group(2) == "old" or remove_temporary:
            shutil.rmtree(path, ignore_errors=True)
    return restored


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """glibc's ``renameat2`` (Linux 3.15+, glibc 2.28+), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:
        return None


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the OS or file system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # a file system without RENAME_EXCHANGE (some network ones): the fallback
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def publish(tmp_dir: Path, final_dir: Path) -> None:
    """Move a finished output directory into place, replacing an older one.

    At every instant ``final_dir`` holds the old or the new output: the two are exchanged in
    one atomic rename (``renameat2(RENAME_EXCHANGE)``), and the old one, now under the
    temporary name, is removed. Where that is not available the old output is first renamed
    aside (``.<name>.old-*``); a kill before the second rename leaves it there, and
    `recover_outputs`, run when any stage of the run starts next, moves it back.
    """
    if not final_dir.exists():
        os.replace(tmp_dir, final_dir)
        return
    if exchange(tmp_dir, final_dir):
        faults.point("publish.after_swap")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        return
    old = final_dir.with_name(f".{final_dir.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(final_dir, old)
    faults.point("publish.between_renames")
    os.replace(tmp_dir, final_dir)
    faults.point("publish.after_swap")
    shutil.rmtree(old, ignore_errors=True)


def clear_work_dir(work_dir: Path, keep: tuple[str, ...] = ()) -> None:
    """Remove a published stage's resume state: everything in ``work_dir`` but the paths in ``keep``
    (relative to ``work_dir``; ``source-0-brightdata/brightdata.json`` keeps that file alone)."""
    if not work_dir.is_dir():
        return
    inner: dict[str, list[str]] = {}
    for name in keep:
        head, _, rest = name.partition("/")
        inner.setdefault(head, []).append(rest)
    for path in work_dir.iterdir():
        kept = inner.get(path.name)
        if kept is not None and "" in kept:
            continue
        if path.is_dir() and not path.is_symlink():
            if kept:
                clear_work_dir(path, tuple(kept))
            else:
                shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if not any(work_dir.iterdir()):
        work_dir.rmdir()


def run_stage(
    stage: str,
    fn: StageFn,
    *,
    run_dir: Path,
    config: Any,
    inputs: dict[str, Path] | None = None,
    external_inputs: list[Path] | None = None,
    output_dir: Path | None = None,
    force: bool = False,
    console: Console | None = None,
    shared: dict[str, Any] | None = None,
) -> Manifest:
    """Run one stage with the contract above and return its manifest.

    ``output_dir`` defaults to ``run_dir/stage``. The stage is skipped (and its existing
    manifest returned with ``skipped`` set) when its fingerprint is unchanged.
    ``shared`` holds pipeline-wide settings the stage depends on (base model, seed); they
    are part of the fingerprint and the manifest, and the function gets them as ``ctx.shared``.
    """
    console = console or Console(stderr=True)
    run_dir = Path(run_dir)
    final_dir = Path(output_dir) if output_dir else run_dir / stage
    inputs = {k: Path(v) for k, v in (inputs or {}).items()}
    # First put back any output a kill in the middle of publishing left aside, so the inputs
    # are read (and this stage's own output checked) where they belong.
    for parent in {run_dir, final_dir.parent}:
        recover_outputs(parent)
    for parent in {path.parent for path in inputs.values()}:
        recover_outputs(parent, remove_temporary=False)
    config_json = config_to_json(config)
    if shared:
        config_json = {"shared": redact_secrets(shared), "stage": config_json}
    described_inputs = input_description(inputs, [Path(p) for p in external_inputs or []], console)
    stage_fingerprint = fingerprint(stage, config_json, described_inputs)

    existing = read_manifest(final_dir)
    work_dir = run_dir / ".work" / stage
    if not force and existing and existing.fingerprint == stage_fingerprint:
        console.print(f"[dim]{stage}: unchanged, skipped ({final_dir})[/dim]")
        if existing.keep_work is not None:
            # Killed after publishing, before clearing: the resume state is worth nothing now.
            clear_work_dir(work_dir, keep=tuple(existing.keep_work))
        return existing.model_copy(update={"skipped": True})

    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = final_dir.with_name(f".{final_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp_dir.mkdir()
    work_dir.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(stage=stage, run_dir=run_dir, output_dir=tmp_dir, work_dir=work_dir,
                       inputs=inputs, config=config, shared=dict(shared or {}), console=console,
                       force=force, fingerprint=stage_fingerprint)
    started, t0 = utc_now(), time.perf_counter()
    try:
        result = fn(ctx)
        ctx.close(ok=True)
        result.counts.check(stage)
        manifest = Manifest(
            stage=stage, fingerprint=stage_fingerprint, run_dir=str(run_dir), config=config_json,
            inputs=[InputRef.model_validate(item) for item in described_inputs],
            outputs=[FileEntry.model_validate(item) for item in describe_files(tmp_dir)],
            counts=result.counts, stats=result.stats, started_at=started, finished_at=utc_now(),
            duration_s=round(time.perf_counter() - t0, 3), versions=library_versions(),
            keep_work=sorted(result.keep_work),
        )
        manifest.write(tmp_dir / MANIFEST)
        faults.point("stage.before_publish")
        publish(tmp_dir, final_dir)
    except BaseException:
        # Ctrl-C, kill or an error: drop the partial output, keep the earlier result intact
        # and the resume state in the work dir for the next attempt.
        ctx.close(ok=False)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    faults.point("stage.after_publish")
    # Only now is the resume state worth nothing: the output it led to is published.
    clear_work_dir(work_dir, keep=tuple(result.keep_work))
    return manifest
