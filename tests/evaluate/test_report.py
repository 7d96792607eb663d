"""Report rendering: formatted timings, prompts that keep their line breaks, counts, sections."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress

from webtune.evaluate import report as report_module
from webtune.evaluate.report import (Section, counts_line, fmt_timings, print_table, render_html,
                                     render_markdown)
from webtune.evaluate.runner import RateColumn
from webtune.handoffs import EvalCounts, EvalReport, EvalSettings, MetricRow


def make_report(rejected=0):
    return EvalReport(models={"base": "b", "tuned": "t"}, summary="tuned is better on rouge_l",
                      rows=[MetricRow(metric="rouge_l", base=0.2, tuned=0.3, delta=0.1, direction="higher",
                                      verdict="better", delta_ci95=[0.04, 0.16], wins=7, ties=2, losses=1, n=10)],
                      counts=EvalCounts(test_examples=10 + rejected, evaluated=10, rejected=rejected,
                                        loss_examples=10, generated=10),
                      settings=EvalSettings(max_new_tokens=32), timings_s={"load_base_s": 1.234, "tuned_generate_s": 150.0})


def sample(n):
    return {"line": n, "id": None, "prompt": f"Line one of {n}\n```\nline three", "reference": "ref",
            "answers": {"base": "a", "tuned": "b"}, "scores": {"base": {"rouge_l": 0.1}, "tuned": {"rouge_l": 0.3}},
            "loss": {}, "finish": {"base": "length", "tuned": "stop"}, "contaminated": [],
            "delta": {"rouge_l": 0.2}, "outcome": {"rouge_l": "win"}}


def test_timings_are_formatted_not_a_raw_dict():
    assert fmt_timings({"load_base_s": 1.234, "tuned_generate_s": 150.0}) == \
        "load base 1.2 s · tuned generate 2.5 min"


def test_markdown_keeps_prompt_line_breaks_says_what_it_shows_and_mentions_rejects_only_when_there_are():
    md = render_markdown(make_report(), [sample(1), sample(2), sample(3)], shown=2)
    assert "````text\nLine one of 1\n```\nline three\n````" in md  # a longer fence around a ``` line
    assert "Showing 2 of 3 answers" in md
    assert "rejects.jsonl" not in md and "none rejected" in md
    assert "| rouge_l | 0.2000 | 0.3000 | +0.1000 | [+0.0400, +0.1600] | 7/2/1 | better |" in md
    assert "Timings: load base 1.2 s · tuned generate 2.5 min" in md
    assert "see rejects.jsonl" in counts_line(make_report(rejected=2))


def test_html_has_every_answer_and_the_sections_a_later_check_adds(monkeypatch):
    monkeypatch.setattr(report_module, "SECTIONS", report_module.SECTIONS + [
        Section("judge", lambda r: "## Judge", lambda r: "<section><h2>Judge</h2></section>")])
    html = render_html(make_report(), [sample(n) for n in range(5)], shown=2, png=None)
    assert html.count("data-deltas=") == 5 and "Showing 5 of 5 answers" in html
    assert "<h2>Judge</h2>" in html and "[+0.0400, +0.1600]" in html
    assert '<option value="win">' in html and "hit max_new_tokens" in html
    assert "load base 1.2 s" in html
    assert "## Judge" in render_markdown(make_report(), [], shown=0)


def test_the_terminal_table_shows_the_interval_and_outcomes():
    console = Console(record=True, width=140)
    print_table(make_report(), console)
    text = console.export_text()
    assert "[+0.0400, +0.1600]" in text and "7/2/1" in text and "95% CI of delta" in text


def test_progress_shows_answers_per_second():
    progress = Progress(RateColumn())
    task = progress.add_task("tuned · generate", total=4, unit="answers")
    assert "– answers/s" in str(RateColumn().render(progress.tasks[0]))
    progress.advance(task, 4)
    assert str(RateColumn().render(progress.tasks[0])).endswith(" answers/s")
    assert str(RateColumn().render(progress.tasks[0])) != "– answers/s"
