"""The model registry: numbered, immutable versions of a model, with aliases and a history.

Layout under the registry root (default ``$WEBTUNE_HOME/registry``)::

    <name>/
      v1/  version.json  artifact/      # a copy of the adapter or model: runs/ may be deleted
      v2/  ...
      state.json                        # aliases ({"production": 2}), promotion stack, events
      .lock                             # filelock: one writer at a time

A version directory appears complete or not at all (built under a temporary name, renamed
into place while holding the lock that also hands out the version number), and
``state.json`` is replaced atomically, so concurrent registers and promotions are safe.
A version built from the same inputs and settings (the register stage's fingerprint, its
``identity``) is registered once: a rerun after a kill returns it. A temporary directory
(``.tmp-*``) is marked in use by a held ``.tmp-*.lock``; one whose process is gone (a killed
register) is swept by the next register.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout
from pydantic import ValidationError

from webtune import faults
from webtune.errors import ConfigError, InputError
from webtune.handoffs import ExportRecord, RegistryVersion, validation_summary
from webtune.jsonl import atomic_write_json
from webtune.records import utc_now
from webtune.registry.config import NAME_PATTERN
from webtune.stage import tree_sha256

VERSION_FILE = RegistryVersion.FILE
STATE_FILE = "state.json"
ARTIFACT = "artifact"
PRODUCTION = "production"
_VERSION_DIR = re.compile(r"^v(\d+)$")


def default_registry_root() -> Path:
    """``$WEBTUNE_HOME/registry``."""
    from webtune.models import webtune_home

    return webtune_home() / "registry"


def parse_reference(text: str) -> tuple[str, str | None]:
    """``NAME[@VERSION]`` → (name, selector); the selector is a number, an alias or ``latest``."""
    name, _, selector = text.partition("@")
    if not re.match(NAME_PATTERN, name):
        raise ConfigError(f"{text!r}: expected NAME or NAME@VERSION (e.g. copywriter@3)")
    return name, (selector or None)


class ModelRegistry:
    """A registry directory holding versions of named models."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_registry_root()

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """Registered model names."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.version_numbers(p.name))

    def model_dir(self, name: str) -> Path:
        """The directory of model ``name`` (its versions, state and lock)."""
        return self.root / name

    def version_numbers(self, name: str) -> list[int]:
        """The complete versions of ``name``, ascending."""
        folder = self.model_dir(name)
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            match = _VERSION_DIR.match(path.name)
            if match and (path / VERSION_FILE).is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def state(self, name: str) -> dict[str, Any]:
        """Aliases, the stack of promoted versions and the event history of ``name``."""
        path = self.model_dir(name) / STATE_FILE
        if not path.is_file():
            return {"aliases": {}, "promoted": [], "events": []}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(f"{path}: unreadable registry state ({exc})") from None

    def production(self, name: str) -> int | None:
        """The version the ``production`` alias points at, if any."""
        return self.state(name)["aliases"].get(PRODUCTION)

    def resolve(self, name: str, selector: str | int | None = None) -> int:
        """The version number meant by ``selector``: a number, an alias, ``latest``, or None.

        None means ``production``, or the latest version when nothing was promoted yet.
        """
        numbers = self.version_numbers(name)
        if not numbers:
            known = ", ".join(self.names()) or "none yet"
            raise InputError(f"no model {name!r} in the registry {self.root} (registered: {known})")
        if selector is None:
            return self.production(name) or numbers[-1]
        text = str(selector).lstrip("v")
        if text.isdigit():
            if int(text) not in numbers:
                raise InputError(f"{name}: no version {text} (versions: {', '.join(map(str, numbers))})")
            return int(text)
        if selector == "latest":
            return numbers[-1]
        aliases = self.state(name)["aliases"]
        if selector not in aliases:
            raise InputError(f"{name}: no version or alias {selector!r} "
                             f"(aliases: {', '.join(sorted(aliases)) or 'none'})")
        return int(aliases[selector])

    def version_dir(self, name: str, version: int) -> Path:
        """The directory of version ``version`` of ``name``."""
        return self.model_dir(name) / f"v{version}"

    def get(self, name: str, selector: str | int | None = None) -> RegistryVersion:
        """The version record of ``name@selector``, with ``path`` (its directory) and ``aliases``."""
        number = self.resolve(name, selector)
        folder = self.version_dir(name, number)
        record = RegistryVersion.read(folder / VERSION_FILE)
        aliases = [a for a, v in self.state(name)["aliases"].items() if v == number]
        return record.model_copy(update={"path": str(folder), "aliases": aliases})

    def versions(self, name: str) -> list[RegistryVersion]:
        """Every version record of ``name``, oldest first."""
        return [self.get(name, n) for n in self.version_numbers(name)]

    # ------------------------------------------------------------------ writing
    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold ``<name>/.lock`` exclusively (other processes and threads wait), on any OS."""
        folder = self.model_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        # A lock object per call: threads of one process wait for each other as processes do.
        with FileLock(folder / ".lock"):
            yield

    def register(self, name: str, record: dict[str, Any], artifact: Path | None = None,
                 identity: str | None = None) -> RegistryVersion:
        """Add a version of ``name`` holding a copy of ``artifact`` (a directory) and ``record``.

        ``record`` holds the `RegistryVersion` fields other than name, version and artifact
        (``kind`` at least). ``identity`` (the register stage's fingerprint) makes it
        idempotent: when a version with that identity exists, it is returned and nothing is
        added, so a rerun after a kill at any point leaves exactly one version. The copy is
        made before taking the lock (it may be large); the number is handed out and the
        directory renamed into place under the lock. Returns the stored version.
        """
        if not re.match(NAME_PATTERN, name):
            raise ConfigError(f"model name {name!r}: use letters, digits, '.', '_' or '-'")
        # Checked before anything is copied; the number is filled in under the lock.
        try:
            draft = RegistryVersion.model_validate(
                {**record, "name": name, "version": 0, "identity": identity,
                 "artifact": ARTIFACT if artifact is not None else None})
        except ValidationError as exc:
            raise InputError(f"version record of {name}: {validation_summary(exc)}") from None
        with self.lock(name):
            self._sweep(name)
            existing = self._settle_existing(name, identity)
            if existing is None:
                tmp, tmp_lock = self._claim_tmp(name)
        if existing is not None:
            return self.get(name, existing)
        try:
            if artifact is not None:
                shutil.copytree(artifact, tmp / ARTIFACT, symlinks=False, copy_function=_copy_file)
                draft = draft.model_copy(update={"weights_sha256": tree_sha256(tmp / ARTIFACT)})
            with self.lock(name):
                # A concurrent register of the same identity may have finished meanwhile.
                number = self._settle_existing(name, identity)
                if number is None:
                    numbers = self.version_numbers(name)
                    number = (numbers[-1] if numbers else 0) + 1
                    stored = draft.model_copy(update={"version": number, "created_at": utc_now()})
                    # The record only: where it lies and its aliases are filled in by `get`.
                    atomic_write_json(tmp / VERSION_FILE, stored.record())
                    faults.point("register.before_rename")
                    os.rename(tmp, self.version_dir(name, number))
                    faults.point("register.after_rename")
                    self._append_event(name, {"event": "register", "version": number})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            _drop_lock(tmp_lock)
        return self.get(name, number)

    def find_identity(self, name: str, identity: str | None) -> int | None:
        """The version of ``name`` registered with ``identity``, if any."""
        if identity is None:
            return None
        for number in self.version_numbers(name):
            try:
                stored = json.loads((self.version_dir(name, number) / VERSION_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(stored, dict) and stored.get("identity") == identity:
                return number
        return None

    def _settle_existing(self, name: str, identity: str | None) -> int | None:
        """The version with ``identity``, its history completed (caller holds the lock).

        A kill between renaming a version into place and recording it leaves a version
        without its ``register`` event; the rerun that finds the version adds it.
        """
        number = self.find_identity(name, identity)
        if number is not None and not any(e.get("event") == "register" and e.get("version") == number
                                          for e in self.state(name)["events"]):
            self._append_event(name, {"event": "register", "version": number})
        return number

    def _claim_tmp(self, name: str) -> tuple[Path, FileLock]:
        """A new ``<name>/.tmp-*`` directory and the held lock that marks it in use (caller
        holds the registry lock, as `_sweep` does, so a sweep never sees one half-made)."""
        tmp = self.model_dir(name) / f".tmp-{uuid.uuid4().hex[:12]}"
        held = FileLock(f"{tmp}.lock")
        held.acquire(timeout=0)
        tmp.mkdir()
        return tmp, held

    def _sweep(self, name: str) -> list[Path]:
        """Remove temporary directories of registers that were killed (caller holds the lock).

        A live register holds its directory's ``.tmp-*.lock`` until it is done; the process
        holding it being gone (the OS drops its locks) is what makes a directory stale.
        """
        swept = []
        for path in sorted(self.model_dir(name).glob(".tmp-*")):
            lock_path = path if path.name.endswith(".lock") else Path(f"{path}.lock")
            probe = FileLock(lock_path)
            try:
                probe.acquire(timeout=0)
            except Timeout:
                continue  # a register in progress
            try:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                    swept.append(path)
            finally:
                _drop_lock(probe)
        return swept

    def promote(self, name: str, selector: str | int, reason: str = "manual", force: bool = False) -> dict[str, Any]:
        """Point ``production`` at a version and push it on the promotion stack.

        A version whose gates failed is refused (an InputError naming the failed gates)
        unless ``force``.
        """
        with self.lock(name):
            number = self.resolve(name, selector)
            gates = self.get(name, number).gates
            if not gates.passed and not force:
                failed = "; ".join(f"{g.gate} ({g.detail})" if g.detail else g.gate
                                   for g in gates.checks if not g.passed) or "gates"
                raise InputError(f"{name}@{number} failed its gates: {failed}; "
                                 "pass --force to promote it anyway")
            state = self.state(name)
            previous = state["aliases"].get(PRODUCTION)
            state["aliases"][PRODUCTION] = number
            if not state["promoted"] or state["promoted"][-1] != number:
                state["promoted"].append(number)
            state["events"].append({"event": "promote", "version": number, "from": previous,
                                    "reason": reason, "at": utc_now(),
                                    **({"forced": True} if force and not gates.passed else {})})
            self._write_state(name, state)
        return state

    def rollback(self, name: str) -> dict[str, Any]:
        """Move ``production`` back to the version promoted before the current one."""
        with self.lock(name):
            if not self.version_numbers(name):
                raise InputError(f"no model {name!r} in the registry {self.root}")
            state = self.state(name)
            current = state["aliases"].get(PRODUCTION)
            stack = [v for v in state["promoted"] if v != current]
            if current is None or not stack:
                raise InputError(f"{name}: nothing to roll back to (production: {current or 'none'}, "
                                 "no earlier promoted version)")
            # Drop the current version from the top of the stack; the one under it takes over.
            while state["promoted"] and state["promoted"][-1] == current:
                state["promoted"].pop()
            target = state["promoted"][-1]
            state["aliases"][PRODUCTION] = target
            state["events"].append({"event": "rollback", "version": target, "from": current,
                                    "at": utc_now()})
            self._write_state(name, state)
        return state

    def record_export(self, name: str, version: int, export: ExportRecord) -> RegistryVersion:
        """Add ``export`` to the ``exports`` of ``name@version`` (under the lock, written atomically).

        An export to the same path and format replaces the earlier entry.
        """
        with self.lock(name):
            path = self.version_dir(name, version) / VERSION_FILE
            record = RegistryVersion.read(path)
            kept = [e for e in record.exports if (e.path, e.format) != (export.path, export.format)]
            updated = record.model_copy(update={"exports": [*kept, export]})
            atomic_write_json(path, updated.record())
            self._append_event(name, {"event": "export", "version": version, "format": export.format,
                                      "path": export.path})
        return self.get(name, version)

    def _append_event(self, name: str, event: dict[str, Any]) -> None:
        """Add an event to the history (caller holds the lock)."""
        state = self.state(name)
        state["events"].append({**event, "at": utc_now()})
        self._write_state(name, state)

    def _write_state(self, name: str, state: dict[str, Any]) -> None:
        atomic_write_json(self.model_dir(name) / STATE_FILE, state)


def _copy_file(src: str, dst: str) -> str:
    """`shutil.copy2`, with a fault point after each file (tests kill a register mid-copy)."""
    copied = shutil.copy2(src, dst)
    faults.point("register.copying")
    return copied


def _drop_lock(lock: FileLock) -> None:
    """Delete a held lock's file, then release it (deleted first, so no one else can hold it).

    Windows cannot delete a file that is open: there it is deleted after the release.
    """
    with suppress(OSError):
        Path(lock.lock_file).unlink(missing_ok=True)
    lock.release()
    if os.name == "nt":
        with suppress(OSError):
            Path(lock.lock_file).unlink(missing_ok=True)
