"""Uploaded files as OpenAI's Files API sees them: ``file-…`` ids, each owned by an API key.

Each file is ``<data>/files/<id>.bin`` plus ``<id>.json`` (its OpenAI file object and owner),
both written atomically. Uploads are streamed to disk chunk by chunk (never held whole in
memory) and stop at the size limit.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from webtune.jsonl import atomic_write_json

PURPOSES = {"fine-tune", "fine-tune-results", "assistants", "batch", "user_data", "evals", "vision"}


class UploadTooLarge(Exception):
    """An upload went over the size limit."""


class FileStore:
    """Files on disk with their OpenAI file objects."""

    def __init__(self, root: Path, max_bytes: int):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes

    def content_path(self, file_id: str) -> Path:
        """Where the bytes of ``file_id`` are."""
        return self.root / f"{file_id}.bin"

    def _meta_path(self, file_id: str) -> Path:
        return self.root / f"{file_id}.json"

    def open_upload(self) -> "Upload":
        """A new file being written (see `Upload`)."""
        return Upload(self)

    def save_bytes(self, data: bytes, filename: str, purpose: str, owner: str) -> dict:
        """Store a small file the server made itself (a job's result CSV)."""
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        from webtune.jsonl import atomic_path

        with atomic_path(self.content_path(file_id)) as tmp:
            tmp.write_bytes(data)
        return self.add_meta(file_id, filename, purpose, owner, len(data))

    def add_meta(self, file_id: str, filename: str, purpose: str, owner: str, size: int) -> dict:
        obj = {"id": file_id, "object": "file", "bytes": size, "created_at": int(time.time()),
               "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
               "status_details": None}
        atomic_write_json(self._meta_path(file_id), {"file": obj, "owner": owner})
        return obj

    def get(self, file_id: str, owner: str) -> dict | None:
        """The file object of ``file_id`` when ``owner`` may see it, else None."""
        path = self._meta_path(file_id)
        if "/" in file_id or not path.is_file():
            return None
        meta = json.loads(path.read_text(encoding="utf-8"))
        return meta["file"] if meta.get("owner") == owner else None

    def list(self, owner: str, purpose: str | None = None) -> list[dict]:
        """The owner's files, newest first."""
        out = []
        for path in self.root.glob("file-*.json"):
            meta = json.loads(path.read_text(encoding="utf-8"))
            if meta.get("owner") == owner and (purpose is None or meta["file"]["purpose"] == purpose):
                out.append(meta["file"])
        return sorted(out, key=lambda f: (f["created_at"], f["id"]), reverse=True)

    def delete(self, file_id: str, owner: str) -> bool:
        """Delete the owner's file; False when there is none."""
        if self.get(file_id, owner) is None:
            return False
        self._meta_path(file_id).unlink(missing_ok=True)
        self.content_path(file_id).unlink(missing_ok=True)
        return True


class Upload:
    """One upload in progress: bytes go to a ``.part`` file, renamed into place by `finish`."""

    def __init__(self, store: FileStore):
        self.store = store
        self.id = f"file-{uuid.uuid4().hex[:24]}"
        self.partial = store.content_path(self.id).with_suffix(".part")
        self.out = open(self.partial, "wb")
        self.size = 0

    def write(self, data: bytes) -> None:
        """Append ``data``; `UploadTooLarge` past the store's limit."""
        self.size += len(data)
        if self.size > self.store.max_bytes:
            raise UploadTooLarge(f"file: more than {self.store.max_bytes} bytes; the upload limit is "
                                 f"{self.store.max_bytes} bytes (--max-upload-bytes)")
        self.out.write(data)

    def finish(self, filename: str, purpose: str, owner: str) -> dict:
        """Close, move into place and record the file object."""
        self.out.close()
        os.replace(self.partial, self.store.content_path(self.id))
        return self.store.add_meta(self.id, filename, purpose, owner, self.size)

    def abort(self) -> None:
        """Drop what was written."""
        self.out.close()
        self.partial.unlink(missing_ok=True)
