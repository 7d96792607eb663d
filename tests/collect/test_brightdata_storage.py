"""Delivery of Bright Data snapshots to storage, read back with fsspec: a local directory and S3 (moto)."""

from __future__ import annotations

import json

import pytest

from webtune.errors import StageError

from .conftest import S3Server
from .test_brightdata import PRODUCTS, source


@pytest.fixture(scope="module")
def s3():
    """A local S3-compatible server (moto) with the bucket ``webtune-drop``."""
    server = S3Server()
    yield server
    server.stop()


def test_delivery_to_sftp_read_from_its_local_mount(brightdata, collect, tmp_path):
    brightdata.records, brightdata.sftp_root = PRODUCTS, tmp_path / "sftp-server"
    mount = (tmp_path / "sftp-server" / "exports").as_uri()
    out = collect([source(brightdata, deliver={"url": "sftp://drop.example.com/exports", "read_url": mount})])
    assert [d["fields"] for d in out.docs] == PRODUCTS
    assert brightdata.deliveries == [{"deliver": {
        "type": "sftp", "host": "drop.example.com", "directory": "exports",
        "filename": {"template": "{[snapshot_id]}", "extension": "ndjson"}}, "compress": False}]
    deliver = next(r for r in brightdata.requests if r["path"].startswith("/datasets/v3/deliver/"))
    assert deliver["path"] == "/datasets/v3/deliver/s_test123" and deliver["method"] == "POST"
    assert brightdata.calls["snapshot"] == 0 and brightdata.calls["delivery"] == 2  # in_progress, done
    assert out.manifest.stats["sources"][0]["bytes"] == (tmp_path / "sftp-server/exports/s_test123.ndjson").stat().st_size

    brightdata.delivery_status = ["done"]
    again = collect([source(brightdata, deliver={"url": "sftp://drop.example.com/exports", "read_url": mount})])
    assert [d["id"] for d in again.docs] == [d["id"] for d in out.docs]
    assert len(brightdata.deliveries) == 1 and brightdata.calls["trigger"] == 1  # reused: no second delivery


def test_delivery_to_s3_with_credentials_from_the_environment(brightdata, collect, s3, monkeypatch):
    monkeypatch.setenv("BD_S3_KEY", "testing")
    monkeypatch.setenv("BD_S3_SECRET", "s3-secret-value")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")      # what s3fs reads with
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    brightdata.records, brightdata.s3_endpoint = PRODUCTS, s3.endpoint
    deliver = {"url": f"s3://{s3.bucket}/snapshots/",
               "credentials_env": {"aws-access-key": "BD_S3_KEY", "aws-secret-key": "BD_S3_SECRET"},
               "storage_options": {"client_kwargs": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}}}
    out = collect([source(brightdata, format="csv", deliver=deliver)])
    assert [d["fields"]["title"] for d in out.docs] == ["Pen 0", "Pen 1", "Pen 2"]
    body = brightdata.deliveries[0]["deliver"]
    assert body["type"] == "s3" and body["bucket"] == s3.bucket and body["directory"] == "snapshots"
    assert body["credentials"] == {"aws-access-key": "testing", "aws-secret-key": "s3-secret-value"}
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=s3.bucket)["Contents"]]
    assert "snapshots/s_test123.csv" in keys
    written = "".join(p.read_text() for p in out.run_dir.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))
    assert "s3-secret-value" not in written and "BD_S3_SECRET" in json.dumps(out.manifest.config)


def test_no_delivered_file_is_a_clear_error(brightdata, collect, tmp_path):
    brightdata.sftp_root = tmp_path / "sftp-server"
    elsewhere = (tmp_path / "empty").as_uri()
    (tmp_path / "empty").mkdir()
    with pytest.raises(StageError, match=r"no delivered file of snapshot s_test123 \(s_test123\*\) under file://"):
        collect([source(brightdata, deliver={"url": "sftp://drop.example.com/exports", "read_url": elsewhere})])


def test_deliver_urls_are_checked(brightdata, collect):
    with pytest.raises(Exception, match=r"deliver.url|'ftp://x/y': expected s3://"):
        collect([source(brightdata, deliver={"url": "ftp://x/y"})])
