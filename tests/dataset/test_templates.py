"""Templates: the demo's copywriter prompt as written, requires, strict missing fields, multi-turn."""

from __future__ import annotations

import pytest

from webtune.dataset.config import DatasetConfig, TemplateConfig
from webtune.dataset.generators.templates import from_templates
from webtune.dataset.templates import RenderError, document_context, render, selects
from webtune.errors import ConfigError
from webtune.records import Document

from tests.dataset.helpers import demo_dataset_section, product


def doc(i: int = 1, **fields) -> Document:
    return Document.model_validate(product(i, **fields))


def demo_templates() -> list[TemplateConfig]:
    return DatasetConfig.model_validate(demo_dataset_section()).templates


def test_demo_template_renders_title_brand_feature_list_and_description():
    d = doc(3, features=["Quick-drying gel ink", "Comfort grip", "Retractable"])
    [cand] = from_templates(d, document_context(d), demo_templates())
    assert cand.reject is None
    system, user, assistant = cand.messages
    assert [m["role"] for m in cand.messages] == ["system", "user", "assistant"]
    assert system["content"].startswith("You are a copywriter")
    assert user["content"] == (
        "Write a product description for this item.\nTitle: Gel Pen Pack 3\nBrand: Brand3\nFeatures:\n"
        "- Quick-drying gel ink\n- Comfort grip\n- Retractable"
    )
    assert assistant["content"] == d.fields["description"]
    assert cand.meta == {"source_id": "p003", "template": "copywriter", "generator": "template",
                         "cluster_id": "c003", "source": "files:data/snapshot.json"}


@pytest.mark.parametrize("change, reason, value", [
    ({"brand": None}, "missing_required_field", ["brand"]),
    ({"features": []}, "missing_required_field", ["features"]),
    ({"description": "   "}, "missing_required_field", ["description"]),
])
def test_required_fields_missing_or_empty_are_rejected_with_the_field(change, reason, value):
    d = doc(1, **change)
    [cand] = from_templates(d, document_context(d), demo_templates())
    assert cand.messages is None
    assert (cand.reject.reason, cand.reject.value, cand.reject.step) == (reason, value, "template")
    assert cand.reject.id == "p001"


def test_a_field_used_but_not_required_is_a_missing_field_reject_not_empty_text():
    tpl = TemplateConfig(name="t", user="Color: {{ color }}", assistant="{{ description }}")
    d = doc(1)
    [cand] = from_templates(d, document_context(d), [tpl])
    assert cand.reject.reason == "missing_field"
    assert cand.reject.value == "color"
    # a None value counts as missing too (it would otherwise render as the text "None")
    d2 = doc(2, color=None)
    [cand2] = from_templates(d2, document_context(d2), [tpl])
    assert cand2.reject.reason == "missing_field"


def test_empty_assistant_after_rendering_is_rejected():
    tpl = TemplateConfig(name="t", user="{{ title }}", assistant="{% if false %}{{ description }}{% endif %}")
    d = doc(1)
    [cand] = from_templates(d, document_context(d), [tpl])
    assert cand.reject.reason == "empty_assistant"


def test_multi_turn_template_and_context_keys():
    tpl = TemplateConfig(name="chat", messages=[
        {"role": "user", "content": "What is {{ title }}?"},
        {"role": "assistant", "content": "A product by {{ brand }} (doc {{ id }}, cluster {{ meta.cluster_id }})."},
        {"role": "user", "content": "Describe it."},
        {"role": "assistant", "content": "{{ doc.fields.description }}"},
    ])
    d = doc(5)
    [cand] = from_templates(d, document_context(d), [tpl])
    assert [m["role"] for m in cand.messages] == ["user", "assistant", "user", "assistant"]
    assert cand.messages[1]["content"] == "A product by Brand1 (doc p005, cluster c005)."
    assert cand.messages[3]["content"] == d.fields["description"]


def test_several_templates_per_source_with_selectors():
    a = TemplateConfig(name="a", user="{{ title }}", assistant="{{ description }}", sources=["files"])
    b = TemplateConfig(name="b", user="Brand of {{ title }}?", assistant="{{ brand }}", when="brand == 'Brand1'")
    c = TemplateConfig(name="c", user="{{ title }}", assistant="x", sources=["*.md"])
    d1, d2 = doc(1), doc(2)
    assert [c.meta["template"] for c in from_templates(d1, document_context(d1), [a, b, c])] == ["a", "b"]
    assert [c.meta["template"] for c in from_templates(d2, document_context(d2), [a, b, c])] == ["a"]
    # a condition on a field the document lacks does not hold (and does not crash)
    assert not selects(TemplateConfig(name="x", user="u", assistant="a", when="nope == 1"), d1, document_context(d1))


def test_document_values_win_for_text_id_meta_and_fields_fill_the_rest():
    d = Document.model_validate({"id": "x1", "source": {"kind": "files", "uri": "a"}, "text": "clean text",
                                 "fields": {"text": "raw text", "id": "field-id", "title": "T"}})
    ctx = document_context(d)
    assert (ctx["text"], ctx["id"], ctx["title"], ctx["doc"].id) == ("clean text", "x1", "T", "x1")
    assert render("{{ text }}|{{ doc.fields.text }}", ctx) == "clean text|raw text"


def test_a_field_named_doc_is_not_shadowed_by_the_document():
    from webtune.dataset.templates import document_context
    from webtune.records import Document, SourceRef

    doc = Document(id="d1", source=SourceRef(kind="files", uri="x.jsonl"), fields={"doc": "the manual", "title": "T"})
    ctx = document_context(doc)
    assert ctx["doc"] == "the manual" and ctx["document"].id == "d1"
    plain = document_context(Document(id="d2", source=SourceRef(kind="files", uri="x.jsonl"), fields={"title": "T"}))
    assert plain["doc"].id == "d2" and plain["document"].id == "d2"


@pytest.mark.parametrize("template, message", [
    ({"name": "t", "user": "{{ title ", "assistant": "x"}, "invalid Jinja template"),
    ({"name": "t", "user": "u"}, "needs user and assistant"),
    ({"name": "t", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                {"role": "assistant", "content": "c"}]}, "two user messages in a row"),
])
def test_bad_templates_are_config_errors_with_file_line_and_key(tmp_path, template, message):
    from webtune.config import load_pipeline

    path = tmp_path / "p.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"name": "x", "dataset": {"templates": [template]}}))
    with pytest.raises(ConfigError) as info:
        load_pipeline(path)
    assert message in str(info.value)
    assert f"{path}:" in str(info.value) and "dataset.templates.0" in str(info.value)


def test_render_error_reasons():
    with pytest.raises(RenderError) as info:
        render("{{ 1 / 0 }}", {})
    assert info.value.reason == "template_error"
