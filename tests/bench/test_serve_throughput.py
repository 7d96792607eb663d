"""bench/serve_throughput.py runs end to end on the tiny model and reports what it measured."""

from __future__ import annotations

import json
from tests.bench.helpers import load_bench


def test_bench_sends_the_same_requests_both_ways(tmp_path, tiny_model_dir, capsys):
    bench = load_bench("serve_throughput")
    out = tmp_path / "out.json"
    bench.main(["--model", str(tiny_model_dir), "--requests", "4", "--clients", "4", "--max-tokens", "8",
                "--json", str(out)])
    result = json.loads(out.read_text())
    assert result["requests"] == 4 and result["identical_answers"] == 4
    assert result["batches"] < 4  # the concurrent clients were batched
    assert result["tokens"] > 0 and result["concurrent_tokens_per_s"] > 0
    assert "speed-up:" in capsys.readouterr().out
