"""Held-out preference accuracy: does the model give the chosen answer a higher likelihood than the rejected?

Reads the dataset stage's ``preference_test.jsonl`` (pairs only; KTO records have no pair and
are left out). For each pair, base and tuned score both answers after the same prompt, encoded
with the chat template training used (`webtune.evaluate.scoring`): the log-likelihood of an
answer is the **sum** of its tokens' log-probabilities (``score: sum``, the default, which is
what DPO's implicit reward compares), or their mean per token (``score: mean``, which does not
favour the shorter answer). Only the final answer's tokens count, not earlier assistant turns
of the prompt. A pair is *won* by a model when chosen scores strictly higher than rejected.

The section gives each model's accuracy with a 95% bootstrap interval of the mean
(`webtune.evaluate.stats.mean_interval`) and tuned minus base with the paired bootstrap
interval (`webtune.evaluate.stats.compare`), next to the judge's win rate in the report's
checks. It needs log-probabilities, so it is skipped for hosted models; like the forgetting
check it loads the models itself, so it stays one optional step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from webtune.configbase import StrictModel
from webtune.evaluate.scoring import IGNORE
from webtune.handoffs import PreferenceAccuracy, TrainResult

TEST_FILE = "preference_test.jsonl"


class PreferenceEvalConfig(StrictModel):
    """``evaluate.preference``: preference accuracy on the dataset stage's held-out pairs."""

    enabled: bool = True
    score: Literal["sum", "mean"] = Field("sum", description="an answer's log-likelihood: summed over its "
                                          "tokens, or their mean")
    max_pairs: int | None = Field(None, ge=1, description="score the first N test pairs (default: all)")


def read_pairs(path: Path, limit: int | None = None) -> list[Any]:
    """The paired records of a preference split (unreadable or unpaired lines are left out)."""
    from webtune.dataset.preference import PreferenceFormatError, read_record
    from webtune.jsonl import iter_jsonl_lines

    pairs = []
    for _, obj, error in iter_jsonl_lines(path):
        if error is not None:
            continue
        try:
            record = read_record(obj)
        except PreferenceFormatError:
            continue
        if record.paired:
            pairs.append(record)
            if limit is not None and len(pairs) >= limit:
                break
    return pairs


def last_answer_only(labels: list[int]) -> list[int]:
    """``labels`` with every label outside the final assistant answer (the last labelled run) ignored."""
    end = max((i for i, label in enumerate(labels) if label != IGNORE), default=None)
    if end is None:
        return list(labels)
    start = end
    while start > 0 and labels[start - 1] != IGNORE:
        start -= 1
    return [label if start <= i <= end else IGNORE for i, label in enumerate(labels)]


def encode_pairs(tokenizer: Any, pairs: list[Any], max_len: int | None) -> tuple[list[dict[str, list[int]]], list[int]]:
    """Encodings of prompt+chosen and prompt+rejected for each pair that keeps answer tokens in both;
    returns the encodings (chosen, rejected, chosen, ...) and the indices of the pairs kept."""
    from webtune.dataset.preference import conversations
    from webtune.evaluate.scoring import encode_examples

    encoded, kept = [], []
    for n, pair in enumerate(pairs):
        both = encode_examples(tokenizer, conversations(pair), max_len)  # prompt + chosen, prompt + rejected
        for item in both:
            item["labels"] = last_answer_only(item["labels"])
        if all(any(label != IGNORE for label in item["labels"]) for item in both):
            encoded.extend(both)
            kept.append(n)
    return encoded, kept


def pair_scores(nll: list[float], tokens: list[int], score: str) -> tuple[list[float], list[float]]:
    """Per pair: 1.0 when chosen's log-likelihood is strictly higher than rejected's, else 0.0; and the margin."""
    wins, margins = [], []
    for k in range(0, len(nll), 2):
        chosen, rejected = -nll[k], -nll[k + 1]
        if score == "mean":
            chosen, rejected = chosen / max(tokens[k], 1), rejected / max(tokens[k + 1], 1)
        wins.append(1.0 if chosen > rejected else 0.0)
        margins.append(chosen - rejected)
    return wins, margins


def summarise(wins: dict[str, list[float]], margins: dict[str, list[float]], *, source: str, unscored: int,
              score: str, resamples: int, seed: int) -> PreferenceAccuracy:
    """The report section from both models' per-pair outcomes."""
    from webtune.evaluate.stats import PerExample, compare, mean_interval

    base, tuned = wins["base"], wins["tuned"]
    diff = compare(PerExample(base), PerExample(tuned), "higher", resamples=resamples, seed=seed)
    section = PreferenceAccuracy(
        status="done", source=source, pairs=len(base), unscored=unscored, score=score,
        base_accuracy=sum(base) / len(base), tuned_accuracy=sum(tuned) / len(tuned),
        base_ci95=list(mean_interval(base, resamples, seed)), tuned_ci95=list(mean_interval(tuned, resamples, seed)),
        delta=diff.delta, delta_ci95=list(diff.ci95),
        base_margin=sum(margins["base"]) / len(base), tuned_margin=sum(margins["tuned"]) / len(tuned))
    section.note = preference_line(section)
    return section


def preference_line(p: PreferenceAccuracy) -> str:
    """``preference accuracy (sum log-prob) on 40 held-out pairs: base 45.0% [..] -> tuned 70.0% [..], Δ +25.0% [..]``"""
    if p.status != "done":
        return p.note

    def ci(bounds: list[float] | None) -> str:
        return f" [{bounds[0]:.1%}, {bounds[1]:.1%}]" if bounds else ""

    return (f"preference accuracy ({p.score} log-prob) on {p.pairs} held-out pairs: base {p.base_accuracy:.1%}"
            f"{ci(p.base_ci95)} -> tuned {p.tuned_accuracy:.1%}{ci(p.tuned_ci95)}, "
            f"delta {p.delta:+.1%}{ci(p.delta_ci95)}" + (f" · {p.unscored} unscored (max_len)" if p.unscored else ""))


def score_pairs(encoded: list[dict[str, list[int]]], pad_id: int, train_dir: Path, train_result: TrainResult,
                base_model: str, eval_config: Any) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Summed NLL and token counts of every encoded answer, for base and for tuned."""
    from webtune.evaluate.scoring import example_losses
    from webtune.models import load_causal_lm, pick_device, resolve_model
    from webtune.serve.loader import load_weights

    base_path = resolve_model(base_model)
    adapter, full = train_result.local_dirs(train_dir)
    device = pick_device(eval_config.device, "evaluate.device")
    nll: dict[str, list[float]] = {}
    tokens: dict[str, list[int]] = {}
    base = load_causal_lm(base_path)
    for label in ("base", "tuned"):
        model = base if label == "base" else (load_weights(base_path, adapter, base_model=base) if adapter is not None
                                              else load_weights(full))
        model.to(device)
        nll[label], tokens[label] = example_losses(model, encoded, pad_id=pad_id, device=device,
                                                   max_tokens=eval_config.loss_batch_tokens)
    return nll, tokens


def run_preference(config: PreferenceEvalConfig, dataset_dir: Path, train_dir: Path, train_result: TrainResult,
                   base_model: str, eval_config: Any) -> PreferenceAccuracy | None:
    """The preference section of the report; None when the dataset has no preference pairs at all."""
    path = Path(dataset_dir) / TEST_FILE
    if not config.enabled:
        return PreferenceAccuracy(note="preference accuracy off (evaluate.preference.enabled)")
    if not path.is_file():
        return None  # no preference generator in the dataset stage: nothing to say
    if train_result.hosted:
        return PreferenceAccuracy(source=str(path), note="preference accuracy skipped: a hosted model gives no "
                                  "log-probabilities")
    pairs = read_pairs(path, config.max_pairs)
    if not pairs:
        return PreferenceAccuracy(source=str(path), note=f"preference accuracy skipped: no chosen/rejected pair in "
                                  f"{path.name}")
    from webtune.evaluate.scoring import tuned_tokenizer
    from webtune.models import resolve_model

    tokenizer = tuned_tokenizer(train_dir, train_result, resolve_model(base_model), train_result.chat_template)
    encoded, kept = encode_pairs(tokenizer, pairs, eval_config.max_len or train_result.max_seq_len)
    if not kept:
        return PreferenceAccuracy(source=str(path), unscored=len(pairs),
                                  note="preference accuracy skipped: max_len cuts away every pair's answers")
    nll, tokens = score_pairs(encoded, tokenizer.pad_token_id, train_dir, train_result, base_model, eval_config)
    wins, margins = {}, {}
    for label in ("base", "tuned"):
        wins[label], margins[label] = pair_scores(nll[label], tokens[label], config.score)
    return summarise(wins, margins, source=str(path), unscored=len(pairs) - len(kept), score=config.score,
                     resamples=eval_config.bootstrap_resamples, seed=eval_config.seed)
