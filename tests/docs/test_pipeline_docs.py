"""docs/pipeline.md keeps up with the code: every config key is documented, every example loads.

The reference's conventions, which these tests rely on:

* the top-level keys are rows of the table under the heading "Top level";
* a section (pydantic model) at key path ``P`` has a heading containing ```P``` (for example
  ``### `dataset.split` ``); a backend chosen by a tag has a heading containing ```tag: name```
  (``### `kind: files` ``, ``### `step: dedup` ``, ``### `backend: local` ``, ``### `metric: loss` ``);
* under that heading (up to the next heading) each key of the model has a table row
  ``| `key` | type | default | meaning |``, and there is no row for a key the model does not
  have; a required key says "required" in its type, and a scalar default is written first in
  the default column as in YAML (```20```, ```true```, ``null``);
* every ```yaml block is a valid (part of a) pipeline file.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from webtune.config import PipelineConfig, validate_pipeline
from webtune.plugins import RegistryConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


# ---------------------------------------------------------------- what the code defines

def _models_in(annotation) -> tuple[list[type[BaseModel]], str | None]:
    """The pydantic models inside a field's type, and the tag that picks one (if a union)."""
    found: list[type[BaseModel]] = []
    tag: str | None = None

    def visit(tp) -> None:
        nonlocal tag
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            inner, *extras = typing.get_args(tp)
            for extra in extras:
                if isinstance(extra, FieldInfo) and isinstance(extra.discriminator, str):
                    tag = extra.discriminator
                if isinstance(extra, RegistryConfig):  # a backend list: every built-in config
                    tag = extra.registry.spec.tag
                    found.extend(e.cls.Config for e in extra.registry.entries() if e.origin.startswith("built-in"))
            visit(inner)
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            found.append(tp)
        elif origin in (typing.Union, types.UnionType, list, dict, tuple):
            for arg in typing.get_args(tp):
                visit(arg)

    visit(annotation)
    return found, tag


def documented_sections() -> list[tuple[str, type[BaseModel], str | None]]:
    """(heading marker, model, tag field to skip) for every section of the pipeline file."""
    sections: list[tuple[str, type[BaseModel], str | None]] = [("Top level", PipelineConfig, None)]

    def walk(model: type[BaseModel], path: str) -> None:
        for name, field in model.model_fields.items():
            key = field.alias or name
            sub_path = f"{path}.{key}" if path else key
            models, tag = _models_in(typing.Annotated[(field.annotation, *field.metadata)]
                                     if field.metadata else field.annotation)
            tag = tag or (field.discriminator if isinstance(field.discriminator, str) else None)
            for sub in models:
                if tag and len(models) > 1:
                    value = typing.get_args(sub.model_fields[tag].annotation)[0]
                    sections.append((f"`{tag}: {value}`", sub, tag))
                else:
                    sections.append((f"`{sub_path}`", sub, None))
                walk(sub, sub_path)

    walk(PipelineConfig, "")
    return sections


# ---------------------------------------------------------------- what the docs say

def doc_text() -> str:
    assert DOC.is_file(), f"{DOC} is missing"
    return DOC.read_text(encoding="utf-8")


def section(text: str, marker: str) -> str:
    """The lines under the first heading containing ``marker``, up to the next heading."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = HEADING.match(line)
        if match and marker in match.group(2):
            body = []
            for following in lines[index + 1:]:
                if HEADING.match(following):
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"docs/pipeline.md has no heading containing {marker}")


def documented_keys(body: str) -> set[str]:
    """Keys that have a table row (``| `key` | ...``) in a section."""
    return set(re.findall(r"^\|\s*`([^`]+)`", body, flags=re.MULTILINE))


def yaml_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, content) of every ```yaml block."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None and line.strip() == "```yaml":
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


# ---------------------------------------------------------------- the checks

def test_every_top_level_key_is_documented():
    keys = {field.alias or name for name, field in PipelineConfig.model_fields.items()}
    missing = keys - documented_keys(section(doc_text(), "Top level"))
    assert not missing, f"top-level keys without a row under 'Top level': {sorted(missing)}"


@pytest.mark.parametrize("registry, tag", [
    ("webtune.collect.sources:SOURCES", "kind"),
    ("webtune.clean.steps:STEPS", "step"),
    ("webtune.train.backends:TRAINERS", "backend"),
    ("webtune.evaluate.metrics:METRICS", "metric"),
])
def test_every_registered_backend_has_a_section(registry, tag):
    import importlib

    module, name = registry.split(":")
    if name == "STEPS":
        from webtune.clean.steps import load_builtin_steps

        load_builtin_steps()
    entries = getattr(importlib.import_module(module), name).entries()
    names = [e.name for e in entries if e.origin.startswith("built-in")]  # not a plugin installed here
    assert names, f"{registry} is empty"
    text = doc_text()
    for backend in names:
        section(text, f"`{tag}: {backend}`")  # raises naming the missing heading


@pytest.mark.parametrize("marker, model, tag", documented_sections(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_every_key_of_every_section_is_documented(marker, model, tag):
    expected = {field.alias or name for name, field in model.model_fields.items()} - {tag}
    missing = expected - documented_keys(section(doc_text(), marker))
    assert not missing, f"{marker} ({model.__name__}): keys without a table row: {sorted(missing)}"


def _rows(body: str) -> dict[str, list[str]]:
    """key -> the cells of its table row (type, default, meaning)."""
    rows = {}
    for line in body.splitlines():
        match = re.match(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def _shown(value) -> str | None:
    """How a scalar default is written in the default column (None: not checked)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str) and len(value) > 40:
        return None  # a long default text (a prompt) is described in words, not quoted
    if isinstance(value, (int, float, str)):
        return f"`{value}`" if value != "" else '`""`'
    return None


@pytest.mark.parametrize("marker, model, tag", documented_sections(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_documented_defaults_match_the_code(marker, model, tag):
    """A required key says so; a scalar default is the code's (``null``, ``true``, ``20``...)."""
    from pydantic_core import PydanticUndefined

    rows, wrong = _rows(section(doc_text(), marker)), []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key == tag or key not in rows or len(rows[key]) < 3:
            continue
        kind, default = rows[key][0], rows[key][1]
        if field.is_required():
            if "required" not in kind:
                wrong.append(f"{key}: required, but the type column does not say so")
            continue
        value = field.default if field.default is not PydanticUndefined else None
        shown = _shown(value) if field.default_factory is None else None
        if shown is not None and not default.startswith(shown):
            wrong.append(f"{key}: default is {shown} in the code, the docs say {default!r}")
    assert not wrong, f"{marker}: " + "; ".join(wrong)


def test_documented_keys_exist():
    """A row for a key the code does not have (renamed, removed) is an error too."""
    text, stale = doc_text(), []
    for marker, model, tag in documented_sections():
        known = {field.alias or name for name, field in model.model_fields.items()}
        stale += [f"{marker}: {key}" for key in documented_keys(section(text, marker)) - known - {tag}]
    assert not stale, f"documented keys the code does not define: {stale}"


def test_yaml_examples_are_valid_pipelines():
    text = doc_text()
    blocks = yaml_blocks(text)
    assert len(blocks) >= 8
    top = {field.alias or name for name, field in PipelineConfig.model_fields.items()}
    complete = 0
    for line, block in blocks:
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError as exc:
            raise AssertionError(f"docs/pipeline.md:{line}: invalid YAML: {exc}") from None
        assert isinstance(data, dict) and set(data) <= top, \
            f"docs/pipeline.md:{line}: a yaml example must be (part of) a pipeline file"
        complete += {"name", "sources", "clean", "dataset", "train", "evaluate"} <= set(data)
        validate_pipeline({"name": "docs-example", **data}, source=f"docs/pipeline.md:{line}",
                          base_dir=DOC.parent)
    assert complete >= 1, "docs/pipeline.md needs one complete example"


def test_complete_example_is_the_demo_pipeline():
    """The page's complete example is examples/office-products/pipeline.yaml (comments aside)."""
    demo_path = DOC.parents[1] / "examples" / "office-products" / "pipeline.yaml"
    demo = yaml.safe_load(demo_path.read_text(encoding="utf-8"))
    shown = [yaml.safe_load(block) for _, block in yaml_blocks(doc_text()) if "name: office-products" in block]
    assert demo in shown, "the complete example in docs/pipeline.md differs from the demo's pipeline.yaml"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_within_the_page_resolve():
    text = doc_text()
    anchors = {_slug(m.group(2)) for m in map(HEADING.match, text.splitlines()) if m}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links, "the contents links are gone"
    assert not links - anchors, f"links to no heading: {sorted(links - anchors)}"


def test_schema_command_is_mentioned():
    assert "webtune schema" in doc_text()
