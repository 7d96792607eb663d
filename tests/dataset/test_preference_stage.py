"""Preference records in the dataset stage: the three generators, checks, leak-free splits, exports."""

from __future__ import annotations

import json

import pytest

from webtune.errors import WebtuneError
from webtune.records import PreferenceExample

from tests.dataset.helpers import product, read_rejects, read_split, run_dataset_stage

SPLITS = ("train", "validation", "test")
COPYWRITER = {"name": "copywriter", "requires": ["title", "description"],
              "user": "Describe {{ title }}.", "assistant": "{{ description }}"}
# the tiny random model's greedy answer is empty: it samples, seeded
SAMPLING = {"max_new_tokens": 6, "temperature": 1.0, "top_p": 1.0, "batch_size": 8, "seed": 3}


def read_pref(out, split):
    return [json.loads(line) for line in (out / f"preference_{split}.jsonl").read_text().splitlines() if line]


def all_pref(out):
    return {s: read_pref(out, s) for s in SPLITS}


# ---------------------------------------------------------------- ratings (KTO)


def rated_docs():
    ratings = [5, 4, 4.5, "5", 1, 2, "1", 3, None, "great", 5, 1, 4, 2, 5, 1, 4, 2, 5, 1]
    docs = []
    for i, rating in enumerate(ratings):
        doc = product(i, review=f"Review {i}: the pens {'work well' if i % 2 else 'leak'} every day.")
        if rating is not None:
            doc["fields"]["rating"] = rating
        docs.append(doc)
    return docs, ratings


def test_ratings_give_kto_records_by_threshold_and_reject_the_rest_with_a_reason(tmp_path, tiny_model_dir):
    docs, ratings = rated_docs()
    section = {"generators": [{"generator": "ratings", "field": "rating", "desirable_at_least": 4,
                               "undesirable_at_most": 2, "user": "Write a review of {{ title }}.",
                               "assistant": "{{ review }}"}],
               "min_examples": 1, "split": {"validation": 0.2, "test": 0.2}}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, section, docs)
    records = [r for rows in all_pref(out).values() for r in rows]
    by_id = {r["meta"]["source_id"]: r for r in records}
    # 5, 4, 4.5, "5" ... desirable; 1, 2, "1" undesirable; 3 neutral; None missing; "great" invalid
    assert by_id["p000"]["desirable"] is True and by_id["p003"]["desirable"] is True
    assert by_id["p004"]["desirable"] is False and by_id["p006"]["desirable"] is False
    assert by_id["p000"]["prompt"] == [{"role": "user", "content": "Write a review of Gel Pen Pack 0."}]
    assert by_id["p000"]["completion"].startswith("Review 0:")
    for record in records:
        PreferenceExample.model_validate(record)  # the shared record, as the train stage reads it
        assert "chosen" not in record
    reasons = sorted((r["reason"], r["id"]) for r in read_rejects(out))
    assert reasons == [("invalid_rating", "p009"), ("missing_rating", "p008"), ("neutral_rating", "p007")]
    assert manifest.counts.to_json() == {"in": 20, "kept": 17, "rejected": 3}
    assert manifest.stats["preference"]["examples"] == {s: len(read_pref(out, s)) for s in SPLITS}
    assert sum(manifest.stats["preference"]["examples"].values()) == 17
    assert manifest.stats["preference"]["by_kind"]["kto"]["train"] == len(read_pref(out, "train"))
    assert read_pref(out, "test") and read_pref(out, "validation")  # the splits get their share
    # KTO in TRL's unpaired format; none in OpenAI's preference format (it has no KTO)
    trl = [json.loads(l) for l in (out / "export" / "openai" / "preference_train.jsonl").read_text().splitlines()]
    assert trl == []


def test_ratings_thresholds_must_leave_a_gap(tmp_path, tiny_model_dir):
    section = {"generators": [{"generator": "ratings", "field": "rating", "desirable_at_least": 3,
                               "undesirable_at_most": 3, "user": "u", "assistant": "a"}]}
    with pytest.raises(WebtuneError, match="undesirable_at_most must be below desirable_at_least"):
        run_dataset_stage(tmp_path, tiny_model_dir, section, [product(1)])


# ---------------------------------------------------------------- reference vs base


def clustered_docs(n=24):
    docs = [product(i) for i in range(n)]
    for i in range(0, min(n, 9) - 2, 3):  # near-duplicate clusters of three
        for j in (i, i + 1, i + 2):
            docs[j]["meta"]["cluster_id"] = f"cluster-{i}"
    return docs


def test_reference_vs_base_pairs_the_reference_with_the_base_answer_in_the_examples_split(tmp_path, tiny_model_dir):
    section = {"templates": [COPYWRITER],
               "generators": [{"generator": "reference_vs_base", **SAMPLING}],
               "min_examples": 1, "split": {"validation": 0.2, "test": 0.2}, "export": {"formats": ["openai", "trl"]}}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, section, clustered_docs())
    split_of_doc = {e["meta"]["source_id"]: s for s in SPLITS for e in read_split(out, s)}
    pairs = all_pref(out)
    descriptions = {f"p{i:03d}": product(i)["fields"]["description"] for i in range(24)}
    n = 0
    for split, rows in pairs.items():
        for record in rows:
            n += 1
            source = record["meta"]["source_id"]
            assert split_of_doc[source] == split == record["meta"]["split"]  # leak-free: same split
            assert record["chosen"] == descriptions[source]
            assert record["prompt"] == [{"role": "user", "content": f"Describe Gel Pen Pack {int(source[1:])}."}]
            assert record["rejected"] != record["chosen"]
            assert record["meta"]["generator"] == "reference_vs_base" and record["meta"]["tokens"] > 0
    equal = [r for r in read_rejects(out) if r["reason"] == "chosen_equals_rejected"]
    assert n + len(equal) == 24
    assert manifest.counts.kept == 24 + n and manifest.counts.rejected == len(equal)
    assert manifest.stats["preference"]["base_answers"]["generated"] == 24
    # rejected is what the tiny base model says to the prompt (the same seeded batch, done again)
    import torch

    from webtune.models import load_causal_lm, load_tokenizer
    from webtune.serve.models import LocalChatModel

    chat = LocalChatModel(load_causal_lm(tiny_model_dir), load_tokenizer(tiny_model_dir))
    prompts = [[{"role": "user", "content": f"Describe Gel Pen Pack {i}."}] for i in range(24)]
    from webtune.records import canonical_json, content_id

    torch.manual_seed(3 + int(content_id(canonical_json(prompts), length=8), 16))  # one chunk: its seed
    again = chat.generate_batch(prompts, max_new_tokens=6, batch_size=8, temperature=1.0, top_p=1.0)
    sampled = {p[0]["content"]: a.text.strip() for p, a in zip(prompts, again)}
    for rows in pairs.values():
        for record in rows:
            assert record["rejected"] == sampled[record["prompt"][0]["content"]]
    first = pairs["train"][0]
    # exports: OpenAI's preference format and TRL's conversational pairs, one row per record
    openai_rows = [json.loads(l) for l in (out / "export/openai/preference_train.jsonl").read_text().splitlines()]
    assert openai_rows[0] == {"input": {"messages": first["prompt"]},
                              "preferred_output": [{"role": "assistant", "content": first["chosen"]}],
                              "non_preferred_output": [{"role": "assistant", "content": first["rejected"]}]}
    trl_rows = [json.loads(l) for l in (out / "export/trl/preference_train.jsonl").read_text().splitlines()]
    assert len(trl_rows) == len(pairs["train"]) == len(openai_rows)
    assert trl_rows[0] == {"prompt": first["prompt"], "chosen": [{"role": "assistant", "content": first["chosen"]}],
                           "rejected": [{"role": "assistant", "content": first["rejected"]}]}
    assert "trl/train.jsonl" in manifest.stats["export"]["trl"]


def test_base_answers_are_cached_and_a_rerun_generates_none(tmp_path, tiny_model_dir):
    section = {"templates": [COPYWRITER], "generators": [{"generator": "reference_vs_base", **SAMPLING}],
               "min_examples": 1}
    first, out = run_dataset_stage(tmp_path, tiny_model_dir, section, clustered_docs(12))
    before = all_pref(out)
    again, out = run_dataset_stage(tmp_path, tiny_model_dir, section, clustered_docs(12))
    assert first.stats["preference"]["base_answers"]["generated"] == 12
    assert again.stats["preference"]["base_answers"] == {"generated": 0, "cache_hits": 12, "model_loads": 0}
    assert all_pref(out) == before


def test_base_answers_resume_after_a_kill_without_generating_twice(tmp_path):
    from types import SimpleNamespace

    from webtune.dataset.base_answers import BaseAnswers
    from webtune.serve.models import Completion

    settings = SimpleNamespace(max_new_tokens=4, temperature=0.0, top_p=1.0, batch_size=1, seed=0)
    asked: list[str] = []

    class Chat:
        fail_after = 1

        def generate_batch(self, prompts, **kw):
            if len(asked) >= self.fail_after * 4:  # one chunk (4 batches of 1) answered, then the kill
                raise KeyboardInterrupt
            asked.extend(p[-1]["content"] for p in prompts)
            return [Completion(text=f"answer to {p[-1]['content']}") for p in prompts]

    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(6)]
    chat = Chat()
    first = BaseAnswers("m", tmp_path / "cache", load_chat=lambda: chat)
    with pytest.raises(KeyboardInterrupt):
        first(prompts, settings)
    assert asked == ["q0", "q1", "q2", "q3"]
    chat.fail_after = 99
    resumed = BaseAnswers("m", tmp_path / "cache", load_chat=lambda: chat)
    assert resumed(prompts, settings) == [f"answer to q{i}" for i in range(6)]
    assert asked == ["q0", "q1", "q2", "q3", "q4", "q5"]  # only the two missing ones were generated
    assert resumed.usage.to_json() == {"generated": 2, "cache_hits": 4, "model_loads": 1}


# ---------------------------------------------------------------- teacher pairs


def test_teacher_pairs_follow_the_teachers_choice_cached_and_costed(tmp_path, tiny_model_dir, monkeypatch):
    from tests.fakes.openai_server import FakeOpenAI
    from webtune.dataset.generators.teacher_pairs import swapped

    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        server.chat_reply = lambda body: json.dumps({"preferred": "A", "reason": "clearer"})
        section = {"templates": [COPYWRITER],
                   "generators": [{"generator": "teacher_pairs", "model": "gpt-4o-mini", "base_url": server.base_url,
                                   "base": SAMPLING, "concurrency": 2}],
                   "min_examples": 1}
        manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, section, clustered_docs(12))
        asked = server.counts["chat.completions"]
        records = [r for rows in all_pref(out).values() for r in rows]
        identical = [r for r in read_rejects(out) if r["reason"] == "identical_drafts"]
        assert len(records) + len(identical) == 12 and asked == len(records) > 0
        descriptions = {f"p{i:03d}": product(i)["fields"]["description"] for i in range(12)}
        for record in records:  # "A" always wins: the reference when it was shown first
            reference_first = not swapped(record["prompt"])
            assert (record["chosen"] == descriptions[record["meta"]["source_id"]]) == reference_first
            assert record["meta"]["preferred"] == ("reference" if reference_first else "base")
        assert {r["meta"]["preferred"] for r in records} == {"reference", "base"}  # both orders were shown
        teacher = manifest.stats["teacher"]
        assert teacher["requests"] == asked and teacher["usd"] is not None and teacher["usd"] > 0
        # a rerun asks nothing: every verdict comes from the cache
        again, out = run_dataset_stage(tmp_path, tiny_model_dir, section, clustered_docs(12))
        assert server.counts["chat.completions"] == asked
        assert again.stats["teacher"]["cache_hits"] == asked and again.stats["teacher"]["requests"] == 0


def test_an_unparseable_verdict_is_a_reject_and_too_few_pairs_stop_the_stage(tmp_path, tiny_model_dir, monkeypatch):
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        server.chat_reply = lambda body: "I like the first one" if "Pack 1." in json.dumps(body) else \
            json.dumps({"preferred": "B"})
        section = {"templates": [COPYWRITER],
                   "generators": [{"generator": "teacher_pairs", "model": "gpt-4o-mini", "base_url": server.base_url,
                                   "base": SAMPLING}], "min_examples": 1}
        manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, section, clustered_docs(6))
        unparseable = [r for r in read_rejects(out) if r["reason"] == "unparseable_reply"]
        assert [r["id"] for r in unparseable] == ["p001"] and "not JSON" in unparseable[0]["value"]
        records = [r for rows in all_pref(out).values() for r in rows]
        assert len(records) + 1 == 6 and manifest.counts.rejected == 1

def test_too_few_preference_records_stop_the_stage(tmp_path, tiny_model_dir):
    docs, _ = rated_docs()
    section = {"generators": [{"generator": "ratings", "field": "rating", "desirable_at_least": 4,
                               "undesirable_at_most": 2, "user": "Review {{ title }}.", "assistant": "{{ review }}"}],
               "min_examples": 50}
    with pytest.raises(WebtuneError, match=r"only \d+ train preference records, at least 50 are needed"):
        run_dataset_stage(tmp_path, tiny_model_dir, section, docs)


# ---------------------------------------------------------------- checks in the stage


def test_over_long_and_duplicate_preference_records_are_rejected_and_counted(tmp_path, tiny_model_dir):
    docs = [product(i, review="short review", rating=5) for i in range(12)]
    docs[3]["fields"]["review"] = "long " * 400
    docs[5]["fields"]["title"] = docs[4]["fields"]["title"]
    docs[5]["fields"]["review"] = docs[4]["fields"]["review"]
    section = {"generators": [{"generator": "ratings", "field": "rating", "desirable_at_least": 4,
                               "undesirable_at_most": 2, "user": "Review {{ title }}.", "assistant": "{{ review }}"}],
               "min_examples": 1, "max_tokens": 64}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, section, docs)
    reasons = sorted((r["reason"], r["id"]) for r in read_rejects(out))
    assert reasons == [("duplicate_preference", "p005"), ("over_max_tokens", "p003")]
    assert manifest.counts.to_json() == {"in": 12, "kept": 10, "rejected": 2}
    assert all(r["meta"]["tokens"] <= 64 for rows in all_pref(out).values() for r in rows)


def test_no_preference_generator_writes_no_preference_files(tmp_path, tiny_model_dir):
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, {"templates": [COPYWRITER], "min_examples": 1},
                                      [product(i) for i in range(12)])
    assert not (out / "preference_train.jsonl").exists() and "preference" not in manifest.stats


def test_a_core_install_validates_preference_generators_and_names_the_extra_to_run_them(tmp_path):
    from tests.core.test_extras import core_only

    code = "\n".join([
        "from webtune.config import validate_pipeline",
        "from webtune.dataset.generators import GENERATORS",
        "from webtune.errors import WebtuneError",
        "validate_pipeline({'name': 'p', 'base_model': 'm', 'dataset': {'templates': [{'name': 't', 'user': 'u',"
        " 'assistant': 'a'}], 'generators': [{'generator': 'reference_vs_base'}, {'generator': 'teacher_pairs',"
        " 'model': 'gpt-4o-mini'}, {'generator': 'ratings', 'field': 'r', 'desirable_at_least': 4,"
        " 'undesirable_at_most': 2, 'user': 'u', 'assistant': 'a'}]}})",
        "GENERATORS.get('ratings')",  # needs nothing beyond the core
        "for name in ('reference_vs_base', 'teacher_pairs'):",
        "    try:",
        "        GENERATORS.get(name)",
        "    except WebtuneError as exc:",
        "        print(exc)",
    ])
    proc = core_only("code", code, cwd=tmp_path, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "dataset generator 'reference_vs_base' needs torch, transformers: pip install 'webtune[train]'",
        "dataset generator 'teacher_pairs' needs torch, transformers: pip install 'webtune[train]'",
    ]


def test_the_summary_shows_the_preference_records_per_split(tmp_path, tiny_model_dir):
    from rich.console import Console

    from tests.dataset.helpers import write_docs
    from webtune.config import validate_pipeline
    from webtune.pipeline import run_one_stage, stage_spec

    docs, _ = rated_docs()
    section = {"generators": [{"generator": "ratings", "field": "rating", "desirable_at_least": 4,
                               "undesirable_at_most": 2, "user": "Review {{ title }}.", "assistant": "{{ review }}"}],
               "min_examples": 1}
    pipeline = validate_pipeline({"name": "t", "base_model": str(tiny_model_dir), "dataset": section},
                                 base_dir=tmp_path)
    console = Console(record=True, width=200)
    manifest = run_one_stage(stage_spec("dataset"), pipeline, tmp_path / "run",
                             inputs={"clean": write_docs(tmp_path / "clean", docs)}, force=True, console=console)
    per = manifest.stats["preference"]["examples"]
    assert (f"preference records: train {per['train']}, validation {per['validation']}, test {per['test']}"
            in console.export_text())


KILL_SCRIPT = """
import json, sys
from pathlib import Path
from tests.dataset.helpers import run_dataset_stage
from tests.dataset.test_preference_stage import COPYWRITER, clustered_docs
tmp, model = Path(sys.argv[1]), Path(sys.argv[2])
section = {"templates": [COPYWRITER], "min_examples": 1,
           "generators": [{"generator": "reference_vs_base", "max_new_tokens": 6, "temperature": 1.0,
                           "top_p": 1.0, "batch_size": 2, "seed": 3}]}
manifest, out = run_dataset_stage(tmp, model, section, clustered_docs(20))
print(json.dumps(manifest.stats["preference"]["base_answers"]))
"""


def test_a_kill_while_the_base_model_answers_resumes_to_the_same_pairs(tmp_path, tiny_model_dir):
    import os
    import subprocess
    import sys

    from tests.dataset.helpers import ROOT

    def run(where, fault=None):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "HF_HUB_OFFLINE": "1"}
        env.pop("WEBTUNE_FAULT", None)
        if fault:
            env["WEBTUNE_FAULT"] = fault
        return subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(where), str(tiny_model_dir)], env=env,
                              capture_output=True, text=True, timeout=300, cwd=ROOT)

    killed = run(tmp_path / "k", fault="dataset.base_answers:2")  # two chunks of 8 cached, then SIGKILL
    assert killed.returncode != 0 and not (tmp_path / "k" / "run" / "dataset").exists()
    resumed = run(tmp_path / "k")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1]) == {"generated": 4, "cache_hits": 16, "model_loads": 1}
    clean = run(tmp_path / "c")
    assert clean.returncode == 0, clean.stderr
    for split in SPLITS:  # the resumed run sampled exactly what a run never killed samples
        assert read_pref(tmp_path / "k" / "run" / "dataset", split) == read_pref(tmp_path / "c" / "run" / "dataset",
                                                                                 split)
