"""Fixtures of the dataset tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def counter(tiny_model_dir):
    """A TokenCounter on the tiny model's ChatML tokenizer."""
    from webtune.dataset.tokens import TokenCounter

    return TokenCounter.for_model(str(tiny_model_dir))

