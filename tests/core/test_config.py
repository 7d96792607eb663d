"""The pipeline file: valid files load, bad ones fail before any work with file, line and key."""

from pathlib import Path

import pytest

from webtune.config import load_pipeline, validate_pipeline
from webtune.errors import ConfigError

from tests.core import pipeline_corpus

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "office-products" / "pipeline.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_demo_pipeline_loads_with_paths_relative_to_the_file():
    pipeline = load_pipeline(EXAMPLE)
    assert pipeline.name == "office-products"
    assert pipeline.train.backend == "local"
    source_path = pipeline.sources[0].paths[0]
    assert source_path == EXAMPLE.parent / "data" / "snapshot.json"
    assert pipeline.resolved_run_dir(Path("/x")) == Path("/x/runs/office-products")


def test_wrong_type_names_file_line_and_key_path(tmp_path):
    path = write(tmp_path, "name: demo\ntrain:\n  lora:\n    r: sixteen\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    message = str(err.value)
    assert f"{path}:4: train.lora.r: expected an integer" in message
    assert "sixteen" in message


def test_unknown_key_is_an_error(tmp_path):
    path = write(tmp_path, "name: demo\ntrain:\n  epochz: 3\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml:3: train.epochz: unknown key"):
        load_pipeline(path)


def test_missing_required_field(tmp_path):
    path = write(tmp_path, "base_model: x\n")
    with pytest.raises(ConfigError, match=r"name: required field missing"):
        load_pipeline(path)


def test_unknown_source_kind_lists_choices(tmp_path):
    path = write(tmp_path, "name: demo\nsources:\n  - kind: ftp\n    paths: [a]\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert "sources.0" in str(err.value) and "files" in str(err.value)


def test_error_inside_a_source_skips_the_union_tag(tmp_path):
    path = write(tmp_path, "name: demo\nsources:\n  - kind: files\n    paths: 3\n")
    with pytest.raises(ConfigError, match=r":4: sources\.0\.paths: expected a list"):
        load_pipeline(path)


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "name: demo\ntrain: [unclosed\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml:\d+: invalid YAML"):
        load_pipeline(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="pipeline file not found"):
        load_pipeline(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_pipeline(write(tmp_path, "- a\n- b\n"))


def test_unknown_step_name_suggests_the_closest(tmp_path):
    path = write(tmp_path, "name: demo\nclean:\n  steps:\n    - step: lenght\n      min_words: 3\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert "pipeline.yaml:4: clean.steps.0: unknown step 'lenght' (did you mean 'length'?)" in str(err.value)


def test_source_without_kind_says_so(tmp_path):
    path = write(tmp_path, "name: demo\nsources:\n  - paths: [a]\n")
    with pytest.raises(ConfigError, match=r":3: sources\.0: missing `kind`"):
        load_pipeline(path)


def test_base_model_path_is_relative_to_the_pipeline_file(tmp_path):
    (tmp_path / "models" / "mine").mkdir(parents=True)
    pipeline = load_pipeline(write(tmp_path, "name: demo\nbase_model: models/mine\n"))
    assert pipeline.base_model == str((tmp_path / "models" / "mine").resolve())
    assert load_pipeline(write(tmp_path, "name: demo\n")).base_model == "smollm2-135m-instruct"


def test_validator_messages_read_without_pydantics_label():
    with pytest.raises(ConfigError) as caught:
        validate_pipeline({"name": "x", "clean": {"steps": [{"step": "regex", "patterns": ["("]}]}})
    assert str(caught.value) == ("<config>: clean.steps.0.patterns: invalid regular expression '(': "
                                 "missing ), unterminated subpattern at position 0")


def test_old_build_key_still_loads_with_a_one_line_notice(tmp_path, capsys):
    path = write(tmp_path, "name: demo\nbuild:\n  min_examples: 3\n")
    pipeline = load_pipeline(path)
    assert pipeline.dataset.min_examples == 3
    notice = capsys.readouterr().err.strip()
    assert notice.count("\n") == 0 and "`build:` is now `dataset:`" in notice


def test_old_build_key_errors_point_at_its_line(tmp_path):
    path = write(tmp_path, "name: demo\n\nbuild:\n  min_examples: many\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert f"{path}:4: dataset.min_examples" in str(err.value)


def test_build_and_dataset_together_are_refused(tmp_path):
    path = write(tmp_path, "name: demo\nbuild: {}\ndataset: {}\n")
    with pytest.raises(ConfigError, match="`build:` is its old name"):
        load_pipeline(path)


# ------------------------------------------------------------------ malformed pipeline files


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(pipeline_corpus.expected()))
def test_malformed_pipeline_file_is_one_line_naming_file_line_and_key(name):
    path = pipeline_corpus.CORPUS / name
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    message = str(err.value)
    expected = pipeline_corpus.expected()[name]
    if expected[0].isdigit():  # line: key: message
        assert message.startswith(f"{path}:{expected}"), message
    else:
        assert message.startswith(f"{path}:") and expected in message, message
    assert "\n" not in message


def test_checked_in_pipeline_corpus_matches_its_generator():
    assert {n: e for n, (_, e) in pipeline_corpus.CASES.items()} == pipeline_corpus.expected()


@pytest.mark.timeout(60)
def test_pipeline_nested_100000_deep_is_refused_quickly(tmp_path):
    for name, error in pipeline_corpus.write_generated(tmp_path).items():
        with pytest.raises(ConfigError) as err:
            load_pipeline(tmp_path / name)
        assert str(err.value) == f"{tmp_path / name}:{error}"


def test_nesting_just_under_the_limit_is_read(tmp_path):
    path = write(tmp_path, pipeline_corpus.nested(62))
    with pytest.raises(ConfigError, match=r"train\.k0: unknown key"):  # read, then validated
        load_pipeline(path)


def test_documented_yes_key_parses_as_written(tmp_path):
    path = write(tmp_path, "name: demo\ntrain:\n  backend: openai\n  model: gpt-4o-mini-2024-07-18\n  yes: true\n"
                           "  confirm: no\n")
    train = load_pipeline(path).train
    assert train.yes is True and train.confirm is False  # `no` as a *value* is still false


def test_on_and_off_keys_stay_names(tmp_path):
    path = write(tmp_path, "name: demo\ndescription: x\non: 1\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml:3: on: unknown key"):
        load_pipeline(path)


def test_aliases_within_the_limit_still_work(tmp_path):
    path = write(tmp_path, "name: demo\ntrain:\n  lora: {r: &r 4, alpha: 8}\nevaluate:\n  max_new_tokens: &n 32\n"
                           "chat:\n  max_new_tokens: *n\n")
    pipeline = load_pipeline(path)
    assert pipeline.train.lora.r == 4 and pipeline.evaluate.max_new_tokens == 32 == pipeline.chat.max_new_tokens


def test_oversized_pipeline_file_is_refused_before_reading(tmp_path, monkeypatch):
    import webtune.config as config_module

    monkeypatch.setattr(config_module, "MAX_PIPELINE_BYTES", 100)
    path = write(tmp_path, "name: demo\ndescription: " + "x" * 200 + "\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml: the pipeline file is 225 bytes, over the 100-byte limit"):
        load_pipeline(path)


def test_max_new_tokens_within_context_loads(tmp_path):
    assert load_pipeline(write(tmp_path, "name: demo\nevaluate:\n  max_new_tokens: 8192\n")).evaluate.max_new_tokens == 8192
