"""html_to_text, normalize and boilerplate on hand-made pages and fields."""

from __future__ import annotations

from tests.clean.helpers import apply, doc, run

ARTICLE = " ".join(["The committee met on Tuesday to review the annual budget and its long-term plans."] * 1) + (
    " Members discussed transport, housing and the new library in detail, and agreed to publish"
    " the minutes next week so that residents can comment on every proposal before the vote.")
PAGE = (
    "<html><head><title>Budget review</title><meta name='date' content='2024-05-02'></head><body>"
    "<nav><a href='/'>Home</a> | <a href='/news'>News</a></nav>"
    f"<article><h1>Budget review</h1><p>{ARTICLE}</p><p>{ARTICLE}</p>"
    "<ul><li>Transport plan approved</li><li>Housing plan delayed</li></ul></article>"
    "<footer>Copyright 2024 Town Hall</footer></body></html>"
)


def test_page_main_text_as_plain_text_by_default_without_metadata():
    d = doc(html=PAGE)
    drop, stats = apply({"step": "html_to_text"}, d)
    assert drop is None and stats == {"trafilatura": 1}
    assert d.text.startswith("Budget review\nThe committee met")
    assert "Transport plan approved" in d.text
    assert "Home" not in d.text and "Copyright" not in d.text  # navigation and footer are gone
    assert d.meta == {}  # metadata costs time and changes no text: only when asked
    assert d.html is None


def test_markdown_and_metadata_when_asked():
    d = doc(html=PAGE)
    apply({"step": "html_to_text", "output": "markdown", "metadata": True}, d)
    assert d.text.startswith("# Budget review")
    assert "- Transport plan approved" in d.text
    assert d.meta["title"] == "Budget review" and d.meta["date"] == "2024-05-02"


MARKUP = ("<html><body><article><h1>Snake_case [notes]</h1>"
          f"<p>Use a*b*c and snake_case_names, <u>underlined</u>, <b>bold</b> and <i>italic</i>. {ARTICLE}</p>"
          f"<p>{ARTICLE}</p></article></body></html>")


def test_plain_text_has_no_markdown_escapes_or_tags():
    d = doc(html=MARKUP)
    apply({"step": "html_to_text"}, d)
    assert "Use a*b*c and snake_case_names, underlined, bold and italic." in d.text
    for leftover in ("\\", "<u>", "**", "# "):
        assert leftover not in d.text


def test_markdown_output_is_clean_markdown():
    d = doc(html=MARKUP)
    apply({"step": "html_to_text", "output": "markdown"}, d)
    assert d.text.startswith("# Snake_case [notes]")
    assert "snake_case_names, underlined, **bold** and *italic*" in d.text
    assert "\\" not in d.text and "<u>" not in d.text


def test_boilerplate_lines_are_trimmed():
    from webtune.clean.extract import trim_boilerplate

    body = ["Main story line one with plenty of words in it.", "Read more: Another story elsewhere",
            "Main story line two with plenty of words too.", "12.03.2021", "Main story line three, the end.",
            "Related articles", "- A link", "- Another link", "Photo: Jane Doe"]
    assert trim_boilerplate("\n".join(body)) == "\n".join(body[0:1] + body[2:3] + body[4:5])
    kept = "Intro.\nRelated work matters here, as the paper shows in detail.\nEnd."
    assert trim_boilerplate(kept) == kept  # a marker word inside a sentence is not a heading
    d = doc(html=PAGE.replace("</ul></article>", "</ul><h2>Related articles</h2><ul><li>Budget 2023</li></ul></article>"))
    apply({"step": "html_to_text"}, d)
    assert "Housing plan delayed" in d.text and "Budget 2023" not in d.text
    d = doc(html=PAGE.replace("</ul></article>", "</ul><h2>Related articles</h2><ul><li>Budget 2023</li></ul></article>"))
    apply({"step": "html_to_text", "trim_boilerplate": False}, d)
    assert "Budget 2023" in d.text


def test_fallback_when_trafilatura_finds_nothing():
    d = doc(html="<html><body><footer>Only a footer here</footer></body></html>")
    drop, stats = apply({"step": "html_to_text"}, d)
    assert drop is None and stats == {"fallback": 1} and d.text == "Only a footer here"
    drop, _ = apply({"step": "html_to_text", "fallback": False}, doc(html="<html><body><footer>Only a footer here</footer></body></html>"))
    assert drop.reason == "no_text"
    d = doc(html="<html><body><script>var x = 1;</script></body></html>")
    drop, _ = apply({"step": "html_to_text"}, d)
    assert drop is not None and drop.reason == "no_text"


def test_html_inside_fields_becomes_clean_text():
    d = doc(fields={"description": "<p>Fast &amp; quiet.&nbsp; Great pens.</p><ul><li>Gel ink</li><li>12 pack</li></ul>",
                    "title": "Pens &ndash; 12 Pack", "price": 3.5})
    apply({"step": "html_to_text", "fields": ["description", "title", "missing"]}, d)
    assert d.fields["description"] == "Fast & quiet. Great pens.\n\n- Gel ink\n- 12 pack"
    assert d.fields["title"] == "Pens – 12 Pack" and d.fields["price"] == 3.5
    apply({"step": "normalize", "fields": ["description"]}, d)
    assert d.fields["description"] == "Fast & quiet. Great pens.\n\n- Gel ink\n- 12 pack"


def test_normalize_fixes_mojibake_unicode_and_whitespace():
    d = doc("cafÃ© menu\u200b  costs\t 5 \x07euros\r\n\r\n\r\n\r\nNext  line   ", fields={"t": ["e\u0301t\u00e9 ", "ok"]})
    drop, stats = apply({"step": "normalize"}, d)
    assert drop is None and d.text == "café menu costs 5 euros\n\nNext line"
    apply({"step": "normalize", "fields": ["t"]}, d)
    assert d.fields["t"] == ["\u00e9t\u00e9", "ok"]  # NFC: one code point for é


def test_normalize_repeated_lines_option():
    text = "Share this\nFirst paragraph here.\nShare this\nSecond paragraph here."
    d = doc(text)
    apply({"step": "normalize"}, d)
    assert d.text.count("Share this") == 2
    apply({"step": "normalize", "repeated_lines": True}, d)
    assert d.text == "Share this\nFirst paragraph here.\nSecond paragraph here."


def test_boilerplate_lines_shared_by_many_documents_are_removed(tmp_path):
    docs = [doc(f"Accept cookies to continue\nStory number {i} is about topic {i * 7}.\nFollow us", line=i)
            for i in range(8)]
    docs.append(doc("Accept cookies to continue\nFollow us", line=99))
    manifest, kept, rejects = run(tmp_path, docs, [{"step": "boilerplate", "min_docs": 5}], workers=1)
    assert [k["text"] for k in kept][:2] == ["Story number 0 is about topic 0.", "Story number 1 is about topic 7."]
    assert len(kept) == 8 and rejects[0]["reason"] == "only_boilerplate"
    assert manifest.stats["steps"]["boilerplate"]["lines_removed"] == 18
