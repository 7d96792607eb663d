"""bench/train_throughput.py runs end to end on the tiny model and reports what it says it does."""

from __future__ import annotations

import json
from tests.bench.helpers import load_bench


def test_bench_compares_padded_and_packed_on_the_same_examples(tmp_path):
    import torch

    data = tmp_path / "train.jsonl"
    bench = load_bench("train_throughput")
    with data.open("w") as f:
        for messages in bench.generated_messages(12, seed=1):
            f.write(json.dumps({"messages": messages}) + "\n")
    out = tmp_path / "out.json"
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--model", "tiny", "--data", str(data), "--examples", "12", "--rows", "512",
                           "--batch", "4", "--threads", "1", "--json", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    results = json.loads(out.read_text())["results"]
    padded, packed = results["padded"], results["packed_512"]
    # Both padded modes train the same batches; padding exists only in them.
    assert padded["slots"] == results["padded_webtune_loss"]["slots"] > padded["real_tokens"]
    assert padded["padding_fraction"] > 0.05 and packed["padding_fraction"] == 0.0
    assert padded["steps"] == 3  # 12 examples in batches of 4
    assert packed["steps"] < 12 and packed["tokens_per_s"] > 0 and 0 < packed["packing_efficiency"] <= 1
