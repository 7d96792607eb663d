"""Fixtures of the train tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.helpers import write_dataset


@pytest.fixture(autouse=True)
def _one_thread():
    """The tiny model is latency-bound: one thread is ~10x faster than two on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def server(monkeypatch):
    """The local stand-in of OpenAI's API, its key in the environment (the hosted trainer's tests)."""
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        yield fake


@pytest.fixture
def dataset_dir(tmp_path) -> Path:
    """A dataset-stage directory of 40 training and 8 validation examples."""
    return write_dataset(tmp_path / "dataset")
