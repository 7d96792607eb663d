"""bench/train_throughput.py runs end to end on the tiny model and reports what it says it does."""

from __future__ import annotations

import json
from tests.bench.helpers import load_bench, run_main, write_messages


def test_bench_compares_padded_and_packed_on_the_same_examples(tmp_path):
    bench = load_bench("train_throughput")
    data = write_messages(tmp_path / "train.jsonl", bench.generated_messages(12, seed=1))
    out = tmp_path / "out.json"
    assert run_main(bench, ["--model", "tiny", "--data", str(data), "--examples", "12", "--rows", "512",
                            "--batch", "4", "--threads", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    padded, packed = results["padded"], results["packed_512"]
    # Both padded modes train the same batches; padding exists only in them.
    assert padded["slots"] == results["padded_webtune_loss"]["slots"] > padded["real_tokens"]
    assert padded["padding_fraction"] > 0.05 and packed["padding_fraction"] == 0.0
    assert padded["steps"] == 3  # 12 examples in batches of 4
    assert packed["steps"] < 12 and packed["tokens_per_s"] > 0 and 0 < packed["packing_efficiency"] <= 1
