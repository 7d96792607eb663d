"""A local stand-in for Bright Data's API, speaking the documented request and answer shapes.

Web Scraper API v3:
  POST /datasets/v3/trigger?dataset_id&include_errors[&type=discover_new&discover_by][&limit_per_input]
       [&limit_multiple_results][&custom_output_fields][&notify][&endpoint&format&uncompressed_webhook]
       [&auth_header]                                   -> {"snapshot_id"}; then, with notify/endpoint,
       a POST {"snapshot_id", "status"} to notify and the data to endpoint, each with auth_header
  POST /datasets/v3/scrape?dataset_id&format  {"input": [...]}  -> 200 data, or 202 {"snapshot_id", "message"}
  GET  /datasets/v3/progress/{id}                       -> {"snapshot_id", "status"}
  GET  /datasets/v3/snapshot/{id}?format                -> 202 while building, then the data
  POST /datasets/v3/deliver/{id}  {"deliver": {...}, "compress"}  -> {"delivery_id"}; the files are written
       to S3 (a local moto server) or, for sftp, to a local directory standing for the SFTP server
  GET  /datasets/v3/delivery/{delivery_id}              -> {"status": "done"}
Marketplace Dataset API:
  POST /datasets/search/{dataset_id} {"filter", "size"} -> {"hits", "total_hits"} (404: not searchable)
  POST /datasets/filter {"dataset_id", "filter", "records_limit"} -> {"snapshot_id"}
  GET  /datasets/snapshots/{id}                         -> {"id", "status", "dataset_size"}
  GET  /datasets/snapshots/{id}/download?format         -> 202 while building, then the data

Every behaviour is scripted per test through the dataclass fields.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fakes.http import Server, serve  # noqa: F401 - the collect tests import them from here


def as_csv(records: list[dict[str, Any]]) -> bytes:
    """Records as Bright Data writes a CSV snapshot: every column on every row, nested values as JSON."""
    columns: list[str] = []
    for record in records:
        columns += [k for k in record if k not in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for record in records:
        row = []
        for column in columns:
            value = record.get(column)
            if value is None:
                row.append("")
            elif isinstance(value, bool):
                row.append("true" if value else "false")
            elif isinstance(value, (list, dict)):
                row.append(json.dumps(value))
            else:
                row.append(str(value))
        writer.writerow(row)
    return out.getvalue().encode()


@dataclass
class FakeBrightData:
    """Speaks the endpoints above; every behaviour is scripted per test."""

    records: list[Any] = field(default_factory=list)
    body: bytes | None = None              # raw snapshot body (overrides records)
    progress: list[str] = field(default_factory=lambda: ["running", "ready"])
    snapshot_202: int = 1                  # 202 answers before the snapshot is served
    try_again_in: str | None = None        # the 202's hint, as the real API words it: "10s"
    fail: dict[str, list[int]] = field(default_factory=dict)  # endpoint -> statuses to answer first
    retry_after: str | None = None
    cut_downloads: int = 0                 # downloads that break off mid-body
    progress_error: str = "collection failed: too many inputs"
    calls: Counter = field(default_factory=Counter)
    requests: list[dict[str, Any]] = field(default_factory=list)
    snapshot_id: str = "s_test123"
    base_url: str = ""
    # webhooks: whether the notification / the data push is sent, after how long, with which header
    send_notify: bool = True
    send_delivery: bool = True
    webhook_delay_s: float = 0.0
    webhook_auth: str | None = None        # overrides the auth_header the trigger asked for
    webhook_status: str = "ready"
    webhook_answers: list[int] = field(default_factory=list)
    webhook_chunked: bool = False          # push the data with chunked transfer coding
    webhook_gzip: bool = False             # push it gzipped (uncompressed_webhook not honoured)
    # /scrape: how many 202 "still in progress" answers before data (0: data at once)
    scrape_202: int = 0
    # storage delivery
    s3_endpoint: str | None = None
    sftp_root: Path | None = None
    delivery_status: list[str] = field(default_factory=lambda: ["in_progress", "done"])
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    # Marketplace
    total_hits: int | None = 1234          # None: the dataset is not searchable (404)
    market_progress: list[str] = field(default_factory=lambda: ["scheduled", "building", "ready"])
    market_snapshot_id: str = "snap_test1"

    def snapshot_body(self, fmt: str = "ndjson") -> bytes:
        if self.body is not None:
            return self.body
        if fmt == "json":
            return json.dumps(self.records).encode()
        if fmt == "csv":
            return as_csv(self.records)
        return "".join(json.dumps(r) + "\n" for r in self.records).encode()

    # ------------------------------------------------------------ webhooks and deliveries

    def _send_webhooks(self, query: dict[str, list[str]], snapshot_id: str) -> None:
        time.sleep(self.webhook_delay_s)
        auth = self.webhook_auth if self.webhook_auth is not None else (query.get("auth_header") or [None])[0]
        headers = {"Authorization": auth} if auth else {}
        with httpx.Client(timeout=10) as client:
            if self.send_delivery and query.get("endpoint"):
                fmt = (query.get("format") or ["json"])[0]
                data = self.snapshot_body(fmt)
                if self.webhook_gzip:
                    import gzip

                    data = gzip.compress(data)
                content: Any = iter([data[: len(data) // 2], data[len(data) // 2:]]) if self.webhook_chunked else data
                answer = client.post(query["endpoint"][0], content=content, headers=headers)
                self.webhook_answers.append(answer.status_code)
            if self.send_notify and query.get("notify"):
                answer = client.post(query["notify"][0], json={"snapshot_id": snapshot_id,
                                                               "status": self.webhook_status}, headers=headers)
                self.webhook_answers.append(answer.status_code)

    def _deliver(self, snapshot_id: str, spec: dict[str, Any]) -> None:
        deliver = spec["deliver"]
        extension = deliver.get("filename", {}).get("extension", "json")
        name = deliver.get("filename", {}).get("template", "{[snapshot_id]}").replace("{[snapshot_id]}", snapshot_id)
        data = self.snapshot_body(extension)
        key = "/".join(p for p in (deliver.get("directory", "").strip("/"), f"{name}.{extension}") if p)
        if deliver["type"] == "s3":
            import boto3

            credentials = deliver.get("credentials") or {}
            s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
                              aws_access_key_id=credentials.get("aws-access-key"),
                              aws_secret_access_key=credentials.get("aws-secret-key"))
            s3.put_object(Bucket=deliver["bucket"], Key=key, Body=data)
        elif deliver["type"] == "sftp":
            target = Path(self.sftp_root) / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            raise ValueError(f"the fake cannot deliver to {deliver['type']}")

    # ------------------------------------------------------------ HTTP

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _scripted_failure(self, endpoint: str) -> bool:
                statuses = fake.fail.get(endpoint) or []
                if not statuses:
                    return False
                status = statuses.pop(0)
                headers = {"Retry-After": fake.retry_after} if status == 429 and fake.retry_after else {}
                self._send(status, {"error": f"scripted {status}"}, headers)
                return True

            def _route(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = url.path.strip("/").split("/")
                endpoint = endpoint_name(parts)
                query = parse_qs(url.query)
                fake.calls[endpoint] += 1
                fake.requests.append({"method": method, "path": url.path, "query": query,
                                      "body": body, "auth": self.headers.get("Authorization")})
                if self.headers.get("Authorization") != "Bearer test-token":
                    return self._send(401, {"error": "Unauthorized"})
                if self._scripted_failure(endpoint):
                    return None
                if endpoint == "trigger" and method == "POST":
                    if query.get("notify") or query.get("endpoint"):
                        threading.Thread(target=fake._send_webhooks, args=(query, fake.snapshot_id),
                                         daemon=True).start()
                    return self._send(200, {"snapshot_id": fake.snapshot_id})
                if endpoint == "scrape" and method == "POST":
                    inputs = json.loads(body or b"{}").get("input") or []
                    if len(inputs) > 20:
                        return self._send(400, {"error": "synchronous requests take at most 20 inputs"})
                    if fake.scrape_202 > 0:
                        fake.scrape_202 -= 1
                        return self._send(202, {"snapshot_id": fake.snapshot_id, "message": (
                            "Your request is still in progress and cannot be retrieved in this call. Use the "
                            "provided Snapshot ID to track progress via the Monitor Snapshot endpoint")})
                    return self._send(200, fake.snapshot_body((query.get("format") or ["json"])[0]))
                if endpoint == "progress":
                    status = fake.progress.pop(0) if len(fake.progress) > 1 else fake.progress[0]
                    answer = {"snapshot_id": parts[3], "dataset_id": "gd_test", "status": status}
                    if status == "failed":
                        answer["error"] = fake.progress_error
                    return self._send(200, answer)
                if endpoint in ("snapshot", "download"):
                    return self._snapshot((query.get("format") or ["json"])[0])
                if endpoint == "deliver" and method == "POST":
                    spec = json.loads(body)
                    fake.deliveries.append(spec)
                    fake._deliver(parts[3], spec)
                    return self._send(200, {"delivery_id": f"d_{len(fake.deliveries)}"})
                if endpoint == "delivery":
                    status = fake.delivery_status.pop(0) if len(fake.delivery_status) > 1 else fake.delivery_status[0]
                    return self._send(200, {"status": status})
                if endpoint == "search" and method == "POST":
                    if fake.total_hits is None:
                        return self._send(404, {"error": "dataset is not supported by search"})
                    return self._send(200, {"hits": [], "total_hits": fake.total_hits, "took": 3})
                if endpoint == "filter" and method == "POST":
                    return self._send(200, {"snapshot_id": fake.market_snapshot_id})
                if endpoint == "snapshots":
                    status = fake.market_progress.pop(0) if len(fake.market_progress) > 1 else fake.market_progress[0]
                    return self._send(200, {"id": parts[2], "status": status, "dataset_id": "gd_market",
                                            "dataset_size": len(fake.records)})
                return self._send(404, {"error": "not found"})

            def _snapshot(self, fmt: str) -> None:
                if fake.snapshot_202 > 0:
                    fake.snapshot_202 -= 1
                    hint = f", try again in {fake.try_again_in}" if fake.try_again_in else ""
                    return self._send(202, {"status": "building", "message": f"Snapshot is building{hint}"})
                data = fake.snapshot_body(fmt)
                if fake.cut_downloads > 0:
                    fake.cut_downloads -= 1
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                return self._send(200, data)

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

        return Handler


def endpoint_name(parts: list[str]) -> str:
    """The counted name of a request path: ``trigger``, ``snapshot``, ``filter``, ``download``..."""
    if len(parts) > 2 and parts[1] == "v3":
        return parts[2]
    if len(parts) > 1 and parts[0] == "datasets":
        if parts[1] == "snapshots" and parts[-1] == "download":
            return "download"
        return parts[1]
    return ""


class S3Server:
    """A local S3-compatible server (moto) on 127.0.0.1 with one bucket."""

    def __init__(self, bucket: str = "webtune-drop"):
        import socket

        from moto.server import ThreadedMotoServer

        with socket.socket() as probe:  # moto needs a port number up front
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.bucket = bucket
        self.client().create_bucket(Bucket=bucket)

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self) -> None:
        self.server.stop()
