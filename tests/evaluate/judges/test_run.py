"""Pairwise judging against a local fake judge server: position bias, malformed verdicts, 429s,
the cache, resuming, and the cost limit. No test here sleeps: the retry policy runs on a fake clock."""

from __future__ import annotations

import json
import random

import pytest

from tests.fakes import judge as fake_judge
from tests.fakes.openai_server import FakeOpenAI
from webtune.errors import ConfigError
from webtune.evaluate.judges import JUDGES
from webtune.evaluate.judges.openai import OpenAIJudge, parse_verdict
from webtune.evaluate.judges.run import CACHE_FILE, JudgeCache, JudgeItem, JudgeSettings, run_judge
from webtune.evaluate.judges import MalformedVerdict
from webtune.retry import RetryPolicy


class FakeClock:
    """A clock whose sleeps only move it forward (and are recorded)."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def policy(self):
        return RetryPolicy(clock=lambda: self.now, wall_clock=lambda: 1.7e9 + self.now, sleep=self.sleep,
                           rng=random.Random(0))


@pytest.fixture
def server(monkeypatch):
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        yield fake


def items(n=8):
    """Tuned answers say 'Paris' (right), base answers do not, the reference does."""
    return [JudgeItem(line=i + 1, id=f"q{i}", prompt=f"Question {i}: the capital of France?", system=None,
                      answers={"tuned": f"It is Paris ({i}).", "base": f"It is Lyon ({i}).",
                               "reference": f"Paris ({i})."}) for i in range(n)]


def settings(server, **extra):
    backend = {"judge": "openai", "model": "gpt-4o-mini", "base_url": server.base_url}
    return JudgeSettings.model_validate({"backend": backend, "bootstrap_samples": 500, **extra})


def judge_for(server, clock=None):
    s = settings(server)
    return OpenAIJudge(s.backend, policy=clock.policy() if clock else None)


def test_the_swap_exposes_a_judge_that_always_prefers_the_first_answer(server, tmp_path):
    server.chat_reply = fake_judge.always_first
    outcome = run_judge(items(), settings(server, pairs=["tuned_vs_base"]), JudgeCache(tmp_path / CACHE_FILE),
                        judge=judge_for(server))
    pair = outcome.summary.pairs[0]
    assert (pair.compared, pair.wins, pair.ties, pair.losses) == (8, 0, 8, 0)
    assert pair.win_rate == 0.5 and pair.position_bias_rate == 1.0
    assert pair.win_rate_ci95 == [0.5, 0.5]
    assert len(server.chat_requests) == 16  # every example both ways round
    # The reasons are kept, per verdict, with who was shown first.
    assert {(r["order"], r["A"], r["preferred"]) for r in outcome.records} == {(0, "tuned", "tuned"),
                                                                             (1, "base", "base")}
    assert all(r["reason"] == "The first answer is better." for r in outcome.records)


def test_a_fair_judge_gives_win_rates_with_an_interval_and_no_position_bias(server, tmp_path):
    server.chat_reply = fake_judge.prefers("Paris")
    outcome = run_judge(items(), settings(server), JudgeCache(tmp_path / CACHE_FILE), judge=judge_for(server))
    by_pair = {p.pair: p for p in outcome.summary.pairs}
    assert by_pair["tuned_vs_base"].win_rate == 1.0 and by_pair["tuned_vs_base"].wins == 8
    assert by_pair["tuned_vs_base"].position_bias_rate == 0.0
    assert by_pair["tuned_vs_reference"].ties == 8  # both mention Paris
    assert by_pair["base_vs_reference"].losses == 8 and by_pair["base_vs_reference"].win_rate == 0.0


def test_mixed_verdicts_have_a_bootstrap_interval_around_the_win_rate(server, tmp_path):
    data = items(10)
    for item in data[:4]:  # 6 wins, 4 losses for tuned
        item.answers["tuned"], item.answers["base"] = item.answers["base"], item.answers["tuned"]
    server.chat_reply = fake_judge.prefers("Paris")
    pair = run_judge(data, settings(server, pairs=["tuned_vs_base"]), JudgeCache(None),
                     judge=judge_for(server)).summary.pairs[0]
    assert (pair.wins, pair.losses, pair.win_rate) == (6, 4, 0.6)
    low, high = pair.win_rate_ci95
    assert 0.2 < low < 0.6 < high < 1.0


def test_malformed_verdicts_are_asked_again_and_counted_by_reason(server, tmp_path):
    server.chat_reply = fake_judge.malformed_then(fake_judge.prefers("Paris"))
    outcome = run_judge(items(3), settings(server, pairs=["tuned_vs_base"]), JudgeCache(None), judge=judge_for(server))
    assert outcome.summary.malformed == {"no JSON object in the reply": 6}
    assert outcome.summary.calls == 12 and outcome.summary.pairs[0].wins == 3


def test_a_judge_that_never_answers_properly_leaves_examples_invalid(server):
    server.chat_reply = lambda body: json.dumps({"winner": "C", "reason": "neither"})
    outcome = run_judge(items(2), settings(server, pairs=["tuned_vs_base"], malformed_retries=1),
                        JudgeCache(None), judge=judge_for(server))
    pair = outcome.summary.pairs[0]
    assert pair.invalid == 2 and pair.compared == 0 and pair.win_rate is None
    assert outcome.summary.malformed == {"winner is not A, B or tie": 8}


def test_429_with_retry_after_is_waited_on_a_fake_clock(server):
    server.chat_reply = fake_judge.prefers("Paris")
    server.inject("chat.completions", 429, retry_after="7", times=2)
    clock = FakeClock()
    outcome = run_judge(items(1), settings(server, pairs=["tuned_vs_base"]), JudgeCache(None),
                        judge=judge_for(server, clock))
    assert clock.sleeps == [7.0, 7.0]
    assert server.counts["chat.completions.fault"] == 2 and outcome.summary.pairs[0].wins == 1


def test_verdicts_are_cached_and_a_stopped_run_resumes(server, tmp_path):
    server.chat_reply = fake_judge.prefers("Paris")
    path = tmp_path / CACHE_FILE
    first = run_judge(items(4), settings(server, pairs=["tuned_vs_base"]), JudgeCache(path), judge=judge_for(server))
    assert first.summary.calls == 8 and len(path.read_text().splitlines()) == 8
    # Half the cache survives a crash (plus a torn line): only the missing half is asked again.
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:4]) + "\n{\"key\": \"torn")
    server.chat_requests.clear()
    again = run_judge(items(4), settings(server, pairs=["tuned_vs_base"]), JudgeCache(path), judge=judge_for(server))
    assert (again.summary.calls, again.summary.cached) == (4, 4) and len(server.chat_requests) == 4
    assert again.summary.pairs[0].model_dump() == first.summary.pairs[0].model_dump()
    # A changed rubric is a different question: nothing cached applies.
    server.chat_requests.clear()
    other = run_judge(items(4), settings(server, pairs=["tuned_vs_base"], rubric="Prefer brevity."),
                      JudgeCache(path), judge=judge_for(server))
    assert other.summary.cached == 0 and len(server.chat_requests) == 8


def test_over_the_cost_limit_the_judge_refuses_before_any_request(server, tmp_path):
    server.chat_reply = fake_judge.prefers("Paris")
    expensive = settings(server, price_input_per_1m=5.0, price_output_per_1m=15.0, max_cost_usd=0.001)
    with pytest.raises(ConfigError, match=r"max_cost_usd: the 48 uncached judge requests are estimated at \$0\.23\d+, over the limit of \$0\.0010"):
        run_judge(items(), expensive, JudgeCache(tmp_path / CACHE_FILE), judge=judge_for(server))
    assert server.chat_requests == []
    ok = settings(server, price_input_per_1m=5.0, price_output_per_1m=15.0, max_cost_usd=1.0,
                  pairs=["tuned_vs_base"])
    outcome = run_judge(items(), ok, JudgeCache(None), judge=judge_for(server))
    assert 0 < outcome.summary.estimated_cost_usd < 1.0


def test_parse_verdict_rejects_what_is_not_a_verdict():
    assert parse_verdict('```json\n{"reason": "clearer", "winner": "b"}\n```') == ("B", "clearer")
    for text, reason in (("A", "no JSON object in the reply"), ("{not json}", "reply is not valid JSON"),
                         ('{"winner": "A"}', "no reason given")):
        with pytest.raises(MalformedVerdict, match=reason):
            parse_verdict(text)


def test_a_plugin_judge_registers_with_the_judge_kind():
    assert "openai" in JUDGES.names()
    with pytest.raises(TypeError, match="a `judge` method"):
        JUDGES.register("broken")(type("Broken", (), {"Config": OpenAIJudge.Config}))
