"""bench/preference_vs_trl.py runs webtune's DPO loop and TRL's DPOTrainer on the same pairs."""

from __future__ import annotations

import json

import pytest

from tests.bench.helpers import load_bench, run_main
from tests.train.helpers import write_preference


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_bench_times_both_trainers_on_the_same_steps(tmp_path, precision):
    data = write_preference(tmp_path / "dataset", n_train=4, n_val=1) / "preference_train.jsonl"
    out = tmp_path / "out.json"
    assert run_main(load_bench("preference_vs_trl"), ["--model", "tiny", "--data", str(data), "--steps", "2",
                                                      "--batch", "2", "--max-len", "128", "--skip-precompute",
                                                      "--threads", "1", "--precision", precision,
                                                      "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["pairs"] == 4 and set(report["results"]) == {"webtune", "trl"}
    assert report["args"]["precision"] == precision  # both sides: webtune's precision and TRL's bf16
    for result in report["results"].values():
        (run,) = result["runs"]
        assert len(run["step_seconds"]) == 2  # the same number of optimizer steps each
        assert result["pairs_per_s"] == 2 / run["step_seconds"][1]  # the first step is not timed
