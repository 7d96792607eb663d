"""Finding models by path or name, listing them, and the thin loaders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from webtune.errors import WebtuneError
from webtune.models import (
    MARKER,
    list_models,
    load_causal_lm,
    load_tokenizer,
    models_dir,
    resolve_model,
    webtune_home,
)
from webtune.models.tiny import build_tiny_model

SMOL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A tiny model built once for this module."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty WEBTUNE_HOME for one test."""
    monkeypatch.setenv("WEBTUNE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _install(tiny: Path, home: Path, name: str, marker: bool = True) -> Path:
    """Copy the tiny model to `<home>/models/<name>`, as if prepared."""
    target = shutil.copytree(tiny, home / "models" / name)
    if marker:
        (target / MARKER).write_text(json.dumps({"name": name}))
    return Path(target)


def test_webtune_home(monkeypatch, tmp_path):
    monkeypatch.setenv("WEBTUNE_HOME", str(tmp_path))
    assert webtune_home() == tmp_path
    assert models_dir() == tmp_path / "models"
    assert models_dir(tmp_path / "x") == tmp_path / "x" / "models"
    monkeypatch.delenv("WEBTUNE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert webtune_home() == tmp_path / "user" / ".cache" / "webtune"


def test_local_directory(tiny, home):
    assert resolve_model(tiny) == tiny.resolve()
    assert resolve_model(str(tiny)) == tiny.resolve()


def test_unknown_name(home):
    with pytest.raises(WebtuneError) as err:
        resolve_model("foo")
    assert str(err.value) == (
        f"unknown model 'foo': not a directory with config.json, not a Hub id "
        f"(org/repo[@revision][:file.gguf]) and not one of: {SMOL}"
    )


def test_unknown_lists_local_models(tiny, home):
    _install(tiny, home, "my-model", marker=False)
    with pytest.raises(WebtuneError, match=f"not one of: my-model, {SMOL}$"):
        resolve_model("nope")


def test_directory_without_config(tmp_path, home):
    with pytest.raises(WebtuneError, match="has no config.json"):
        resolve_model(tmp_path)


def test_catalog_not_prepared(home):
    with pytest.raises(WebtuneError, match=f"model '{SMOL}' is not prepared yet"):
        resolve_model(SMOL, auto_prepare=False)


def test_catalog_prepared(tiny, home, monkeypatch):
    import webtune.models.prepare as prepare

    monkeypatch.setattr(prepare, "convert_gguf", lambda *a, **k: pytest.fail("converted again"))
    target = _install(tiny, home, SMOL)
    assert resolve_model(SMOL) == target
    assert resolve_model(SMOL, auto_prepare=False) == target


def test_catalog_auto_prepares(tiny, home, monkeypatch):
    import webtune.models.prepare as prepare

    calls = []
    monkeypatch.setattr(prepare, "prepare_model", lambda name, home=None: calls.append(name) or tiny)
    assert resolve_model(SMOL) == tiny
    assert calls == [SMOL]


def test_local_name_under_home(tiny, home):
    target = _install(tiny, home, "my-model", marker=False)
    assert resolve_model("my-model") == target


def test_list_models(tiny, home):
    rows = list_models()
    assert [(r["name"], r["source"], r["prepared"], r["size_bytes"]) for r in rows] == [
        (SMOL, "catalog", False, 0)
    ]
    assert rows[0]["path"] == str(home / "models" / SMOL)
    _install(tiny, home, SMOL)
    _install(tiny, home, "my-model", marker=False)
    (home / "models" / ".half-done.tmp").mkdir()
    (home / "models" / "not-a-model").mkdir()
    rows = {r["name"]: r for r in list_models()}
    assert set(rows) == {SMOL, "my-model"}
    assert rows[SMOL]["prepared"] and rows[SMOL]["size_bytes"] > 10_000
    assert rows["my-model"]["source"] == "local" and rows["my-model"]["prepared"]
    assert rows["my-model"]["size_bytes"] == sum(p.stat().st_size for p in tiny.iterdir())


def test_list_models_home_argument(tiny, tmp_path, home):
    _install(tiny, tmp_path / "other", SMOL)
    assert list_models(home=tmp_path / "other")[0]["prepared"]
    assert not list_models()[0]["prepared"]


def test_loaders(tiny, home):
    import torch

    tokenizer = load_tokenizer(tiny)
    assert tokenizer.eos_token == "<|im_end|>"
    model = load_causal_lm(tiny)
    assert model.dtype == torch.float32
    assert load_causal_lm(str(tiny), dtype="bfloat16", device="cpu").dtype == torch.bfloat16
    assert load_causal_lm(tiny, dtype=torch.float16).dtype == torch.float16
    with pytest.raises(WebtuneError, match="unknown dtype 'int3'"):
        load_causal_lm(tiny, dtype="int3")
    with pytest.raises(WebtuneError, match="unknown model"):
        load_tokenizer("foo")


def test_load_tokenizer_of_an_adapter_directory_gets_a_pad_token(tiny, tmp_path):
    from webtune.errors import InputError

    tokenizer = load_tokenizer(tiny)
    tokenizer.pad_token = None
    adapter = tmp_path / "adapter"  # tokenizer files beside an adapter: no config.json
    tokenizer.save_pretrained(adapter)
    loaded = load_tokenizer(adapter)
    assert loaded.pad_token == loaded.eos_token == "<|im_end|>"
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: cannot load its tokenizer"):
        load_tokenizer(tmp_path / "empty")


def test_pick_device_names_the_setting(monkeypatch):
    import torch

    from webtune.errors import ConfigError
    from webtune.models import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == "cpu" and pick_device("cpu", "train.device") == "cpu"
    with pytest.raises(ConfigError, match=r"^evaluate.device: cuda was asked for, but torch sees no CUDA GPU$"):
        pick_device("cuda", "evaluate.device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == "cuda"
