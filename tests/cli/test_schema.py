"""`webtune schema`: the JSON Schema editors use to check pipeline files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from webtune.cli.main import app
from webtune.config import PipelineConfig, validate_pipeline
from webtune.errors import ConfigError

runner = CliRunner()
DEMO = Path(__file__).resolve().parents[2] / "examples" / "office-products" / "pipeline.yaml"


@pytest.fixture(scope="module")
def schema() -> dict:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def demo() -> dict:
    return yaml.safe_load(DEMO.read_text(encoding="utf-8"))


def test_schema_is_valid_json_schema_with_every_top_level_key(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["additionalProperties"] is False
    expected = {field.alias or name for name, field in PipelineConfig.model_fields.items()}
    assert set(schema["properties"]) == expected
    assert "register" in schema["properties"] and "register_" not in schema["properties"]
    assert schema["required"] == ["name"]


def _schema_keys(schema: dict) -> set[str]:
    """Every property name defined anywhere in the schema."""
    keys: set[str] = set(schema.get("properties", {}))
    for definition in schema.get("$defs", {}).values():
        keys |= set(definition.get("properties", {}))
    return keys


def _data_keys(node) -> set[str]:
    """Every mapping key of a YAML document, except inside free-form mappings."""
    if isinstance(node, list):
        return set().union(*(_data_keys(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    keys = set(node)
    for key, value in node.items():
        if key != "fields":  # files source: role -> field name, any field name goes
            keys |= _data_keys(value)
    return keys


def test_demo_pipeline_keys_are_all_in_the_schema(schema):
    missing = _data_keys(demo()) - _schema_keys(schema)
    assert not missing


def test_demo_pipeline_validates_against_the_schema(validator):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(demo())]
    assert errors == []


@pytest.mark.parametrize("change, where", [
    ({"train": {"lora": {"r": "many"}}}, "train"),
    ({"trian": {}}, ""),
    ({"clean": {"steps": [{"step": "lenght"}]}}, "clean"),
    ({"sources": [{"paths": ["data.json"]}]}, "sources"),  # no kind: pydantic cannot pick a source
    ({"evaluate": {"metrics": ["bleu"]}}, "evaluate"),
    ({"dataset": {"split": {"validation": "ten"}}}, "dataset"),
])
def test_schema_and_loader_both_refuse_bad_pipelines(validator, change, where):
    data = {**demo(), **change}
    if "train" in change:
        data["train"] = {**demo()["train"], **change["train"]}
    errors = list(validator.iter_errors(data))
    assert errors, f"the schema accepted {change}"
    assert all(str(e.absolute_path[0] if e.absolute_path else "") == where for e in errors)
    with pytest.raises(ConfigError):
        validate_pipeline(data)


@pytest.mark.parametrize("change", [
    {"train": {"method": "lora", "epochs": 1}},  # backend left out: local is filled in
    {"train": {"backend": "openai", "model": "gpt-4o-mini-2024-07-18"}},
    {"evaluate": {"metrics": ["loss", {"metric": "rouge_l"}]}},
    {"sources": [{"kind": "crawl", "urls": ["https://example.com/"]}]},
])
def test_schema_accepts_what_the_loader_accepts(validator, change):
    data = {**demo(), **change}
    validate_pipeline(data)
    assert [e.message for e in validator.iter_errors(data)] == []


def test_schema_written_to_a_file(tmp_path, schema):
    target = tmp_path / "editor" / "pipeline.schema.json"
    result = runner.invoke(app, ["schema", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8")) == schema
    assert "yaml-language-server: $schema=" in result.output


def test_unwritable_output_is_one_clear_error(tmp_path):
    result = runner.invoke(app, ["schema", "-o", str(tmp_path)])  # a directory
    assert result.exit_code == 1
    assert "cannot write the schema" in result.output and "Traceback" not in result.output
