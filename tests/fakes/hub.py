"""A local stand-in for the Hugging Face Hub's HTTP API, enough for huggingface_hub 2.x's
``snapshot_download`` and ``hf_hub_download`` (``HF_ENDPOINT`` points at it).

    with FakeHub() as hub:                               # threaded, 127.0.0.1, random port
        commit = hub.add_repo("org/tiny", tiny_model_dir)    # every file of a directory
        hub.add_repo("org/gated", tiny_model_dir, gated=True)  # needs hub.token
        monkeypatch.setenv("HF_ENDPOINT", hub.url)

What it answers (as huggingface_hub's hf_api.py / file_download.py / utils/_http.py expect):

* ``GET /api/models/{repo}[/revision/{rev}]``: model info JSON with ``sha`` (the commit) and
  ``siblings``; ``snapshot_download`` reads ``sha`` to pin the snapshot.
* ``GET /api/models/{repo}/tree/{rev}?recursive=...``: the file list (``type``, ``path``,
  ``size``, ``oid``), one page (no ``Link: rel=next`` header).
* ``HEAD|GET /{repo}/resolve/{rev}/{file}``: the file, with ``X-Repo-Commit`` (required by
  ``get_hf_file_metadata``), ``ETag`` (the blob name in the cache; quoted as the Hub does),
  ``Content-Length``. No Xet headers, so the plain HTTP download path runs.
* Errors carry the ``X-Error-Code`` header that ``hf_raise_for_status`` maps to exceptions:
  ``RepoNotFound`` (404), ``RevisionNotFound`` (404), ``EntryNotFound`` (404), ``GatedRepo``
  (401 without a token, 403 with a wrong one; model info and tree stay public, as on the Hub).

``hub.requests`` lists ``(method, path)`` of every request, so a test can prove that a second
resolution downloaded nothing.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import json


@dataclass
class FakeRepo:
    """One model repo: its revisions (name -> commit) and the files of each commit."""

    repo_id: str
    gated: bool = False
    refs: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)


class FakeHub:
    """The threaded stand-in server; `add_repo` publishes a directory as a repo commit."""

    def __init__(self, token: str = "hf_fake_token_0123456789"):
        self.token = token
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> "FakeHub":
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The endpoint to put in HF_ENDPOINT."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_repo(self, repo_id: str, directory: Path | None = None, *, files: dict[str, bytes] | None = None,
                 revision: str = "main", gated: bool = False) -> str:
        """Publish ``directory``'s files (and ``files``) as a new commit on ``revision``; return its hash."""
        content = dict(files or {})
        if directory is not None:
            for path in sorted(Path(directory).rglob("*")):
                if path.is_file():
                    content[path.relative_to(directory).as_posix()] = path.read_bytes()
        repo = self.repos.setdefault(repo_id, FakeRepo(repo_id, gated=gated))
        commit = hashlib.sha1(repr((repo_id, revision, sorted(content.items()))).encode()).hexdigest()
        repo.commits[commit] = content
        repo.refs[revision] = commit
        return commit

    def downloads(self) -> list[str]:
        """Paths of the file downloads (GET .../resolve/...) served so far."""
        return [path for method, path in self.requests if method == "GET" and "/resolve/" in path]


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def _dispatch(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.hub.requests.append((self.command, path))
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            self._api(parts[2] + "/" + parts[3], parts[4:], send_body)
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._resolve(parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:]), send_body)
        else:
            self._error(404, "RepoNotFound", "Repository not found", send_body)

    # ------------------------------------------------------------------ routes
    def _repo_commit(self, repo_id: str, revision: str, send_body: bool) -> tuple[FakeRepo, str] | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found", send_body)
            return None
        commit = repo.refs.get(revision) or (revision if revision in repo.commits else None)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", send_body)
            return None
        return repo, commit

    def _api(self, repo_id: str, rest: list[str], send_body: bool) -> None:
        revision = "main"
        if rest[:1] in (["revision"], ["tree"]) and len(rest) >= 2:
            revision = rest[1]
        found = self._repo_commit(repo_id, revision, send_body)
        if found is None:
            return
        repo, commit = found
        files = repo.commits[commit]
        if rest[:1] == ["tree"]:
            body: Any = [{"type": "file", "path": name, "size": len(data), "oid": _git_oid(data)}
                         for name, data in sorted(files.items())]
        else:
            body = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                    "gated": "manual" if repo.gated else False, "tags": [],
                    "siblings": [{"rfilename": name} for name in sorted(files)]}
        self._send(200, json.dumps(body).encode(), "application/json", {}, send_body)

    def _resolve(self, repo_id: str, revision: str, filename: str, send_body: bool) -> None:
        found = self._repo_commit(repo_id, revision, send_body)
        if found is None:
            return
        repo, commit = found
        if repo.gated:
            auth = self.headers.get("Authorization", "")
            if not auth:
                self._error(401, "GatedRepo", "Access to model is restricted. You must be authenticated.",
                            send_body, commit)
                return
            if auth != f"Bearer {self.hub.token}":
                self._error(403, "GatedRepo", "Access to model is restricted and you are not in the authorized list.",
                            send_body, commit)
                return
        data = repo.commits[commit].get(filename)
        if data is None:
            self._error(404, "EntryNotFound", f"{filename} does not exist", send_body, commit)
            return
        headers = {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
        self._send(200, data, "application/octet-stream", headers, send_body)

    # ------------------------------------------------------------------ replies
    def _error(self, status: int, code: str, message: str, send_body: bool, commit: str | None = None) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._send(status, json.dumps({"error": message}).encode(), "application/json", headers, send_body)

    def _send(self, status: int, payload: bytes, ctype: str, headers: dict[str, str], send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(payload)


def _git_oid(data: bytes) -> str:
    """The git blob id of ``data`` (what the Hub's tree listing calls ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def point_at(hub: FakeHub, monkeypatch: Any, tmp_path: Path) -> Path:
    """Point huggingface_hub and webtune at ``hub``, online, with a fresh cache; return HF_HOME.

    The suite runs with HF_HUB_OFFLINE=1, which huggingface_hub read into a constant at import:
    both the variable and the constant are switched off for the test. No token is set.
    """
    from huggingface_hub import constants

    from webtune.models import hub as webtune_hub

    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(home))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HF_HUB_CACHE", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))  # no stored login
    monkeypatch.setattr(webtune_hub, "_RESOLVED", {})
    return home
