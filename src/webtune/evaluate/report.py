"""The evaluation report: figures, deltas, samples; as JSON, Markdown, HTML, a plot and a table."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from webtune.evaluate.metrics.base import Metric
from webtune.evaluate.stats import Comparison, compare, win_tie_loss
from webtune.handoffs import Contamination, EvalCounts, EvalReport, EvalSettings, MetricRow
from webtune.jsonl import atomic_write_text, write_jsonl
from webtune.records import utc_now

PLOT = "metrics.png"


def verdict(direction: str | None, delta: float | None) -> str | None:
    """``better``, ``worse``, ``same`` or None (no direction, or no delta)."""
    if direction is None or delta is None:
        return None
    if abs(delta) < 1e-12:
        return "same"
    return "better" if (delta < 0) == (direction == "lower") else "worse"


def build_report(run: Any, metrics: list[Metric], config: Any, counts: dict[str, int],
                 contamination: Contamination | None = None) -> tuple[EvalReport, list[dict[str, Any]]]:
    """The report and the per-sample records from one evaluation run.

    The headline figures leave out the test examples flagged as contaminated (when
    ``contamination.excluded_from_headline``); the samples keep them, marked.
    """
    excluded = contaminated_lines(contamination) if contamination and contamination.excluded_from_headline else set()
    loss_keep = [i for i, item in enumerate(run.loss_items) if item.line not in excluded]
    gen_keep = [i for i, item in enumerate(run.generated) if item.line not in excluded]
    headline = {label: result.subset(loss_keep, gen_keep) for label, result in run.results.items()}
    figures: dict[str, dict[str, float]] = {"base": {}, "tuned": {}}
    directions: dict[str, str | None] = {}
    for metric in metrics:
        directions.update(metric.directions)
        for label in figures:
            if label in headline:
                figures[label].update(metric.aggregate(headline[label]))
    keys = [k for k in directions if k in figures["base"] or k in figures["tuned"]]
    deltas = {k: (figures["tuned"][k] - figures["base"][k]) if k in figures["base"] and k in figures["tuned"]
              else None for k in keys}
    comparisons = compare_models(headline, metrics, directions, config)
    rows = [metric_row(k, figures, deltas[k], directions[k], comparisons.get(k)) for k in keys]
    samples = build_samples(run, metrics, contamination)
    report = EvalReport(
        created_at=utc_now(), models=run.models, metrics=figures, deltas=deltas, rows=rows,
        counts=EvalCounts(**counts, contaminated=len(contamination.flagged) if contamination else 0),
        settings=EvalSettings(max_examples=config.max_examples, max_new_tokens=config.max_new_tokens,
                              metrics=[m.registered_name for m in metrics], decoding="greedy",
                              notes={k: v for m in metrics for k, v in m.notes().items()}),
        timings_s={k: round(v, 2) for k, v in run.timings.items()}, summary=summary_line(rows),
        contamination=contamination,
    )
    return report, samples


def contaminated_lines(contamination: Contamination | None) -> set[int]:
    """The test-split lines of the flagged examples."""
    return {f.line for f in contamination.flagged} if contamination else set()


def compare_models(results: dict[str, Any], metrics: list[Metric], directions: dict[str, str | None],
                   config: Any) -> dict[str, Comparison]:
    """Per figure with per-example values for both models: delta, bootstrap interval, wins/ties/losses."""
    if "base" not in results or "tuned" not in results:
        return {}
    out: dict[str, Comparison] = {}
    for metric in metrics:
        base, tuned = metric.per_example(results["base"]), metric.per_example(results["tuned"])
        for key in base.keys() & tuned.keys():
            if base[key].values and len(base[key].values) == len(tuned[key].values):
                out[key] = compare(base[key], tuned[key], directions.get(key),
                                   resamples=getattr(config, "bootstrap_resamples", 2000),
                                   seed=getattr(config, "seed", 0))
    return out


def metric_row(key: str, figures: dict[str, dict[str, float]], delta: float | None, direction: str | None,
               comparison: Comparison | None) -> MetricRow:
    """One row of the report: the figures, and the interval and outcomes when per-example values exist."""
    row = MetricRow(metric=key, base=figures["base"].get(key), tuned=figures["tuned"].get(key), delta=delta,
                    direction=direction, verdict=verdict(direction, delta))
    if comparison is not None:
        row.delta_ci95 = [comparison.ci95[0], comparison.ci95[1]]
        row.wins, row.ties, row.losses, row.n = (comparison.wins, comparison.ties, comparison.losses,
                                                 comparison.n)
    return row


def build_samples(run: Any, metrics: list[Metric], contamination: Contamination | None = None
                  ) -> list[dict[str, Any]]:
    """One record per generated example: prompt, reference, both answers, their scores and deltas."""
    index_of = {id(item): n for n, item in enumerate(run.loss_items)}
    flagged = {f.line: f.sources for f in contamination.flagged} if contamination else {}
    scores = {label: sample_scores(result, metrics) for label, result in run.results.items()}
    directions = {k: d for m in metrics for k, d in m.directions.items()}
    samples = []
    for n, item in enumerate(run.generated):
        record: dict[str, Any] = {
            "line": item.line, "id": item.id,
            "system": next((m["content"] for m in item.prompt if m["role"] == "system"), None),
            "prompt": next((m["content"] for m in reversed(item.prompt) if m["role"] == "user"), ""),
            "reference": item.reference, "answers": {}, "scores": {}, "loss": {}, "finish": {},
            "contaminated": flagged.get(item.line, []),
        }
        for label, result in run.results.items():
            record["answers"][label] = result.predictions[n] if n < len(result.predictions) else ""
            record["scores"][label] = scores[label][n] if n < len(scores[label]) else {}
            if n < len(result.finish_reasons):
                record["finish"][label] = result.finish_reasons[n]
            losses = run.per_example_loss.get(label)
            if losses and id(item) in index_of:
                record["loss"][label] = losses[index_of[id(item)]]
        record["delta"], record["outcome"] = sample_deltas(record["scores"], directions)
        samples.append(record)
    return samples


def sample_scores(result: Any, metrics: list[Metric]) -> list[dict[str, float]]:
    """Each generated answer's figures from the answer metrics (`Metric.per_example`, else `sample`)."""
    rows: list[dict[str, float]] = [{} for _ in result.predictions]
    for metric in metrics:
        if metric.over != "generated":
            continue
        values = metric.per_example(result)
        if values:
            for key, per in values.items():
                for n, value in enumerate(per.values[:len(rows)]):
                    rows[n][key] = value
        else:  # a metric with only per-sample figures
            for n, (prediction, reference) in enumerate(zip(result.predictions, result.references)):
                rows[n].update(metric.sample(prediction, reference))
    return rows


def sample_deltas(scores: dict[str, dict[str, float]], directions: dict[str, str | None]
                  ) -> tuple[dict[str, float], dict[str, str]]:
    """Per figure: tuned minus base on one example, and ``win``/``tie``/``loss`` where a direction exists."""
    base, tuned = scores.get("base", {}), scores.get("tuned", {})
    deltas, outcomes = {}, {}
    for key in base.keys() & tuned.keys():
        deltas[key] = tuned[key] - base[key]
        if directions.get(key):
            wins, ties, _ = win_tie_loss([base[key]], [tuned[key]], directions[key])
            outcomes[key] = "win" if wins else "tie" if ties else "loss"
    return deltas, outcomes


def summary_line(rows: list[MetricRow]) -> str:
    """One sentence: which figures the tuned model improved."""
    judged = [r for r in rows if r.verdict in ("better", "worse", "same")]
    if not judged:
        return "no comparable figures"
    better = [r.metric for r in judged if r.verdict == "better"]
    worse = [r.metric for r in judged if r.verdict == "worse"]
    parts = []
    if better:
        parts.append("tuned is better on " + ", ".join(better))
    if worse:
        parts.append("worse on " + ", ".join(worse))
    return "; ".join(parts) or "no difference"


def fmt(value: float | None, signed: bool = False) -> str:
    """A figure for tables: 4 significant decimals, '—' when missing."""
    if value is None:
        return "—"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def fmt_ci(row: MetricRow) -> str:
    """The 95% interval of a row's delta as ``[lo, hi]``, '—' when there is none."""
    if not row.delta_ci95:
        return "—"
    lo, hi = row.delta_ci95
    return f"[{lo:+.4f}, {hi:+.4f}]"


def fmt_wtl(row: MetricRow) -> str:
    """Wins/ties/losses of the tuned model as ``W/T/L``, '—' without a direction or per-example values."""
    if row.wins is None or row.direction is None:
        return "—"
    return f"{row.wins}/{row.ties}/{row.losses}"


def fmt_timings(timings: dict[str, float]) -> str:
    """``load base 1.2 s · base loss 0.4 s · ...`` from ``{"load_base_s": 1.2, ...}``."""
    parts = []
    for key, seconds in timings.items():
        name = key.removesuffix("_s").replace("_", " ")
        parts.append(f"{name} {seconds:.1f} s" if seconds < 120 else f"{name} {seconds / 60:.1f} min")
    return " · ".join(parts)


def counts_line(report: EvalReport, short: bool = False) -> str:
    """The counts in one sentence (no mention of a rejects file when nothing was rejected)."""
    c = report.counts
    answers = (f"answers (≤ {report.settings.max_new_tokens} tokens)" if short
               else f"greedy answers (at most {report.settings.max_new_tokens} new tokens)")
    parts = [f"{c.test_examples} held-out examples", f"loss on {c.loss_examples}", f"{answers} on {c.generated}"]
    if c.contaminated:
        left_out = (" (left out of the figures)" if report.contamination
                    and report.contamination.excluded_from_headline else "")
        parts.append(f"{c.contaminated} contaminated{left_out}")
    parts.append(f"{c.rejected} rejected (see rejects.jsonl)" if c.rejected else "none rejected")
    return " · ".join(parts)


def print_table(report: EvalReport, console: Console) -> None:
    """Base vs tuned with deltas, their 95% intervals and win/tie/loss counts, coloured by verdict
    (bold when the interval excludes 0)."""
    table = Table(title="evaluation · base vs tuned (held-out)")
    table.add_column("metric")
    for column in ("base", "tuned", "delta", "95% CI of delta", "W/T/L"):
        table.add_column(column, justify="right", no_wrap=True)
    colours = {"better": "green", "worse": "red"}
    for row in report.rows:
        delta = fmt(row.delta, signed=True)
        colour = colours.get(row.verdict or "")
        if colour and row.significant():
            colour = "bold " + colour
        table.add_row(row.metric, fmt(row.base), fmt(row.tuned),
                      f"[{colour}]{delta}[/{colour}]" if colour else delta, fmt_ci(row), fmt_wtl(row))
    table.caption = counts_line(report, short=True)
    console.print(table)


def plot_png(report: EvalReport) -> bytes | None:
    """A PNG of small bar charts, base vs tuned, one panel per figure (their scales differ)."""
    rows = [r for r in report.rows if r.base is not None or r.tuned is not None]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # At most 4 panels a row: the plot stays legible on a narrow (phone) screen.
    columns = min(4, len(rows))
    lines = -(-len(rows) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(2.6 * columns + 0.6, 3.0 * lines), squeeze=False)
    for ax in axes.flat[len(rows):]:
        ax.set_visible(False)
    for ax, row in zip(axes.flat, rows):
        values = [row.base or 0.0, row.tuned or 0.0]
        bars = ax.bar(["base", "tuned"], values, color=["#9aa5b1", "#2f80ed"])
        ax.bar_label(bars, labels=[fmt(row.base), fmt(row.tuned)], fontsize=8)
        arrow = {"lower": "lower is better", "higher": "higher is better"}.get(row.direction or "", "")
        change = ""
        if row.delta is not None and row.base:
            change = f"Δ {row.delta / abs(row.base):+.1%}"
        ax.set_title(row.metric + "\n" + " · ".join(p for p in (change, arrow) if p), fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_ylim(0, max(values) * 1.2 or 1)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


@dataclass
class Section:
    """An optional part of the report (contamination; a judge, forgetting): how it renders.

    Each renderer gets the report and returns its Markdown / HTML, or None when the report has
    no such section. `render_markdown` and `render_html` iterate over `SECTIONS` in order.
    """

    name: str
    markdown: Callable[[EvalReport], str | None]
    html: Callable[[EvalReport], str | None]


def contamination_markdown(report: EvalReport) -> str | None:
    """The contamination section of report.md."""
    c = report.contamination
    if c is None:
        return None
    indexed = ", ".join(f"{source} ({_texts(n)})" for source, n in c.indexed.items()) or "nothing"
    lines = ["## Contamination", "",
             f"{len(c.flagged)} of {c.checked} test examples share a {c.n}-word n-gram with {indexed}"
             + (" and are left out of the figures above." if c.flagged and c.excluded_from_headline else ".")]
    if c.flagged:
        lines += ["", "| test line | id | overlaps | shared n-gram |", "|---:|---|---|---|"]
        for flag in c.flagged:
            lines.append(f"| {flag.line} | {_cell(flag.id or '')} | {', '.join(flag.sources)} | "
                         f"{_cell(flag.ngram)} |")
    return "\n".join(lines)


def contamination_html(report: EvalReport) -> str | None:
    """The contamination section of report.html."""
    c = report.contamination
    if c is None:
        return None
    indexed = ", ".join(f"{escape(source)} ({_texts(n)})" for source, n in c.indexed.items()) or "nothing"
    text = (f"{len(c.flagged)} of {c.checked} test examples share a {c.n}-word n-gram with {indexed}"
            + (" and are left out of the figures above." if c.flagged and c.excluded_from_headline else "."))
    parts = ['<section class="contamination"><h2>Contamination</h2>', f"<p>{text}</p>"]
    if c.flagged:
        parts.append('<div class="scroll"><table class="metrics"><thead><tr><th>test line</th><th>id</th>'
                     "<th>overlaps</th><th>shared n-gram</th></tr></thead><tbody>")
        for flag in c.flagged:
            parts.append(f"<tr><td>{flag.line}</td><td>{escape(flag.id or '')}</td>"
                         f"<td>{escape(', '.join(flag.sources))}</td><td>{escape(flag.ngram)}</td></tr>")
        parts.append("</tbody></table></div>")
    parts.append("</section>")
    return "".join(parts)


def checks_markdown(report: EvalReport) -> str | None:
    """The judge and forgetting lines (`webtune.evaluate.checks`), one bullet each."""
    from webtune.evaluate.checks import check_lines

    found = check_lines(report)
    return "\n".join(["## Checks", "", *(f"- {line}" for line in found)]) if found else None


def checks_html(report: EvalReport) -> str | None:
    """The judge and forgetting lines as a list in report.html."""
    from webtune.evaluate.checks import check_lines

    found = check_lines(report)
    if not found:
        return None
    items = "".join(f"<li>{escape(line)}</li>" for line in found)
    return f'<section class="checks"><h2>Checks</h2><ul class="checks">{items}</ul></section>'


def champion_markdown(report: EvalReport) -> str | None:
    """The champion section of report.md."""
    c = report.champion
    if c is None:
        return None
    lines = ["## Champion vs challenger", "",
             f"Production `{c.champion}` against the new model, loss per token (lower is better).", "",
             "| set | examples | champion | challenger | delta | 95% CI of delta | wins/ties/losses |",
             "|---|---:|---:|---:|---:|---|---|"]
    for s in c.sets:
        ci = f"[{s.delta_ci95[0]:+.4f}, {s.delta_ci95[1]:+.4f}]" if s.delta_ci95 else "-"
        lines.append(f"| {s.name} | {s.examples} | {s.champion_loss} | {s.challenger_loss} | "
                     f"{s.delta if s.delta is not None else '-'} | {ci} | {s.wins}/{s.ties}/{s.losses} |")
    return "\n".join(lines)


def champion_html(report: EvalReport) -> str | None:
    """The champion section of report.html (the Markdown table in a pre block)."""
    text = champion_markdown(report)
    if text is None:
        return None
    return f"<h2>Champion vs challenger</h2><pre>{escape(text)}</pre>"


# Optional sections, rendered in this order after the figures; other checks append theirs.
SECTIONS: list[Section] = [Section("checks", checks_markdown, checks_html),
                           Section("contamination", contamination_markdown, contamination_html),
                           Section("champion", champion_markdown, champion_html)]


def _texts(n: int) -> str:
    return f"{n} text" if n == 1 else f"{n} texts"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _fenced(text: str) -> str:
    """A fenced block keeping the text's line breaks (a fence longer than any backtick run in it)."""
    longest = max((len(run) for run in re.findall(r"`+", text or "")), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text or ''}\n{fence}"


def render_markdown(report: EvalReport, samples: list[dict[str, Any]], shown: int) -> str:
    """report.md: the figures with intervals, the counts, the optional sections, a few samples."""
    lines = ["# Evaluation: base vs tuned", "",
             f"Base: `{report.models.get('base')}` · tuned: `{report.models.get('tuned')}`", "",
             f"**{report.summary}**", "",
             "| metric | base | tuned | delta | 95% CI of delta | wins/ties/losses | |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for row in report.rows:
        lines.append(f"| {row.metric} | {fmt(row.base)} | {fmt(row.tuned)} | {fmt(row.delta, True)} | "
                     f"{fmt_ci(row)} | {fmt_wtl(row)} | {row.verdict or ''} |")
    lines += ["", counts_line(report) + ".", "",
              "Intervals: paired bootstrap over the test examples (95%, percentile); wins/ties/losses "
              "count the examples on which the tuned model did better/the same/worse.", ""]
    lines += [f"- {key}: {note}" for key, note in report.settings.notes.items()]
    lines += [""] if report.settings.notes else []
    lines += [f"![metrics]({PLOT})", ""]
    for section in SECTIONS:
        text = section.markdown(report)
        if text:
            lines += [text, ""]
    shown_samples = samples[:shown]
    lines += ["## Answers", "", f"Showing {len(shown_samples)} of {len(samples)} answers "
              "(all of them are in samples.jsonl and report.html).", ""]
    for n, sample in enumerate(shown_samples, start=1):
        flag = f" (contaminated: {', '.join(sample['contaminated'])})" if sample.get("contaminated") else ""
        lines += [f"### Sample {n}{flag}", "", "**Prompt**", "", _fenced(sample["prompt"]), "",
                  "**Reference**", "", _fenced(sample["reference"]), ""]
        for label, answer in sample["answers"].items():
            scores = ", ".join(f"{k} {v:.3f}" for k, v in sample["scores"].get(label, {}).items())
            lines += [f"**{label}**" + (f" ({scores})" if scores else ""), "", _fenced(answer or "(empty)"), ""]
    if report.timings_s:
        lines += ["---", "", f"Timings: {fmt_timings(report.timings_s)}"]
    return "\n".join(lines) + "\n"


def render_html(report: EvalReport, samples: list[dict[str, Any]], shown: int, png: bytes | None) -> str:
    """report.html: one self-contained page (inline CSS and JS, the plot embedded as base64); every
    answer in a table that sorts by delta and filters by win/tie/loss."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("webtune.evaluate", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["fmt"] = fmt
    env.filters["ci"] = fmt_ci
    env.filters["wtl"] = fmt_wtl
    template = env.get_template("report.html.j2")
    image = base64.b64encode(png).decode("ascii") if png else None
    sections = [html for html in (s.html(report) for s in SECTIONS) if html]
    keys = [r.metric for r in report.rows if r.direction and any(r.metric in s.get("delta", {}) for s in samples)]
    return template.render(report=report, samples=samples, keys=keys, image=image, sections=sections,
                           counts=counts_line(report), timings=fmt_timings(report.timings_s))


def write_reports(out: Path, report: EvalReport, samples: list[dict[str, Any]], config: Any) -> None:
    """report.json, report.md, report.html, samples.jsonl and metrics.png into ``out``."""
    png = plot_png(report)
    if png:
        (out / PLOT).write_bytes(png)
    report.write(out / EvalReport.FILE)
    write_jsonl(out / "samples.jsonl", samples)
    atomic_write_text(out / "report.md", render_markdown(report, samples, config.report_samples))
    atomic_write_text(out / "report.html", render_html(report, samples, config.report_samples, png))
