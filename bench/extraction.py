#!/usr/bin/env python3
"""Main-text extraction: webtune's `html_to_text` vs plain `trafilatura.extract`, same run.

Data: trafilatura's public evaluation set (990 web pages in 12+ languages with, for each,
snippets that must appear in the main text and snippets that must not). It is not in this
repository (the pages belong to their sites); get it from trafilatura's repository
(Apache-2.0) and pass its ``tests`` folder:

    git clone --depth 1 https://github.com/adbar/trafilatura /tmp/trafilatura
    .venv/bin/python bench/extraction.py --data /tmp/trafilatura/tests

Metric, as that benchmark defines it (tests/eval_common.py there): per page, a "with"
snippet found in the output (whitespace-normalised substring) is a true positive, a missing
one a false negative, a "without" snippet found is a false positive; precision, recall
and F1 over all pages. Each page is extracted by both systems back to back and each call's
CPU time (process time) is summed, so load from other jobs hits both alike.

The compared trafilatura call is the benchmark's own canonical one:
``extract(html, include_comments=False, include_tables=True)`` (its defaults otherwise,
fallbacks on); ``--defaults`` adds a bare ``extract(html)``.

``--identity`` checks instead that webtune's `webtune.clean.fast_trafilatura` path gives plain
trafilatura's output on every page, in four modes, and what CPU each takes.

``--scrapinghub DIR`` runs the same comparison on the Scrapinghub article-extraction-benchmark
instead (181 news and blog pages, ``html/*.html.gz`` and ``ground-truth.json`` in DIR; MIT),
the lead's held-back check: nothing is tuned on it. Its metric, as that benchmark defines it:
the text is cut into word tokens (``\w+``) and 4-token shingles; per page, shingles in both the
output and the true ``articleBody`` (counted with multiplicity) are true positives, the rest of
the output's false positives, the rest of the truth's false negatives, the three normalised to
sum to 1; precision and recall are the means over pages (pages with no output, or no truth,
left out of that mean), F1 their harmonic mean. trafilatura is called as that benchmark's own
runner calls it, ``extract(html, include_comments=False)``.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any, Callable

from webtune.clean.steps.html_to_text import HtmlToText, HtmlToTextConfig
from webtune.records import Document, SourceRef


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def load(data: Path, limit: int | None) -> list[tuple[str, bytes, dict[str, Any]]]:
    """``(url, html bytes, annotation)`` of each page (from cache/ or eval/, as the benchmark looks)."""
    annotations = json.loads((data / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url in sorted(annotations)[:limit]:
        item = annotations[url]
        path = next((p for p in (data / "cache" / item["file"], data / "eval" / item["file"]) if p.is_file()), None)
        if path is None:
            raise SystemExit(f"{data}: page file not found: {item['file']}")
        pages.append((url, path.read_bytes(), item))
    return pages


class Score:
    """Accumulated true/false positives/negatives and CPU seconds of one system."""

    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0
        self.cpu = 0.0

    def add(self, item: dict[str, Any], output: str | None) -> None:
        text = norm(output or "")
        found = sum(1 for w in item["with"] if norm(w) in text)
        self.tp += found
        self.fn += len(item["with"]) - found
        self.fp += sum(1 for w in item["without"] if norm(w) in text)

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load_scrapinghub(data: Path, limit: int | None) -> list[tuple[str, bytes, str]]:
    """``(page id, html bytes, true articleBody)`` of the Scrapinghub benchmark's pages."""
    import gzip

    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        path = data / "html" / f"{page_id}.html.gz"
        if not path.is_file():
            raise SystemExit(f"{data}: page file not found: {path.name}")
        pages.append((page_id, gzip.decompress(path.read_bytes()), truth[page_id].get("articleBody") or ""))
    return pages


WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> dict[tuple[str, ...], int]:
    """Counts of the text's n-token shingles (a text shorter than n is one shingle)."""
    tokens = WORD.findall(text or "")
    counts: dict[tuple[str, ...], int] = {}
    for start in range(max(1, len(tokens) - n + 1)):
        gram = tuple(tokens[start:start + n])
        if gram:
            counts[gram] = counts.get(gram, 0) + 1
    return counts


class ShingleScore:
    """The Scrapinghub benchmark's score: per-page shingle precision and recall, averaged."""

    def __init__(self) -> None:
        self.pages: list[tuple[float, float, float]] = []
        self.cpu = 0.0

    def add(self, truth: str, output: str | None) -> None:
        want, got = shingles(truth), shingles(output or "")
        tp = sum(min(count, got.get(gram, 0)) for gram, count in want.items())
        fp = sum(got.values()) - tp
        fn = sum(want.values()) - tp
        total = tp + fp + fn
        self.pages.append((tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0))

    def prf(self) -> tuple[float, float, float]:
        def page_score(tp: float, wrong: float, other: float) -> float:
            if wrong == other == 0:
                return 1.0
            return 0.0 if tp == wrong == 0 else tp / (tp + wrong)

        precisions = [page_score(tp, fp, fn) for tp, fp, fn in self.pages if tp + fp > 0]
        recalls = [page_score(tp, fn, fp) for tp, fp, fn in self.pages if tp + fn > 0]
        p = sum(precisions) / len(precisions) if precisions else 0.0
        r = sum(recalls) / len(recalls) if recalls else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def webtune_extractor(config: dict[str, Any]) -> Callable[[str, bytes], str | None]:
    """html_to_text as the clean stage runs it (bytes decoded as the files reader does)."""
    from webtune.collect.readers.textual import decode_text

    step = HtmlToText(HtmlToTextConfig(**config))

    def run(url: str, html: bytes) -> str | None:
        doc = Document(id="x", source=SourceRef(kind="bench", uri=url), content_type="text/html",
                       html=decode_text(html, "html") or html.decode("utf-8", errors="replace"))
        step.apply(doc, {})
        return doc.text
    return run


IDENTITY_CONFIGS = {
    "precision (webtune clean)": {"fast": False, "favor_precision": True, "include_comments": False},
    "balanced": {"fast": False, "include_comments": False},
    "recall, comments, formatting, links": {"fast": False, "favor_recall": True, "include_comments": True,
                                            "include_formatting": True, "include_links": True},
    "markdown, no tables": {"fast": False, "output_format": "markdown", "include_tables": False},
}


def identity(pages: list[bytes]) -> dict[str, tuple[int, int, float, float]]:
    """Per mode of `IDENTITY_CONFIGS`: (pages, pages whose output differs, CPU seconds of plain
    ``trafilatura.extract``, CPU seconds of webtune's `fast_trafilatura` path), page by page."""
    import trafilatura

    from webtune.clean import fast_trafilatura

    out = {}
    for mode, config in IDENTITY_CONFIGS.items():
        differ, cpu_plain, cpu_fast = 0, 0.0, 0.0
        for html in pages:
            started = time.process_time()
            plain = trafilatura.extract(html, **config)
            cpu_plain += time.process_time() - started
            started = time.process_time()
            with fast_trafilatura.fast_rules():
                fast = trafilatura.extract(html, **config)
            cpu_fast += time.process_time() - started
            differ += plain != fast
        out[mode] = (len(pages), differ, cpu_plain, cpu_fast)
    return out


def print_identity(pages: list[bytes]) -> None:
    """`identity` as a table."""
    print(f"{'mode':38s} {'pages':>6s} {'differ':>6s} {'plain CPU s':>11s} {'fast CPU s':>10s} {'ratio':>6s}")
    for mode, (n, differ, plain, fast) in identity(pages).items():
        print(f"{mode:38s} {n:6d} {differ:6d} {plain:11.2f} {fast:10.2f} {fast / plain:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="trafilatura's tests folder (evaldata.json, eval/, cache/)")
    parser.add_argument("--scrapinghub", type=Path, metavar="DIR",
                        help="instead: the Scrapinghub article-extraction-benchmark (html/, ground-truth.json)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--defaults", action="store_true", help="also run trafilatura.extract(html) with its bare defaults")
    parser.add_argument("--markdown", action="store_true", help="also run html_to_text with output: markdown")
    parser.add_argument("--identity", action="store_true",
                        help="instead: check that webtune's fast trafilatura path gives plain trafilatura's output")
    args = parser.parse_args()
    if (args.data is None) == (args.scrapinghub is None):
        parser.error("give --data (trafilatura's set) or --scrapinghub (the Scrapinghub benchmark)")
    import trafilatura

    if args.identity:
        pages = load_scrapinghub(args.scrapinghub, args.limit) if args.scrapinghub else load(args.data, args.limit)
        print(f"{len(pages)} pages from {args.data or args.scrapinghub}")
        print_identity([html for _, html, _ in pages])
        return

    if args.scrapinghub is not None:
        pages = load_scrapinghub(args.scrapinghub, args.limit)
        canonical = lambda url, html: trafilatura.extract(html, include_comments=False)  # noqa: E731
        new_score: Callable[[], Any] = ShingleScore
    else:
        pages = load(args.data, args.limit)
        canonical = lambda url, html: trafilatura.extract(html, include_comments=False, include_tables=True)  # noqa: E731
        new_score = Score
    systems: dict[str, Callable[[str, bytes], str | None]] = {
        "trafilatura.extract": canonical,
        "webtune html_to_text": webtune_extractor({}),
    }
    if args.defaults:
        systems["trafilatura.extract (bare defaults)"] = lambda url, html: trafilatura.extract(html)
    if args.markdown:
        systems["webtune html_to_text (markdown)"] = webtune_extractor({"output": "markdown"})
    scores = {name: new_score() for name in systems}
    for url, html, item in pages:
        for name, extract in systems.items():
            started = time.process_time()
            try:
                output = extract(url, html)
            except Exception:  # noqa: BLE001 - a crash counts as a miss, as in the benchmark
                output = None
            scores[name].cpu += time.process_time() - started
            scores[name].add(item, output)
    base = scores["trafilatura.extract"]
    print(f"{len(pages)} pages from {args.data or args.scrapinghub}")
    print(f"{'system':38s} {'precision':>9s} {'recall':>7s} {'F1':>7s} {'CPU s':>7s} {'CPU ratio':>9s}")
    for name, score in scores.items():
        p, r, f1 = score.prf()
        print(f"{name:38s} {p:9.4f} {r:7.4f} {f1:7.4f} {score.cpu:7.1f} {score.cpu / base.cpu:8.2f}x")
    ours = scores["webtune html_to_text"]
    verdict = "above" if ours.prf()[2] > base.prf()[2] else "NOT above"
    print(f"webtune F1 {ours.prf()[2]:.4f} is {verdict} trafilatura's {base.prf()[2]:.4f}; "
          f"CPU {ours.cpu / base.cpu:.2f}x (bound 1.20x)")


if __name__ == "__main__":
    main()
