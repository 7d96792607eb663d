"""Hub model ids against a local stand-in of the Hub (tests/fakes/hub.py): the real
huggingface_hub download code runs, nothing reaches the internet."""

from __future__ import annotations

import pytest

from tests.fakes.hub import FakeHub, point_at
from webtune.errors import WebtuneError
from webtune.models import hub as webtune_hub
from webtune.models import load_causal_lm, load_tokenizer, resolve_model
from webtune.models.hub import HubRef, commit_of, parse_hub_ref


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with FakeHub() as server:
        point_at(server, monkeypatch, tmp_path)
        yield server


def test_parse_hub_ref():
    assert parse_hub_ref("Qwen/Qwen2.5-0.5B-Instruct") == HubRef("Qwen/Qwen2.5-0.5B-Instruct")
    assert parse_hub_ref("org/repo@v1.0") == HubRef("org/repo", "v1.0")
    assert parse_hub_ref("org/repo:model-Q4_K_M.gguf") == HubRef("org/repo", None, "model-Q4_K_M.gguf")
    assert parse_hub_ref("org/repo@abc123:m.gguf") == HubRef("org/repo", "abc123", "m.gguf")
    assert str(HubRef("org/repo", "abc", "m.gguf")) == "org/repo@abc:m.gguf"
    for text in ("./org/repo", "/abs/path", "~/x/y", "smollm2-135m-instruct", "a/b/c", "org/repo:file.bin"):
        assert parse_hub_ref(text) is None, text


def test_hub_id_downloads_once_and_loads(hub, tiny_model_dir, tmp_path):
    commit = hub.add_repo("org/tiny-chat", tiny_model_dir)
    path = resolve_model("org/tiny-chat")
    assert path == tmp_path / "hf-home" / "hub" / "models--org--tiny-chat" / "snapshots" / commit
    assert commit_of(path) == commit
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    downloaded = len(hub.downloads())
    assert downloaded >= 3
    assert load_tokenizer("org/tiny-chat").eos_token == "<|im_end|>"
    assert load_causal_lm("org/tiny-chat").config.vocab_size > 0
    # A new process (the memo forgotten) asks the Hub for the commit, but downloads nothing again.
    webtune_hub._RESOLVED.clear()
    assert resolve_model("org/tiny-chat") == path
    assert len(hub.downloads()) == downloaded


def test_revision_pinning(hub, tiny_model_dir, tmp_path):
    first = hub.add_repo("org/tiny-chat", tiny_model_dir, revision="v1")
    hub.add_repo("org/tiny-chat", tiny_model_dir, files={"extra.txt": b"v2"}, revision="main")
    assert commit_of(resolve_model("org/tiny-chat@v1")) == first
    assert commit_of(resolve_model(f"org/tiny-chat@{first}")) == first
    latest = resolve_model("org/tiny-chat")
    assert commit_of(latest) != first and (latest / "extra.txt").read_text() == "v2"


def test_offline_uses_the_cache_and_says_when_it_cannot(hub, tiny_model_dir, monkeypatch):
    hub.add_repo("org/tiny-chat", tiny_model_dir)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WebtuneError) as err:
        resolve_model("org/tiny-chat")
    assert "not in the Hugging Face cache" in str(err.value) and "HF_HUB_OFFLINE" in str(err.value)
    assert "\n" not in str(err.value)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    online = resolve_model("org/tiny-chat")
    webtune_hub._RESOLVED.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub.requests)
    assert resolve_model("org/tiny-chat") == online
    assert len(hub.requests) == before  # offline: not one request


def test_gated_repo_needs_the_token(hub, tiny_model_dir, monkeypatch):
    hub.add_repo("meta/gated", tiny_model_dir, gated=True)
    with pytest.raises(WebtuneError) as err:
        resolve_model("meta/gated")
    message = str(err.value)
    assert message.startswith("model meta/gated: gated repo (HTTP 401: HF_TOKEN is not set)")
    assert f"{hub.url}/meta/gated" in message and "\n" not in message
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_000000000")
    with pytest.raises(WebtuneError, match=r"gated repo \(HTTP 403: the token in HF_TOKEN has not been granted"):
        resolve_model("meta/gated")
    monkeypatch.setenv("HF_TOKEN", hub.token)
    assert (resolve_model("meta/gated") / "config.json").is_file()


def test_missing_repo_revision_and_network(hub, tiny_model_dir, monkeypatch):
    hub.add_repo("org/tiny-chat", tiny_model_dir)
    with pytest.raises(WebtuneError, match=rf"^model org/nothing: no such repo on {hub.url} \(HTTP 404\)"):
        resolve_model("org/nothing")
    with pytest.raises(WebtuneError, match=r"^model org/tiny-chat@v9: revision 'v9' not found in org/tiny-chat .*\(HTTP 404\)$"):
        resolve_model("org/tiny-chat@v9")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(WebtuneError) as err:
        resolve_model("org/tiny-chat")
    assert str(err.value).startswith("model org/tiny-chat: cannot reach http://127.0.0.1:9 (ConnectError")
    assert "\n" not in str(err.value)


def test_repo_without_checkpoint_names_the_gguf_syntax(hub):
    hub.add_repo("org/only-gguf", files={"model.gguf": b"GGUF", "README.md": b"hi"})
    with pytest.raises(WebtuneError, match=r"no config.json .*org/only-gguf:FILE.gguf"):
        resolve_model("org/only-gguf")


def test_a_pipeline_names_a_hub_id_unless_such_a_directory_exists(tmp_path):
    from webtune.config import load_pipeline

    path = tmp_path / "pipeline.yaml"
    path.write_text("name: t\nbase_model: org/tiny-chat@v1\n", encoding="utf-8")
    assert load_pipeline(path).base_model == "org/tiny-chat@v1"
    (tmp_path / "org" / "tiny-chat@v1").mkdir(parents=True)
    assert load_pipeline(path).base_model == str(tmp_path / "org" / "tiny-chat@v1")


def test_a_gguf_file_of_a_hub_repo_is_downloaded_alone_and_converted_once(hub, tiny_model_dir, tmp_path, monkeypatch):
    import torch

    from webtune.export.gguf_file import write_gguf
    from webtune.export.source import ExportSource

    gguf = write_gguf(ExportSource.open(str(tiny_model_dir)), tmp_path / "tiny-f16.gguf", "f16")
    commit = hub.add_repo("org/tiny-GGUF", files={"tiny-f16.gguf": gguf.read_bytes(),
                                                  "tiny-q8_0.gguf": b"not fetched", "README.md": b"hi"})
    monkeypatch.setenv("WEBTUNE_HOME", str(tmp_path / "webtune-home"))
    path = resolve_model("org/tiny-GGUF:tiny-f16.gguf")
    assert path.parent == tmp_path / "webtune-home" / "models" / "hub"
    assert commit_of(path) == commit
    assert hub.downloads() == ["/org/tiny-GGUF/resolve/main/tiny-f16.gguf"]  # that file alone
    tokenizer = load_tokenizer(path)
    assert tokenizer.chat_template == load_tokenizer(tiny_model_dir).chat_template
    ids = torch.tensor([tokenizer("Hello there")["input_ids"]])
    expected = load_causal_lm(tiny_model_dir)(ids).logits
    assert torch.allclose(load_causal_lm(path)(ids).logits, expected, atol=1e-2)
    webtune_hub._RESOLVED.clear()
    assert resolve_model("org/tiny-GGUF:tiny-f16.gguf") == path  # converted once
    with pytest.raises(WebtuneError, match=r"^model org/tiny-GGUF:nope.gguf: no file 'nope.gguf' in org/tiny-GGUF@main"):
        resolve_model("org/tiny-GGUF:nope.gguf")


def test_chat_and_serve_take_a_hub_id_as_the_model(hub, tiny_model_dir):
    from webtune.serve.loader import resolve_ref

    commit = hub.add_repo("org/tiny-chat", tiny_model_dir)
    ref = resolve_ref("org/tiny-chat")
    assert ref.label == "org/tiny-chat" and commit_of(ref.model_path) == commit
