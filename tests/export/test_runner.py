"""A failed round trip fails the export in one line, after printing the table; the report stays."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rich.console import Console

from webtune.errors import StageError
from webtune.export.runner import run_exports


def test_a_failed_round_trip_fails_the_export_naming_the_file():
    report = {"file": "m-f16.gguf", "bytes": 10, "prompts": 4, "prompts_tokenized_equal": 4, "exact_answers": 3,
              "token_agreement": 0.9, "tokens_compared": 40, "metadata": {"tokenizer.chat_template": True},
              "rule": "every answer equal token for token", "passed": False}
    source = SimpleNamespace(reports={"f16": report}, label="m@1")
    console = Console(record=True, width=200)
    with pytest.raises(StageError, match=r"round trip of m-f16.gguf failed \(every answer equal token for token: "
                                         r"3/4 exact, 90.0% agreement") as info:
        run_exports(source, [], lambda fmt: None, console)
    assert "\n" not in str(info.value) and "roundtrip.json" in str(info.value)
    assert "FAIL" in console.export_text()
