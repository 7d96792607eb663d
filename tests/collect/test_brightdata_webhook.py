"""Webhook mode of the Bright Data source: notify / endpoint to a local receiver, polling as fallback."""

from __future__ import annotations

import json

import pytest

from webtune.errors import StageError

from .test_brightdata import FAST, PRODUCTS, source

SECRET = "Bearer hook-secret-42"


def hooked(fake, **webhook):
    return source(fake, webhook={"timeout_s": 5, **webhook})


def written_files(out) -> str:
    return "".join(p.read_text() for p in (out.run_dir / "collect").iterdir()) + "".join(
        p.read_text() for p in (out.run_dir / ".work").rglob("*") if p.is_file())


def test_a_notification_ends_the_wait_without_polling(brightdata, collect):
    brightdata.records = PRODUCTS
    out = collect([hooked(brightdata)])
    assert [d["fields"] for d in out.docs] == PRODUCTS
    trigger = next(r for r in brightdata.requests if r["path"].endswith("/trigger"))
    notify = trigger["query"]["notify"][0]
    assert notify.startswith("http://127.0.0.1:") and notify.endswith("/notify")
    assert "endpoint" not in trigger["query"] and "auth_header" not in trigger["query"]
    assert brightdata.webhook_answers == [200]
    assert brightdata.calls["progress"] == 0 and brightdata.calls["snapshot"] == 2  # 202, then the data


def test_no_notification_falls_back_to_polling(brightdata, collect, capsys):
    brightdata.records, brightdata.send_notify = PRODUCTS, False
    out = collect([hooked(brightdata, timeout_s=0.3)])
    assert len(out.docs) == 3 and brightdata.calls["progress"] == 2
    assert "no webhook call within 0.3s; polling instead" in " ".join(capsys.readouterr().err.split())


def test_the_data_pushed_to_the_endpoint_is_collected_without_a_download(brightdata, collect, monkeypatch):
    monkeypatch.setenv("HOOK_AUTH", SECRET)
    brightdata.records = PRODUCTS
    out = collect([hooked(brightdata, notify=False, receive_data=True, auth_header_env="HOOK_AUTH")])
    assert [d["fields"] for d in out.docs] == PRODUCTS
    trigger = next(r for r in brightdata.requests if r["path"].endswith("/trigger"))
    assert trigger["query"]["endpoint"][0].endswith("/deliver") and trigger["query"]["auth_header"] == [SECRET]
    assert trigger["query"]["format"] == ["ndjson"] and trigger["query"]["uncompressed_webhook"] == ["true"]
    assert "notify" not in trigger["query"]
    assert brightdata.calls["snapshot"] == 0 and brightdata.calls["progress"] == 0
    assert out.manifest.stats["sources"][0]["snapshot_id"] == "s_test123"
    assert SECRET not in written_files(out) and "hook-secret-42" not in written_files(out)


def test_calls_without_the_auth_header_are_refused_and_polling_takes_over(brightdata, collect, monkeypatch, capsys):
    monkeypatch.setenv("HOOK_AUTH", SECRET)
    brightdata.records, brightdata.webhook_auth = PRODUCTS, "Bearer guessed"
    out = collect([hooked(brightdata, receive_data=True, auth_header_env="HOOK_AUTH", timeout_s=0.3)])
    assert brightdata.webhook_answers == [401, 401] and len(out.docs) == 3
    assert brightdata.calls["progress"] == 2 and brightdata.calls["snapshot"] == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "refused a call without the expected Authorization header" in err and "hook-secret" not in err


def test_a_failed_notification_stops_like_a_failed_poll(brightdata, collect):
    brightdata.webhook_status = "failed"
    with pytest.raises(StageError, match="s_test123 failed: the webhook notification said the collection failed"):
        collect([hooked(brightdata)])
    assert brightdata.calls["progress"] == 0


def test_the_auth_header_is_masked_in_errors(brightdata, collect, monkeypatch):
    monkeypatch.setenv("HOOK_AUTH", SECRET)
    brightdata.fail = {"trigger": [503, 503]}
    with pytest.raises(StageError) as info:
        collect([hooked(brightdata, auth_header_env="HOOK_AUTH") | {"max_attempts": 2}])
    message = str(info.value)
    assert "HTTP 503" in message and "hook-secret" not in message and "***" in message


def test_the_auth_header_variable_must_be_set(brightdata, collect):
    with pytest.raises(Exception, match="webhook.auth_header_env: set NO_SUCH_VAR in the environment"):
        collect([hooked(brightdata, auth_header_env="NO_SUCH_VAR")])
    assert brightdata.calls["trigger"] == 0


def test_a_public_url_is_what_bright_data_is_told(brightdata, collect):
    brightdata.records, brightdata.send_notify = PRODUCTS, False  # nobody can reach the public URL here
    collect([hooked(brightdata, public_url="https://hooks.example.com/webtune/", timeout_s=0.2)])
    trigger = next(r for r in brightdata.requests if r["path"].endswith("/trigger"))
    assert trigger["query"]["notify"][0].startswith("https://hooks.example.com/webtune/")
    assert json.loads(trigger["body"]) == source(brightdata)["inputs"] and FAST["poll_interval_s"] == 0.01


def test_pushed_data_may_come_chunked_and_gzipped(brightdata, collect):
    brightdata.records, brightdata.webhook_chunked, brightdata.webhook_gzip = PRODUCTS * 40, True, True
    out = collect([hooked(brightdata, notify=False, receive_data=True)])
    assert len(out.docs) == 120 and brightdata.calls["snapshot"] == 0 and brightdata.webhook_answers == [200]
