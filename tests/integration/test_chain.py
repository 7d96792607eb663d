"""collect -> clean -> dataset on messy input, through the CLI: counts add up and no record is lost.

The input mixes HTML pages, a Markdown article, a products JSON file, an SRT transcript and a
JSONL file with a broken line. Every record that enters a stage must leave it kept or rejected
(with a reason), and what a stage keeps is exactly what the next stage reads. No training.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from webtune.cli.main import app

PAGE = ("<html><head><title>{title}</title></head><body><nav>Home | Shop | About</nav><article>"
        "<h1>{title}</h1><h2>{q1}</h2><p>{a1}</p><h2>{q2}</h2><p>{a2}</p></article>"
        "<footer>Copyright 2026</footer></body></html>")
PAGES = {
    "paper.html": dict(title="Paper sizes explained", q1="What is A4?",
                       a1="A4 paper measures 210 by 297 millimetres and is the standard office size in most countries.",
                       q2="What is Letter?",
                       a2="Letter paper measures 8.5 by 11 inches and is the usual office size in North America."),
    "staplers.html": dict(title="Choosing a stapler", q1="How many sheets can a stapler hold?",
                          a1="A desktop stapler usually fastens twenty sheets; heavy duty models take a hundred or more.",
                          q2="Which staples fit?",
                          a2="Most desktop staplers take standard 26/6 staples, which are sold in boxes of five thousand."),
}
ARTICLE = """# Office printer tips

## How do I fix a paper jam?

Open the front panel, remove the toner cartridge and gently pull the jammed paper out along the paper path.

## How often should I replace the toner?

Replace the toner when prints look faded or streaky, usually every two to three thousand pages.
"""
PRODUCTS = [
    {"title": "Blue Gel Pens, 12 Pack", "brand": "InkWell", "url": "https://shop.example/p/1",
     "description": "Smooth blue gel pens that write cleanly on any paper, dry quickly and stay comfortable "
                    "in the hand during long writing sessions at work or school."},
    {"title": "Yellow Sticky Notes", "brand": "Notey", "url": "https://shop.example/p/2",
     "description": "Bright yellow sticky notes that hold firmly on walls, monitors and desks and peel away "
                    "cleanly without leaving any residue behind on the surface."},
    {"title": "Blue Gel Pens, 12 Pack", "brand": "InkWell", "url": "https://shop.example/p/1",
     "description": "Smooth blue gel pens that write cleanly on any paper, dry quickly and stay comfortable "
                    "in the hand during long writing sessions at work or school."},  # a duplicate
    {"title": "Mystery item", "brand": "X", "url": "https://shop.example/p/3", "description": "Short."},
]
TRANSCRIPT = """1
00:00:01,000 --> 00:00:04,000
Welcome to this short talk about keeping an office desk tidy and easy to work at.

2
00:00:04,500 --> 00:00:08,000
First clear everything off the desk, then sort each item into a keep pile and a give away pile.
"""
ROWS = [
    json.dumps({"title": "Desk lamps", "text": "A good desk lamp gives warm, even light and can be turned "
                                               "towards the page without glare on the screen."}),
    '{"title": "broken", "text": ',
    json.dumps({"title": "Chairs", "text": "An office chair should support the lower back and let both feet "
                                           "rest flat on the floor while typing."}),
]
BROKEN_LINES = 1
SOURCE_RECORDS = len(PAGES) + 1 + len(PRODUCTS) + 1 + len(ROWS)  # one record per page/article/row/transcript


def make_input(root: Path) -> Path:
    """A directory of messy files of every kind the chain must handle."""
    data = root / "data"
    data.mkdir()
    for name, parts in PAGES.items():
        (data / name).write_text(PAGE.format(**parts), encoding="utf-8")
    (data / "printers.md").write_text(ARTICLE, encoding="utf-8")
    (data / "products.json").write_text(json.dumps(PRODUCTS), encoding="utf-8")
    (data / "talk.srt").write_text(TRANSCRIPT, encoding="utf-8")
    (data / "rows.jsonl").write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    return data


def pipeline_file(root: Path, base_model: Path) -> Path:
    """A pipeline that collects the directory, cleans it and builds templates + Markdown Q&A."""
    text = f"""
name: chain
base_model: {base_model}
run_dir: {root / 'run'}
sources:
  - kind: files
    paths: [data/*.html, data/*.md, data/*.srt, data/*.jsonl]
    fields: {{text: text, title: title}}
  - kind: files
    paths: [data/products.json]
    fields: {{text: description, title: title, url: url}}
clean:
  workers: 1
  steps:
    - step: html_to_text
      output: markdown   # dataset.qa cuts at the pages' headings
    - step: normalize
    - step: length
      min_words: 5
    - step: dedup
dataset:
  min_examples: 1
  templates:
    - name: describe
      requires: [title, description]
      user: "Describe {{{{ title }}}}."
      assistant: "{{{{ description }}}}"
  qa: {{sources: ["*.md", "*.html"]}}
  split: {{validation: 0.2, test: 0.2}}
"""
    path = root / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def lines(path: Path) -> list[dict]:
    """The JSON records of a JSONL file (empty when the file does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def manifest(stage_dir: Path) -> dict:
    return json.loads((stage_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def chain(tmp_path_factory, tiny_model_dir):
    """Run collect, clean and dataset through the CLI; return the run directory."""
    root = tmp_path_factory.mktemp("chain")
    make_input(root)
    pipeline = pipeline_file(root, tiny_model_dir)
    runner = CliRunner()
    for stage in (["collect"], ["clean"], ["dataset"]):
        result = runner.invoke(app, [*stage, "--pipeline", str(pipeline)], terminal_width=200)
        assert result.exit_code == 0, f"{stage}: {result.output}"
    return root / "run"


@pytest.mark.parametrize("stage", ["collect", "clean", "dataset"])
def test_every_stage_counts_add_up_and_match_its_files(chain, stage):
    """in == kept + rejected, and the counts are the lines actually written."""
    counts = manifest(chain / stage)["counts"]
    assert counts["in"] == counts["kept"] + counts["rejected"]
    assert counts["rejected"] == len(lines(chain / stage / "rejects.jsonl"))
    if stage == "dataset":
        kept = sum(len(lines(chain / "dataset" / f"{split}.jsonl")) for split in ("train", "validation", "test"))
    else:
        kept = len(lines(chain / stage / "documents.jsonl"))
    assert counts["kept"] == kept


def test_collect_reads_every_record_and_rejects_the_broken_line(chain):
    counts = manifest(chain / "collect")["counts"]
    assert counts == {"in": SOURCE_RECORDS, "kept": SOURCE_RECORDS - BROKEN_LINES, "rejected": BROKEN_LINES}
    (reject,) = lines(chain / "collect" / "rejects.jsonl")
    assert reject["reason"] == "invalid_json" and reject["source"]["line"] == 2
    assert reject["source"]["uri"].endswith("rows.jsonl")


def test_clean_accounts_for_every_collected_document(chain):
    """Each collected id is either kept by clean or rejected by one of its steps, with a reason."""
    collected = Counter(d["id"] for d in lines(chain / "collect" / "documents.jsonl"))
    kept = Counter(d["id"] for d in lines(chain / "clean" / "documents.jsonl"))
    rejects = lines(chain / "clean" / "rejects.jsonl")
    assert manifest(chain / "clean")["counts"]["in"] == manifest(chain / "collect")["counts"]["kept"]
    assert kept + Counter(r["id"] for r in rejects) == collected
    assert all(r["reason"] and r["step"] for r in rejects)
    reasons = {(r["step"], r["reason"]) for r in rejects}
    assert ("dedup", "exact_duplicate") in reasons  # the product listed twice
    assert ("length", "too_few_words") in reasons  # "Short."
    assert len(rejects) == 2
    # HTML became text with its headings, ready for Q&A
    pages = [d for d in lines(chain / "clean" / "documents.jsonl") if d["source"]["uri"].endswith(".html")]
    assert len(pages) == len(PAGES) and all("## What is A4?" in d["text"] or "## Which staples fit?" in d["text"]
                                            for d in pages)


def test_build_uses_or_rejects_every_clean_document(chain):
    """Every clean document yields an example or a rejection naming it; Q&A comes from .md and .html."""
    clean_ids = {d["id"] for d in lines(chain / "clean" / "documents.jsonl")}
    examples = [e for split in ("train", "validation", "test") for e in lines(chain / "dataset" / f"{split}.jsonl")]
    rejects = lines(chain / "dataset" / "rejects.jsonl")
    stats = manifest(chain / "dataset")["stats"]
    assert stats["documents"]["read"] == manifest(chain / "clean")["counts"]["kept"]
    assert {e["meta"]["source_id"] for e in examples} | {r["id"] for r in rejects} == clean_ids
    questions = {e["messages"][-2]["content"] for e in examples if e["meta"]["template"] == "qa"}
    assert {"What is A4?", "Which staples fit?", "How do I fix a paper jam?"} <= questions
    described = [e for e in examples if e["meta"]["template"] == "describe"]
    assert {e["messages"][0]["content"] for e in described} == {"Describe Blue Gel Pens, 12 Pack.",
                                                                 "Describe Yellow Sticky Notes."}
    transcript = [r for r in rejects if r["source"]["uri"].endswith("talk.srt")]
    assert transcript and all(r["reason"] for r in transcript)


def test_build_failure_leaves_earlier_stages_untouched(chain, tmp_path):
    """A failing dataset stage (too few examples) publishes nothing and changes no earlier output."""
    before = {p: p.read_bytes() for stage in ("collect", "clean", "dataset") for p in (chain / stage).rglob("*")
              if p.is_file()}
    pipeline = (chain.parent / "pipeline.yaml").read_text(encoding="utf-8").replace("min_examples: 1",
                                                                                  "min_examples: 1000")
    bad = chain.parent / "strict.yaml"
    bad.write_text(pipeline, encoding="utf-8")
    result = CliRunner().invoke(app, ["dataset", "--pipeline", str(bad)], terminal_width=200)
    assert result.exit_code == 1 and "dataset.min_examples" in result.output
    assert "Traceback" not in result.output
    assert {p: p.read_bytes() for p in before} == before
    assert not [p for p in chain.iterdir() if p.name.startswith(".dataset.tmp-")]


def test_ctrl_c_in_clean_keeps_the_old_output_and_a_rerun_redoes_it(chain, monkeypatch):
    """Ctrl-C mid-stage: exit 130, one line, the published clean and collect untouched; rerun gives the same."""
    import webtune.clean.runner as runner_module

    before = {p: p.read_bytes() for stage in ("collect", "clean") for p in (chain / stage).rglob("*") if p.is_file()}
    real = runner_module.process_batch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    pipeline = str(chain.parent / "pipeline.yaml")
    monkeypatch.setattr(runner_module, "process_batch", interrupted)
    result = CliRunner().invoke(app, ["clean", "--pipeline", pipeline, "--force"], terminal_width=200)
    assert result.exit_code == 130 and "interrupted" in result.output and "Traceback" not in result.output
    assert {p: p.read_bytes() for p in before} == before
    assert not [p for p in chain.iterdir() if p.name.startswith(".clean.tmp-")]

    monkeypatch.setattr(runner_module, "process_batch", real)
    result = CliRunner().invoke(app, ["clean", "--pipeline", pipeline, "--force"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in ("documents.jsonl", "rejects.jsonl"):
        assert (chain / "clean" / name).read_bytes() == before[chain / "clean" / name]
