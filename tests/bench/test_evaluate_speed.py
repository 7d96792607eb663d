"""bench/evaluate_speed.py runs end to end on the tiny model and checks what it says it checks."""

from __future__ import annotations

import json
from tests.bench.helpers import load_bench, run_main, write_messages


def test_bench_times_both_modes_on_the_same_prompts_with_identical_outputs(tmp_path):
    bench = load_bench("evaluate_speed")
    data = write_messages(tmp_path / "test.jsonl", bench.generated_messages(4, seed=2))
    out = tmp_path / "out.json"
    assert run_main(bench, ["--model", "tiny", "--data", str(data), "--examples", "4", "--batch-size", "4",
                            "--max-new-tokens", "6", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["prompts"] == 4 and figures["identical"] is True and figures["batch_size"] == 4
    assert figures["speedup"] > 0 and figures["new_tokens"] > 0


def test_a_difference_between_the_modes_is_reported():
    from webtune.generation import Generated

    bench = load_bench("evaluate_speed")
    same = [Generated([1, 2, 3], 5, "stop")]
    assert bench.first_difference(same, same) is None
    assert bench.first_difference(same, [Generated([1, 9, 3], 5, "stop")]) == \
        "answer 0 differs at token 1 (3 vs 3 tokens)"
