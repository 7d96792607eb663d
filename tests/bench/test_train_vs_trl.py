"""bench/train_vs_trl.py trains both sides on the same tokens and reports what it says it does."""

from __future__ import annotations

import json

import pytest

from tests.bench.helpers import load_bench, run_main, write_messages


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_sides_train_the_same_tokens_and_the_report_has_the_ratios(tmp_path, precision):
    bench = load_bench("train_vs_trl")
    data = write_messages(tmp_path / "train.jsonl", bench.generated_messages(10, seed=1))
    out = tmp_path / "out.json"
    assert run_main(bench, ["--model", "tiny", "--data", str(data), "--examples", "3", "--heldout", "2",
                            "--rows", "512", "--sides", "webtune,trl-best", "--in-process", "--precision", precision,
                            "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    webtune, trl = report["sides"]["webtune"], report["sides"]["trl-best"]
    # The same rows, steps and tokens on both sides: BFD packing of the same examples, one pass.
    assert webtune["packed_rows"] == trl["packed_rows"] == report["packed_rows"] >= 2
    assert webtune["steps"] == trl["steps"] == report["packed_rows"]
    assert webtune["real_tokens"] == trl["real_tokens"] > 0
    assert webtune["trained_tokens"] == trl["trained_tokens"] > 0
    # TRL's fastest setting: webtune's precision (bf16: autocast), no activation checkpointing
    assert webtune["precision"] == precision and trl["precision"].split()[0] == precision
    assert trl["gradient_checkpointing"] is False
    for side in (webtune, trl):
        assert side["tokens_per_s"] > 0 and side["heldout_loss"][0] > 0
    expected = webtune["tokens_per_s"] / trl["tokens_per_s"]
    assert report["ratios"] == {"webtune/trl-best": pytest.approx(expected)}
    assert set(report["cpu_ratios"]) == {"webtune/trl-best"} and report["cpu_ratios"]["webtune/trl-best"] > 0
