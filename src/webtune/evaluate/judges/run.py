"""Pairwise judging, both orders, cached, priced before it runs; the statistics of the verdicts.

For each pairing (``tuned_vs_base``, ``tuned_vs_reference``, ``base_vs_reference``) and each
example the judge sees the two answers twice, once in each order. Each verdict becomes a
preference for one *model* (or a tie); the example's score for the first model is the mean of
its two orders (1 win, 0.5 tie, 0 loss), so a judge that always prefers whichever answer comes
first scores every example 0.5 (a tie) and its **position-bias rate**, the share of examples
whose preference changed when the order was swapped, is 100%. The win rate is the mean score,
with a percentile bootstrap 95% interval over examples (hand-written: a dozen lines of numpy,
seeded, where scipy.stats.bootstrap would add a dependency for one call).

Verdicts are cached in a JSONL file (one line appended and flushed per verdict), keyed by the
judge and its model, the rubric, the prompt and both answers in their order, so a run stopped
half-way resumes where it stopped and a re-run pays nothing. The evaluate stage keeps the cache
in its work dir across publishing (``StageResult.keep_work``), like the dataset teacher cache.

Before any request the cost of the uncached comparisons is estimated (about 4 characters a
token for the input, the judge's ``max_tokens`` for each verdict, times the configured prices);
over ``max_cost_usd`` the judge refuses to start.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import Field

from webtune.configbase import StrictModel
from webtune.errors import ConfigError
from webtune.evaluate.judges import DEFAULT_RUBRIC, JUDGES, JudgeRequest, MalformedVerdict, Verdict
from webtune.evaluate.stats import mean_interval
from webtune.handoffs import JudgePairResult, JudgeSummary
from webtune.plugins import config_field

PAIRS = {"tuned_vs_base": ("tuned", "base"), "tuned_vs_reference": ("tuned", "reference"),
         "base_vs_reference": ("base", "reference")}
CACHE_FILE = "judge-cache.jsonl"
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text; a cost estimate, not a bill
OVERHEAD_TOKENS = 120  # the judge's instructions around the answers

JudgeBackendConfig = config_field(JUDGES)


class JudgeSettings(StrictModel):
    """``evaluate.judge``: an LLM judge comparing answers pairwise, both orders, under a rubric."""

    backend: JudgeBackendConfig  # type: ignore[valid-type]
    rubric: str = Field(DEFAULT_RUBRIC, min_length=1, description="what makes an answer better")
    pairs: list[Literal["tuned_vs_base", "tuned_vs_reference", "base_vs_reference"]] = Field(
        default_factory=lambda: list(PAIRS), min_length=1)
    max_examples: int | None = Field(None, ge=1, description="examples judged (default: every answered one)")
    malformed_retries: int = Field(2, ge=0, description="asks again after a reply that is not a verdict")
    price_input_per_1m: float = Field(0.0, ge=0, description="USD per million input tokens")
    price_output_per_1m: float = Field(0.0, ge=0, description="USD per million output tokens")
    max_cost_usd: float | None = Field(None, ge=0, description="refuse to start when the estimate is over this")
    bootstrap_samples: int = Field(2000, ge=100)


@dataclass
class JudgeItem:
    """One example to judge: its prompt and the answers by label (base, tuned, reference)."""

    line: int
    id: str | None
    prompt: str
    system: str | None
    answers: dict[str, str]


@dataclass
class JudgeOutcome:
    """The summary for the report and every verdict with its reason (for judgements.jsonl)."""

    summary: JudgeSummary
    records: list[dict[str, Any]] = field(default_factory=list)


def skipped(note: str = "judge skipped: no judge endpoint configured (set evaluate.judge)") -> JudgeSummary:
    """The report's judge section when no judge runs."""
    return JudgeSummary(status="skipped", note=note)


# ---------------------------------------------------------------------------- cache


class JudgeCache:
    """Verdicts by key in an append-only JSONL file; a torn last line (a crash) is ignored."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.entries[row["key"]] = row
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached verdict of ``key``, if any."""
        return self.entries.get(key)

    def put(self, key: str, verdict: Verdict) -> None:
        """Remember a verdict, on disk at once (flushed and synced) so a crash loses none."""
        row = {"key": key, "winner": verdict.winner, "reason": verdict.reason,
               "input_tokens": verdict.input_tokens, "output_tokens": verdict.output_tokens}
        self.entries[key] = row
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def judge_identity(config: Any) -> str:
    """``name:model`` of a judge backend config (what the cache key and the report name)."""
    name = getattr(config, "judge", "?")
    model = getattr(config, "model", None)
    return f"{name}:{model}" if model else f"{name}:{json.dumps(config.model_dump(mode='json'), sort_keys=True)}"


def cache_key(identity: str, request: JudgeRequest) -> str:
    """SHA-256 of the judge, the rubric, the prompt and both answers in their order."""
    parts = [identity, request.rubric, request.system or "", request.prompt, request.answer_a, request.answer_b]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- planning and cost


@dataclass
class Comparison:
    """One request to make: which example, pairing and order, and who is A and who is B."""

    item: JudgeItem
    pair: str
    order: int  # 0: the pairing's first model is A; 1: swapped
    a: str
    b: str
    request: JudgeRequest
    key: str


def plan(items: list[JudgeItem], settings: JudgeSettings, identity: str) -> list[Comparison]:
    """Every comparison: per pairing, per example with both answers, both orders."""
    out = []
    for pair in settings.pairs:
        first, second = PAIRS[pair]
        for item in items:
            if first not in item.answers or second not in item.answers:
                continue
            for order, (a, b) in enumerate(((first, second), (second, first))):
                request = JudgeRequest(prompt=item.prompt, answer_a=item.answers[a], answer_b=item.answers[b],
                                       rubric=settings.rubric, system=item.system)
                out.append(Comparison(item, pair, order, a, b, request, cache_key(identity, request)))
    return out


def estimate_cost(comparisons: list[Comparison], settings: JudgeSettings) -> tuple[int, int, float]:
    """(input tokens, output tokens, USD) of the given comparisons."""
    max_out = int(getattr(settings.backend, "max_tokens", 256) or 256)
    tokens_in = sum(OVERHEAD_TOKENS + (len(settings.rubric) + len(c.request.prompt) + len(c.request.answer_a)
                                       + len(c.request.answer_b) + len(c.request.system or "")) // CHARS_PER_TOKEN
                    for c in comparisons)
    tokens_out = max_out * len(comparisons)
    usd = tokens_in * settings.price_input_per_1m / 1e6 + tokens_out * settings.price_output_per_1m / 1e6
    return tokens_in, tokens_out, usd


def check_cost(todo: list[Comparison], settings: JudgeSettings) -> float:
    """The estimated USD of ``todo``; a ConfigError when it is over ``max_cost_usd``."""
    _, _, usd = estimate_cost(todo, settings)
    if settings.max_cost_usd is not None and usd > settings.max_cost_usd:
        raise ConfigError(f"evaluate.judge.max_cost_usd: the {len(todo)} uncached judge requests are estimated "
                          f"at ${usd:.4f}, over the limit of ${settings.max_cost_usd:.4f}; raise the limit or "
                          "lower evaluate.judge.max_examples")
    return usd


# ---------------------------------------------------------------------------- running


def run_judge(items: list[JudgeItem], settings: JudgeSettings, cache: JudgeCache, judge: Any = None,
              on_done: Callable[[], None] | None = None) -> JudgeOutcome:
    """Judge every pairing both ways round; refuse before any request when over ``max_cost_usd``."""
    judge = judge if judge is not None else JUDGES.get(settings.backend.judge)(settings.backend)
    identity = judge_identity(settings.backend)
    comparisons = plan(items[:settings.max_examples] if settings.max_examples else items, settings, identity)
    todo = [c for c in comparisons if cache.get(c.key) is None]
    usd = check_cost(todo, settings)
    summary = JudgeSummary(status="done", judge=identity, rubric=settings.rubric, estimated_cost_usd=round(usd, 6))
    malformed: Counter[str] = Counter()
    verdicts: dict[tuple[str, int, int], str | None] = {}  # (pair, example index, order) -> preferred label
    records = []
    index = {id(item): n for n, item in enumerate(items)}
    for comparison in comparisons:
        row = cache.get(comparison.key)
        from_cache = row is not None
        if from_cache:
            summary.cached += 1
        else:
            verdict, calls = _ask(judge, comparison.request, settings.malformed_retries, malformed)
            summary.calls += calls
            if verdict is not None:
                cache.put(comparison.key, verdict)
                row = cache.get(comparison.key)
        preferred = None
        if row is not None:
            preferred = {"A": comparison.a, "B": comparison.b}.get(row["winner"], "tie")
        verdicts[(comparison.pair, index[id(comparison.item)], comparison.order)] = preferred
        records.append({"pair": comparison.pair, "line": comparison.item.line, "id": comparison.item.id,
                        "order": comparison.order, "A": comparison.a, "B": comparison.b,
                        "winner": row["winner"] if row else None, "preferred": preferred,
                        "reason": row["reason"] if row else "no readable verdict", "cached": from_cache})
        if on_done is not None:
            on_done()
    summary.malformed = dict(malformed)
    summary.pairs = [pair_result(pair, verdicts, len(items), settings.bootstrap_samples) for pair in settings.pairs]
    return JudgeOutcome(summary=summary, records=records)


def _ask(judge: Any, request: JudgeRequest, retries: int, malformed: Counter[str]) -> tuple[Verdict | None, int]:
    """A readable verdict (or None after ``retries`` more tries) and the number of requests made."""
    for attempt in range(retries + 1):
        try:
            return judge.judge(request), attempt + 1
        except MalformedVerdict as exc:
            malformed[exc.reason] += 1
    return None, retries + 1


# ---------------------------------------------------------------------------- statistics


def pair_result(pair: str, verdicts: dict[tuple[str, int, int], str | None], n_items: int,
                samples: int = 2000) -> JudgePairResult:
    """Wins, ties, losses, win rate with its bootstrap interval, and position bias of one pairing."""
    first, second = PAIRS[pair]
    result = JudgePairResult(pair=pair, first=first, second=second)
    scores, flips = [], 0
    for n in range(n_items):
        if (pair, n, 0) not in verdicts:
            continue  # the example had no answer of one side
        one, two = verdicts[(pair, n, 0)], verdicts.get((pair, n, 1))
        if one is None or two is None:
            result.invalid += 1
            continue
        points = {first: 1.0, "tie": 0.5, second: 0.0}
        score = (points[one] + points[two]) / 2
        scores.append(score)
        flips += one != two
        if score > 0.5:
            result.wins += 1
        elif score < 0.5:
            result.losses += 1
        else:
            result.ties += 1
    result.compared = len(scores)
    if scores:
        result.win_rate = round(sum(scores) / len(scores), 4)
        low, high = mean_interval(scores, samples)
        result.win_rate_ci95 = [round(low, 4), round(high, 4)]
        result.position_bias_rate = round(flips / len(scores), 4)
    return result
