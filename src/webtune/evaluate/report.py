"""The evaluation report: figures, deltas, samples; as JSON, Markdown, HTML, a plot and a table."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from webtune.evaluate.metrics.base import Metric
from webtune.handoffs import EvalCounts, EvalReport, EvalSettings, MetricRow
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


def build_report(run: Any, metrics: list[Metric], config: Any, counts: dict[str, int]
                 ) -> tuple[EvalReport, list[dict[str, Any]]]:
    """The report and the per-sample records from one evaluation run."""
    figures: dict[str, dict[str, float]] = {"base": {}, "tuned": {}}
    directions: dict[str, str | None] = {}
    for metric in metrics:
        directions.update(metric.directions)
        for label in figures:
            figures[label].update(metric.aggregate(run.results[label]))
    keys = [k for k in directions if k in figures["base"] or k in figures["tuned"]]
    deltas = {k: (figures["tuned"][k] - figures["base"][k]) if k in figures["base"] and k in figures["tuned"]
              else None for k in keys}
    rows = [MetricRow(metric=k, base=figures["base"].get(k), tuned=figures["tuned"].get(k), delta=deltas[k],
                      direction=directions[k], verdict=verdict(directions[k], deltas[k])) for k in keys]
    samples = build_samples(run, metrics)
    report = EvalReport(
        created_at=utc_now(), models=run.models, metrics=figures, deltas=deltas, rows=rows,
        counts=EvalCounts(**counts),
        settings=EvalSettings(max_examples=config.max_examples, max_new_tokens=config.max_new_tokens,
                              metrics=[m.registered_name for m in metrics], decoding="greedy",
                              notes={k: v for m in metrics for k, v in m.notes().items()}),
        timings_s={k: round(v, 2) for k, v in run.timings.items()}, summary=summary_line(rows),
    )
    return report, samples


def build_samples(run: Any, metrics: list[Metric]) -> list[dict[str, Any]]:
    """One record per generated example: prompt, reference, both answers and their scores."""
    index_of = {id(item): n for n, item in enumerate(run.loss_items)}
    samples = []
    for n, item in enumerate(run.generated):
        record: dict[str, Any] = {
            "line": item.line, "id": item.id,
            "system": next((m["content"] for m in item.prompt if m["role"] == "system"), None),
            "prompt": next((m["content"] for m in reversed(item.prompt) if m["role"] == "user"), ""),
            "reference": item.reference, "answers": {}, "scores": {}, "loss": {},
        }
        for label, result in run.results.items():
            answer = result.predictions[n] if n < len(result.predictions) else ""
            record["answers"][label] = answer
            scores: dict[str, float] = {}
            for metric in metrics:
                scores.update(metric.sample(answer, item.reference))
            record["scores"][label] = scores
            losses = run.per_example_loss.get(label)
            if losses and id(item) in index_of:
                record["loss"][label] = losses[index_of[id(item)]]
        samples.append(record)
    return samples


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


def print_table(report: EvalReport, console: Console) -> None:
    """Base vs tuned with deltas, coloured by whether the change is an improvement."""
    table = Table(title="evaluation · base vs tuned (held-out)")
    table.add_column("metric")
    for column in ("base", "tuned", "delta"):
        table.add_column(column, justify="right")
    colours = {"better": "green", "worse": "red"}
    for row in report.rows:
        delta = fmt(row.delta, signed=True)
        colour = colours.get(row.verdict or "")
        table.add_row(row.metric, fmt(row.base), fmt(row.tuned),
                      f"[{colour}]{delta}[/{colour}]" if colour else delta)
    c = report.counts
    table.caption = (f"{c.test_examples} test examples · loss on {c.loss_examples} · "
                     f"answers on {c.generated} · rejected {c.rejected}")
    console.print(table)


def plot_png(report: EvalReport) -> bytes | None:
    """A PNG of small bar charts, base vs tuned, one panel per figure (their scales differ)."""
    rows = [r for r in report.rows if r.base is not None or r.tuned is not None]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(2.6 * len(rows) + 0.6, 3.0), squeeze=False)
    for ax, row in zip(axes[0], rows):
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


def render_markdown(report: EvalReport, samples: list[dict[str, Any]], shown: int) -> str:
    """report.md: the figures table, the counts and a few samples side by side."""
    lines = ["# Evaluation: base vs tuned", "",
             f"Base: `{report.models.get('base')}` · tuned: `{report.models.get('tuned')}`", "",
             f"**{report.summary}**", "", "| metric | base | tuned | delta | |", "|---|---:|---:|---:|---|"]
    for row in report.rows:
        lines.append(f"| {row.metric} | {fmt(row.base)} | {fmt(row.tuned)} | "
                     f"{fmt(row.delta, True)} | {row.verdict or ''} |")
    c = report.counts
    lines += ["", f"{c.test_examples} held-out examples; loss on {c.loss_examples}, greedy answers "
              f"(max {report.settings.max_new_tokens} new tokens) on {c.generated}; "
              f"{c.rejected} rejected (see rejects.jsonl).", ""]
    lines += [f"- {key}: {note}" for key, note in report.settings.notes.items()]
    lines += ["" if report.settings.notes else None, f"![metrics]({PLOT})", ""]
    lines = [line for line in lines if line is not None]
    lines += _checks_markdown(report)
    for n, sample in enumerate(samples[:shown], start=1):
        lines += [f"## Sample {n}", "", "**Prompt**", "", _quote(sample["prompt"]), "",
                  "**Reference**", "", _quote(sample["reference"]), ""]
        for label, answer in sample["answers"].items():
            scores = ", ".join(f"{k} {v:.3f}" for k, v in sample["scores"].get(label, {}).items())
            lines += [f"**{label}**" + (f" ({scores})" if scores else ""), "", _quote(answer or "(empty)"), ""]
    return "\n".join(lines) + "\n"


def _checks_markdown(report: EvalReport) -> list[str]:
    """The judge and forgetting lines (`webtune.evaluate.checks`), one bullet each."""
    from webtune.evaluate.checks import check_lines

    found = check_lines(report)
    return ["## Checks", "", *(f"- {line}" for line in found), ""] if found else []


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in (text or "").splitlines()) or "> "


def render_html(report: EvalReport, samples: list[dict[str, Any]], shown: int, png: bytes | None) -> str:
    """report.html: one self-contained page (inline CSS, the plot embedded as base64)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("webtune.evaluate", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["fmt"] = fmt
    template = env.get_template("report.html.j2")
    image = base64.b64encode(png).decode("ascii") if png else None
    from webtune.evaluate.checks import check_lines

    return template.render(report=report, samples=samples[:shown], image=image, checks=check_lines(report))


def write_reports(out: Path, report: EvalReport, samples: list[dict[str, Any]], config: Any) -> None:
    """report.json, report.md, report.html, samples.jsonl and metrics.png into ``out``."""
    png = plot_png(report)
    if png:
        (out / PLOT).write_bytes(png)
    report.write(out / EvalReport.FILE)
    write_jsonl(out / "samples.jsonl", samples)
    atomic_write_text(out / "report.md", render_markdown(report, samples, config.report_samples))
    atomic_write_text(out / "report.html", render_html(report, samples, config.report_samples, png))
