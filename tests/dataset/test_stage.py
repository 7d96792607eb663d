"""The dataset stage end to end: the demo template, counts, rejects, limits, exports and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.dataset.validate import DEFAULT_PRICES
from webtune.errors import WebtuneError
from webtune.hosted.sunset import DEFAULT_HOSTED_MODEL
from webtune.stage import read_manifest

from tests.dataset.helpers import demo_dataset_section, product, read_rejects, read_split, run_dataset_stage, write_docs

SPLITS = ("train", "validation", "test")


def demo_docs() -> tuple[list[dict], list[str]]:
    """40 products (some in shared near-duplicate clusters), 3 broken ones, 1 unreadable line."""
    docs = [product(i) for i in range(40)]
    for i in range(0, 12, 3):  # clusters of three near duplicates
        for j in (i, i + 1, i + 2):
            docs[j]["meta"]["cluster_id"] = f"cluster-{i}"
    docs[5]["fields"]["brand"] = None
    docs[9]["fields"]["features"] = []
    docs[17]["fields"].pop("description")
    return docs, ['{"id": "broken", "source": {"kind": "files"}}', "{not json"]


def test_demo_pipeline_build_section_as_shipped(tmp_path, tiny_model_dir):
    docs, bad_lines = demo_docs()
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, demo_dataset_section(), docs, bad_lines)
    examples = {s: read_split(out, s) for s in SPLITS}
    assert sum(map(len, examples.values())) == 37
    first = examples["train"][0]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert "Features:\n- Quick-drying ink" in first["messages"][1]["content"]
    for split, rows in examples.items():
        for e in rows:
            assert e["meta"]["split"] == split and e["meta"]["template"] == "copywriter"
            assert e["meta"]["tokens"] > 0 and e["meta"]["source_id"].startswith("p")
    # clusters never straddle splits
    where = {}
    for split, rows in examples.items():
        for e in rows:
            assert where.setdefault(e["meta"]["cluster_id"], split) == split
    rejects = read_rejects(out)
    assert sorted((r["reason"], r.get("id") or "") for r in rejects) == [
        ("invalid_document", ""), ("invalid_document", ""),
        ("missing_required_field", "p005"), ("missing_required_field", "p009"), ("missing_required_field", "p017")]
    assert any("documents.jsonl:42" in str(r["value"]) for r in rejects)  # the unreadable line is named
    counts = manifest.counts
    assert counts.to_json() == {"in": 42, "kept": 37, "rejected": 5}
    stats = json.loads((out / "stats.json").read_text())
    assert stats == manifest.stats
    assert stats["documents"] == {"lines": 42, "read": 40, "with_examples": 37}
    assert stats["examples"] == {s: len(examples[s]) for s in SPLITS}
    tok = stats["tokens"]["train"]
    assert tok["min"] <= tok["p50"] <= tok["p95"] <= tok["max"] and tok["total"] == sum(
        e["meta"]["tokens"] for e in examples["train"])
    assert stats["by_template"]["copywriter"] == stats["examples"]
    assert stats["by_source"]["files:data/snapshot.json"] == stats["examples"]
    # the default hosted model (one not shutting down) at its list price, 3 epochs
    assert stats["cost"]["model"] == DEFAULT_HOSTED_MODEL
    assert stats["cost"]["usd"] == pytest.approx(tok["total"] * 3 * DEFAULT_PRICES[DEFAULT_HOSTED_MODEL] / 1e6, abs=1e-4)
    # the messages-only OpenAI export is what a hosted API takes
    openai_rows = [json.loads(l) for l in (out / "export" / "openai" / "train.jsonl").read_text().splitlines()]
    assert openai_rows == [{"messages": e["messages"]} for e in examples["train"]]


def test_token_counts_match_the_chat_template(tmp_path, tiny_model_dir, counter):
    docs = [product(i) for i in range(12)]
    _, out = run_dataset_stage(tmp_path, tiny_model_dir, demo_dataset_section(), docs)
    rows = [e for s in SPLITS for e in read_split(out, s)]
    assert [e["meta"]["tokens"] for e in rows] == counter.count_chats([e["messages"] for e in rows])


def test_over_length_examples_are_rejected_or_truncated(tmp_path, tiny_model_dir, counter):
    docs = [product(i) for i in range(14)]
    for i in (2, 7):
        docs[i]["fields"]["description"] = " ".join(f"Sentence {k} about this pen." for k in range(60))
    dataset = {**demo_dataset_section(), "max_tokens": 300}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
    over = [r for r in read_rejects(out) if r["reason"] == "over_max_tokens"]
    assert sorted(r["id"] for r in over) == ["p002", "p007"]
    assert all(r["value"] > 300 and r["threshold"] == 300 for r in over)

    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, {**dataset, "overflow": "truncate"}, docs)
    rows = {e["meta"]["source_id"]: e for s in SPLITS for e in read_split(out, s)}
    assert len(rows) == 14 and manifest.stats["truncated"] == 2
    for sid in ("p002", "p007"):
        e = rows[sid]
        assert e["meta"]["truncated"] is True and e["meta"]["tokens"] <= 300
        assert counter.count_chats([e["messages"]])[0] == e["meta"]["tokens"]
        assert e["messages"][-1]["content"].startswith("Sentence 0 about this pen.")
        # only the answer is cut; the prompt stays whole
        assert e["messages"][1]["content"].endswith(f"Title: Gel Pen Pack {int(sid[1:])}\nBrand: Brand{int(sid[1:]) % 4}"
                                                    f"\nFeatures:\n- Quick-drying ink {int(sid[1:])}\n- Comfort grip")


def test_duplicates_unmatched_documents_and_qa_with_templates(tmp_path, tiny_model_dir):
    docs = [product(i) for i in range(14)]
    docs.append({**product(1), "id": "p-dup", "meta": {"cluster_id": "other"}})  # renders like p001
    docs.append({"id": "note", "source": {"kind": "files", "uri": "notes.txt"}, "text": "plain", "fields": {}})
    docs.append({"id": "guide", "source": {"kind": "files", "uri": "docs/guide.md"},
                 "text": "# Guide\n\n## What is a gel pen?\n\nA gel pen uses water-based gel ink.\n", "fields": {}})
    dataset = {"templates": [{**demo_dataset_section()["templates"][0], "sources": ["data/*"]}],
             "qa": {"sources": ["*.md"]}}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
    reasons = {r["id"]: r["reason"] for r in read_rejects(out)}
    assert reasons == {"p-dup": "duplicate_example", "note": "no_generator"}
    qa = [e for s in SPLITS for e in read_split(out, s) if e["meta"]["template"] == "qa"]
    assert [m["content"] for m in qa[0]["messages"]] == ["What is a gel pen?", "A gel pen uses water-based gel ink."]
    assert manifest.counts.to_json() == {"in": 17, "kept": 15, "rejected": 2}


def test_too_few_examples_and_nothing_to_build_are_clear_errors(tmp_path, tiny_model_dir):
    with pytest.raises(WebtuneError, match="only 3 train examples, at least 10"):
        run_dataset_stage(tmp_path, tiny_model_dir, demo_dataset_section(), [product(i) for i in range(5)])
    with pytest.raises(WebtuneError, match="nothing to make"):
        run_dataset_stage(tmp_path, tiny_model_dir, {}, [product(i) for i in range(5)])


def test_exports_in_every_format_round_trip(tmp_path, tiny_model_dir):
    import datasets
    import pyarrow.parquet as pq

    docs = [product(i) for i in range(15)]
    dataset = {"templates": [{"name": "chat", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name?"}, {"role": "assistant", "content": "{{ title }}"},
        {"role": "user", "content": "Describe it."}, {"role": "assistant", "content": "{{ description }}"}]}],
        "export": {"formats": ["openai", "sharegpt", "alpaca", "hf", "parquet"]}}
    _, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
    train = read_split(out, "train")
    ex = out / "export"
    share = [json.loads(l) for l in (ex / "sharegpt" / "train.jsonl").read_text().splitlines()]
    assert [t["from"] for t in share[0]["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
    alpaca = [json.loads(l) for l in (ex / "alpaca" / "train.jsonl").read_text().splitlines()]
    assert alpaca[0]["system"] == "Be brief." and alpaca[0]["instruction"] == "Describe it."
    assert alpaca[0]["history"] == [["Name?", train[0]["messages"][2]["content"]]]
    assert alpaca[0]["output"] == train[0]["messages"][-1]["content"]
    table = pq.read_table(ex / "parquet" / "train.parquet").to_pylist()
    assert [r["messages"] for r in table] == [e["messages"] for e in train]
    assert json.loads(table[0]["meta"]) == train[0]["meta"]
    hf = datasets.load_from_disk(str(ex / "hf"))
    assert set(hf) == set(SPLITS) and hf["train"][0]["messages"] == train[0]["messages"]


def test_cli_build_with_input_output_and_skip(tmp_path, tiny_model_dir):
    import yaml

    docs = [product(i) for i in range(20)]
    clean = write_docs(tmp_path / "run" / "clean", docs)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"name": "cli", "base_model": str(tiny_model_dir), "seed": 3,
                                        "run_dir": "run", "dataset": demo_dataset_section()}))
    runner = CliRunner()
    args = ["dataset", "-p", str(pipeline), "-i", str(clean), "-o", str(tmp_path / "out"), "--export", "sharegpt"]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "kept 20" in result.output
    manifest = read_manifest(tmp_path / "out")
    assert manifest.stats["export"] == {"sharegpt": ["sharegpt/train.jsonl", "sharegpt/validation.jsonl",
                                                        "sharegpt/test.jsonl"]}
    again = runner.invoke(app, args, terminal_width=200)
    assert again.exit_code == 0 and "unchanged, skipped" in again.output
    bad = runner.invoke(app, ["dataset", "-p", str(pipeline), "--export", "docx"])
    assert bad.exit_code == 2 and "unknown format docx" in bad.output


def test_qa_skips_documents_without_text_and_rejects_text_without_sections(tmp_path, tiny_model_dir):
    docs = [product(i) for i in range(12)]  # products: no text, so Q&A does not apply to them
    docs.append({"id": "flat", "source": {"kind": "files", "uri": "flat.md"}, "text": "## Only a heading\n",
                 "fields": {}})
    dataset = {"templates": [{**demo_dataset_section()["templates"][0], "sources": ["data/*"]}], "qa": {}}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
    assert [(r["id"], r["reason"]) for r in read_rejects(out)] == [("flat", "no_sections")]
    assert manifest.counts.to_json() == {"in": 13, "kept": 12, "rejected": 1}


def test_an_empty_clean_store_is_named_not_reported_as_zero_examples(tmp_path, tiny_model_dir):
    with pytest.raises(WebtuneError, match=r"clean/documents.jsonl holds no documents: clean kept none"):
        run_dataset_stage(tmp_path, tiny_model_dir, demo_dataset_section(), [])
    assert not (tmp_path / "run" / "dataset").exists()


def test_an_unknown_base_model_names_the_key(tmp_path):
    with pytest.raises(WebtuneError, match=r"^base_model: unknown model 'no-such-model'"):
        run_dataset_stage(tmp_path, "no-such-model", demo_dataset_section(), [product(i) for i in range(12)])


def test_a_page_clean_left_as_html_is_rejected_with_the_fix(tmp_path, tiny_model_dir):
    """Q&A needs text: an HTML-only document (no html_to_text step in clean) says so, not "no_generator"."""
    guide = "# Guide\n\n## What is a gel pen?\n\nA gel pen uses water-based gel ink.\n"
    docs = [{"id": "md", "source": {"kind": "files", "uri": "guide.md"}, "text": guide, "fields": {}},
            {"id": "page", "source": {"kind": "files", "uri": "page.html"}, "fields": {},
             "html": "<html><body><h2>What is ink?</h2><p>Ink is a coloured liquid.</p></body></html>"}]
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, {"qa": {}, "min_examples": 1}, docs)
    (reject,) = read_rejects(out)
    assert (reject["id"], reject["reason"]) == ("page", "html_not_converted")
    assert "html_to_text" in reject["value"]
    assert manifest.counts.to_json() == {"in": 2, "kept": 1, "rejected": 1}
