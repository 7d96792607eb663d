"""Generators by name: a generator registered by a plugin is chosen from the dataset section like a built-in."""

from __future__ import annotations

from typing import Iterable

import pytest

from webtune.config import validate_pipeline
from webtune.configbase import RelPath, StrictModel
from webtune.dataset.generators import GENERATORS, Batch, Candidate, GeneratorEnv, base_meta
from webtune.errors import WebtuneError

from tests.dataset.helpers import product, read_split, run_dataset_stage

SPLITS = ("train", "validation", "test")
TEMPLATE = {"name": "copy", "user": "Describe {{ title }}.", "assistant": "{{ description }}"}


class ShoutConfig(StrictModel):
    field: str = "title"
    times: int = 1
    suffix_file: RelPath | None = None  # relative to the pipeline file, like the built-ins' paths


class Shout:
    """A third-party style generator: asks to shout a field, answers in capitals."""

    Config = ShoutConfig

    def __init__(self, config: ShoutConfig):
        self.config = config

    def generate(self, batch: Batch, env: GeneratorEnv) -> Iterable[Candidate]:
        for item in batch.docs:
            value = item.context.get(self.config.field)
            if isinstance(value, str):
                answer = "!".join([value.upper()] * self.config.times)
                if self.config.suffix_file is not None:
                    answer += self.config.suffix_file.read_text().strip()
                messages = [{"role": "user", "content": f"Shout {value}"}, {"role": "assistant", "content": answer}]
                yield Candidate(messages, base_meta(item.doc, "shout", "shout"), item.doc)


@pytest.fixture(autouse=True)
def shout_registered(monkeypatch):
    """``test-shout`` registered for these tests only, as a plugin would register it.

    The registry's table is put back afterwards (there is no public way to unregister), so
    tests that check every registered backend is a built-in still see only built-ins.
    """
    GENERATORS.load()
    monkeypatch.setattr(GENERATORS, "_entries", dict(GENERATORS._entries))
    GENERATORS.register("test-shout")(Shout)


def test_the_built_in_generators_are_registered_by_name():
    assert {"templates", "qa", "teacher-qa", "teacher-rewrite", "mix"} <= set(GENERATORS.names())


def test_a_registered_generator_runs_from_the_dataset_section_next_to_a_built_in(tmp_path, tiny_model_dir):
    docs = [product(i) for i in range(12)]
    dataset = {"generators": [{"generator": "test-shout", "times": 2}, {"generator": "templates", "templates": [TEMPLATE]}],
               "split": {"validation": 0, "test": 0}}
    manifest, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, docs)
    train = read_split(out, "train")
    # per document, each generator in the order listed
    assert [e["meta"]["template"] for e in train[:4]] == ["shout", "copy", "shout", "copy"]
    assert train[0]["messages"][1]["content"] == "GEL PEN PACK 0!GEL PEN PACK 0"
    assert manifest.stats["by_template"] == {"shout": {"train": 12, "validation": 0, "test": 0},
                                                "copy": {"train": 12, "validation": 0, "test": 0}}
    assert manifest.counts.to_json() == {"in": 24, "kept": 24, "rejected": 0}


def test_a_generator_path_is_relative_to_the_pipeline_file(tmp_path, tiny_model_dir):
    (tmp_path / "suffix.txt").write_text("!!\n")
    dataset = {"generators": [{"generator": "test-shout", "suffix_file": "suffix.txt"}], "min_examples": 1}
    pipeline = validate_pipeline({"name": "t", "base_model": "x", "dataset": dataset}, base_dir=tmp_path)
    assert pipeline.dataset.generators == [{"generator": "test-shout", "field": "title", "times": 1,
                                            "suffix_file": str(tmp_path / "suffix.txt")}]
    _, out = run_dataset_stage(tmp_path, tiny_model_dir, dataset, [product(1)])
    assert read_split(out, "train")[0]["messages"][1]["content"] == "GEL PEN PACK 1!!"


@pytest.mark.parametrize("entry, message", [
    ({"generator": "test-shuot"}, "unknown generator 'test-shuot' (did you mean 'test-shout'?)"),
    ({"generator": "test-shout", "times": "many"}, "dataset.generators: 0 (test-shout): times:"),
    ({"generator": "test-shout", "loud": True}, "0 (test-shout): loud: Extra inputs are not permitted"),
    ({"times": 2}, "give the generator's name as 'generator: NAME'"),
    ({"generator": "mix", "path": "x.jsonl", "ratio": 0.1}, "mixed in with dataset.mix"),
])
def test_a_bad_generator_entry_is_a_config_error_naming_it(tmp_path, entry, message):
    with pytest.raises(WebtuneError) as info:
        validate_pipeline({"name": "t", "base_model": "x", "dataset": {"generators": [entry]}}, base_dir=tmp_path)
    assert message in str(info.value)
