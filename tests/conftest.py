"""Shared fixtures. Tests never touch the network or the user's ~/.cache/webtune."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("WANDB_DISABLED", "true")
# Keep the real SmolLM2 conversion in one place for the whole session (slow tests share it).
os.environ.setdefault("WEBTUNE_HOME", str(Path(__file__).resolve().parent.parent / ".webtune-home"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random-weight Llama with a ChatML tokenizer, built in seconds without downloads."""
    from webtune.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(autouse=True)
def _no_secrets(monkeypatch):
    """Tests opt in to tokens explicitly; a real token in the environment must never be used."""
    for name in ("BRIGHTDATA_API_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run where torch sees a CUDA GPU; elsewhere they are collected and
    skipped with the reason (never left uncollected)."""
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu:
        return
    try:
        import torch

        if torch.cuda.is_available():
            return
        reason = "needs a CUDA GPU and torch sees none (bench/gpu_proof.sh runs these on one)"
    except ImportError:
        reason = "needs torch with CUDA"
    for item in gpu:
        item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print how many test files and tests ran, so a folder the suite silently skips shows up."""
    reports = [r for key in ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
               for r in terminalreporter.stats.get(key, []) if getattr(r, "when", "call") in ("call", "setup")]
    files = {r.nodeid.split("::", 1)[0] for r in reports}
    tests = {r.nodeid for r in reports}
    terminalreporter.write_line(f"webtune: {len(tests)} tests from {len(files)} test files ran")
