"""Base models from the Hugging Face Hub: ``org/repo[@revision][:file.gguf]``.

A Hub reference downloads once into the Hugging Face cache (``huggingface_hub``'s
``snapshot_download`` / ``hf_hub_download``, with their progress bars) and resolves to the
snapshot directory ``<cache>/models--org--repo/snapshots/<commit>/``, so every stage that loads
through `webtune.models.resolve` gets the same files, and the commit is part of the path.

* ``@revision`` pins a branch, tag or commit (default ``main``).
* ``:file.gguf`` names one GGUF file of a GGUF repo; it is downloaded alone and converted once
  into a transformers checkpoint under ``$WEBTUNE_HOME/models/hub/`` (as the packaged catalog
  models are), whose ``webtune_model.json`` records the repo, file and commit.

The environment is read at each call, not at import: ``HF_ENDPOINT`` (a mirror, or the test
suite's stand-in), ``HF_HUB_CACHE`` / ``HF_HOME`` (where the cache is), ``HF_HUB_OFFLINE``
(cache only; no request is made) and ``HF_TOKEN`` (read by huggingface_hub itself, never
written anywhere by webtune). Failures are one-line `WebtuneError`s naming the reference:
gated (401/403), missing repo, missing revision or file, no network.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webtune.errors import WebtuneError

DEFAULT_ENDPOINT = "https://huggingface.co"
# org/repo as the Hub spells them; then @revision (any characters but ':'), then :file.gguf.
_REF = re.compile(
    r"^(?P<repo>[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)"
    r"(?:@(?P<revision>[^:@\s]+))?(?::(?P<file>[^:@\s]+\.gguf))?$"
)
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# What a transformers checkpoint needs; other weights formats and originals are left on the Hub.
ALLOW = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
IGNORE = ["consolidated*", "original/*", "onnx/*", "*.gguf"]


@dataclass(frozen=True)
class HubRef:
    """A parsed Hub reference."""

    repo: str
    revision: str | None = None
    file: str | None = None

    def __str__(self) -> str:
        text = self.repo + (f"@{self.revision}" if self.revision else "")
        return text + (f":{self.file}" if self.file else "")


def parse_hub_ref(text: str) -> HubRef | None:
    """The Hub reference ``text`` spells (``org/repo[@revision][:file.gguf]``), else None."""
    match = _REF.match(text.strip())
    if match is None or text.startswith((".", "/", "~")):
        return None
    return HubRef(match["repo"], match["revision"], match["file"])


def hub_endpoint() -> str:
    """``HF_ENDPOINT`` (read now, not at import), else the public Hub."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_cache() -> Path:
    """The Hugging Face cache: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home).expanduser() / "hub"


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for the cache only."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def commit_of(path: str | os.PathLike | None) -> str | None:
    """The Hub commit a resolved model directory came from: its snapshot directory's name, or
    the ``hub_commit`` its ``webtune_model.json`` records (a converted GGUF); None otherwise."""
    if not path:
        return None
    path = Path(path)
    if path.parent.name == "snapshots" and _COMMIT.match(path.name):
        return path.name
    from webtune.models.prepare import read_marker

    try:
        marker = read_marker(path) or {}
    except (OSError, ValueError):
        return None
    commit = marker.get("hub_commit")
    return commit if isinstance(commit, str) else None


# One resolution per reference and environment per process: every stage and loader asks again.
_RESOLVED: dict[tuple[str, str, str, bool], Path] = {}


def resolve_hub(ref: HubRef, download: bool = True, progress: bool = True) -> Path:
    """The local directory of Hub model ``ref``: downloaded on first use (unless offline or
    not ``download``), then from the cache. One-line `WebtuneError` on every failure."""
    offline = hub_offline() or not download
    key = (str(ref), hub_endpoint(), str(hub_cache()), offline)
    if key not in _RESOLVED:
        _RESOLVED[key] = _gguf(ref, offline, progress) if ref.file else _snapshot(ref, offline, progress)
    return _RESOLVED[key]


def _snapshot(ref: HubRef, offline: bool, progress: bool) -> Path:
    """``snapshot_download`` of a transformers repo; checks it holds a checkpoint."""
    from huggingface_hub import snapshot_download

    _say(progress and not offline, f"fetching {ref} from {hub_endpoint()} into {hub_cache()} ...")
    with _hub_errors(ref, offline):
        path = Path(snapshot_download(
            ref.repo, revision=ref.revision, cache_dir=hub_cache(), endpoint=hub_endpoint(),
            local_files_only=offline, allow_patterns=ALLOW, ignore_patterns=IGNORE))
    if not (path / "config.json").is_file():
        raise WebtuneError(f"model {ref}: the repo has no config.json (not a transformers checkpoint); "
                           f"for a GGUF repo name the file: {ref.repo}:FILE.gguf")
    return path


def _gguf(ref: HubRef, offline: bool, progress: bool) -> Path:
    """Download one GGUF file and convert it once into ``$WEBTUNE_HOME/models/hub/...``."""
    from huggingface_hub import hf_hub_download

    from webtune.models.prepare import convert_hub_gguf

    _say(progress and not offline, f"fetching {ref} from {hub_endpoint()} into {hub_cache()} ...")
    with _hub_errors(ref, offline):
        gguf = Path(hf_hub_download(
            ref.repo, ref.file, revision=ref.revision, cache_dir=hub_cache(), endpoint=hub_endpoint(),
            local_files_only=offline))
    commit = gguf.parent.name if _COMMIT.match(gguf.parent.name) else "unknown"
    return convert_hub_gguf(ref.repo, ref.file, commit, gguf, progress=progress)


@contextlib.contextmanager
def _hub_errors(ref: HubRef, offline: bool) -> Iterator[None]:
    """Turn huggingface_hub's exceptions into one line naming ``ref`` and what went wrong."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - anything not huggingface_hub's is raised as it was
        message = hub_error_message(ref, exc, offline)
        if message is None:
            raise
        raise WebtuneError(message) from None


def hub_error_message(ref: HubRef, exc: Exception, offline: bool) -> str | None:
    """The one line for a huggingface_hub failure (None: not one of its errors)."""
    from huggingface_hub import errors

    endpoint, status = hub_endpoint(), _status(exc)
    where = f"model {ref}"
    if isinstance(exc, errors.GatedRepoError):
        who = "HF_TOKEN is not set" if not _has_token() else "the token in HF_TOKEN has not been granted access"
        return (f"{where}: gated repo ({status}: {who}); accept its licence at {endpoint}/{ref.repo} "
                "and set HF_TOKEN to a token of that account")
    if isinstance(exc, errors.RevisionNotFoundError):
        return f"{where}: revision {ref.revision or 'main'!r} not found in {ref.repo} on {endpoint} ({status})"
    if isinstance(exc, errors.RepositoryNotFoundError):
        token = "" if _has_token() else "; if it is private, set HF_TOKEN"
        return f"{where}: no such repo on {endpoint} ({status}){token}"
    if isinstance(exc, errors.RemoteEntryNotFoundError):
        return f"{where}: no file {ref.file!r} in {ref.repo}@{ref.revision or 'main'} on {endpoint} ({status})"
    if isinstance(exc, errors.LocalEntryNotFoundError) or isinstance(exc, errors.OfflineModeIsEnabled):
        if offline:
            return (f"{where}: not in the Hugging Face cache {hub_cache()} and the Hub may not be asked "
                    "(HF_HUB_OFFLINE is set); run once online to download it")
        cause = exc.__cause__ or exc.__context__
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else "no network"
        return (f"{where}: cannot reach {endpoint} ({_one_line(reason)}) and it is not in the "
                f"Hugging Face cache {hub_cache()}")
    if isinstance(exc, errors.HfHubHTTPError):
        return f"{where}: {endpoint} answered {status}: {_one_line(str(exc))}"
    return None


def _status(exc: Exception) -> str:
    """``HTTP 403`` from the exception's response, if it has one."""
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return f"HTTP {code}" if code else "no HTTP status"


def _has_token() -> bool:
    """Whether huggingface_hub would send a token (HF_TOKEN, or a stored login)."""
    from huggingface_hub import get_token

    return bool(os.environ.get("HF_TOKEN") or get_token())


def _one_line(text: str) -> str:
    """The first non-empty line of ``text``, shortened."""
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= 200 else line[:197] + "..."


def _say(enabled: bool, message: str) -> None:
    """A progress line on stderr (huggingface_hub draws the download bars)."""
    if enabled:
        import sys

        print(f"webtune: {message}", file=sys.stderr, flush=True)
