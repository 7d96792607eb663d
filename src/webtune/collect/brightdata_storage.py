"""Delivery of a Bright Data snapshot to storage, and reading the delivered files back (fsspec).

``deliver.url`` names the storage the way fsspec does, and becomes the body of
``POST /datasets/v3/deliver/{snapshot_id}``:

    s3://bucket/dir     -> {"type": "s3", "bucket": "bucket", "directory": "dir"}
    gs://bucket/dir     -> {"type": "gcs", "bucket": "bucket", "directory": "dir"}
    az://container/dir  -> {"type": "azure", "container": "container", "directory": "dir"}
    sftp://host/dir     -> {"type": "sftp", "host": "host", "directory": "dir"}

plus ``filename`` (``{[snapshot_id]}`` and the snapshot format's extension), ``compress``, and
``credentials`` whose values are read from the environment variables ``credentials_env`` names
(only the names are in the config; the values go to Bright Data and nowhere else).
The files are then read from ``read_url`` (default: ``url``) with fsspec, ``storage_options``
passed to its filesystem (an ``endpoint_url``, a profile: no secrets; s3fs, gcsfs, adlfs take
their keys from their usual environment). ``read_url`` may be any fsspec URL where the same
files are seen, e.g. ``file:///mnt/drop`` for an SFTP directory mounted on this machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from webtune.errors import ConfigError, StageError
from webtune.extras import require
from webtune.jsonl import atomic_path

# fsspec scheme -> (Bright Data deliver type, the field the URL's host goes to)
DELIVER_TYPES = {"s3": ("s3", "bucket"), "gs": ("gcs", "bucket"), "gcs": ("gcs", "bucket"),
                 "az": ("azure", "container"), "abfs": ("azure", "container"), "sftp": ("sftp", "host")}
# fsspec scheme -> the module its filesystem needs
FS_MODULES = {"s3": "s3fs"}


def deliver_body(deliver: Any, snapshot_id: str, fmt: str) -> dict[str, Any]:
    """The JSON body of ``POST /datasets/v3/deliver/{snapshot_id}`` for ``deliver.url``."""
    parts = urlsplit(deliver.url)
    kind, host_field = DELIVER_TYPES[parts.scheme]
    target: dict[str, Any] = {"type": kind, host_field: parts.netloc,
                              "directory": parts.path.strip("/"),
                              "filename": {"template": deliver.filename_template,
                                           "extension": "ndjson" if fmt == "jsonl" else fmt}}
    credentials = {}
    for field, variable in deliver.credentials_env.items():
        value = os.environ.get(variable, "").strip()
        if not value:
            raise ConfigError(f"deliver.credentials_env.{field}: set {variable} in the environment")
        credentials[field] = value
    if credentials:
        target["credentials"] = credentials
    return {"deliver": target, "compress": deliver.compress}


def fetch_delivered(deliver: Any, snapshot_id: str, work_dir: Path, console: Console) -> list[Path]:
    """Copy the delivered files of ``snapshot_id`` from ``read_url`` into ``work_dir``."""
    url = deliver.read_url or deliver.url
    scheme = urlsplit(url).scheme or "file"
    modules = ["fsspec"] + ([FS_MODULES[scheme]] if scheme in FS_MODULES else [])
    require(f"Bright Data delivery to {scheme}://", "storage", *modules)
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True, **deliver.storage_options)
    stem = deliver.filename_template.replace("{[snapshot_id]}", snapshot_id)
    try:
        found = sorted(p for p in fs.find(root) if p.rsplit("/", 1)[-1].startswith(stem))
    except FileNotFoundError:
        found = []
    if not found:
        raise StageError(f"Bright Data: no delivered file of snapshot {snapshot_id} ({stem}*) under {url}")
    paths = []
    for remote in found:
        local = work_dir / f"delivered-{remote.rsplit('/', 1)[-1]}"
        with atomic_path(local) as part:
            fs.get_file(remote, str(part))
        paths.append(local)
    console.print(f"[bold]brightdata[/bold]: read {len(paths)} delivered file(s) of {snapshot_id} from {url}")
    return paths
