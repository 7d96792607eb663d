"""Each filter on hand-made documents that must pass and documents that must be dropped."""

from __future__ import annotations

import pytest

from tests.clean.helpers import apply, doc

GOOD = (
    "The town council met on Tuesday evening to discuss the budget for the coming year. "
    "Members agreed that the library should stay open longer, and that the money for roads "
    "would be spent on the worst streets first. Residents who came to the meeting asked "
    "questions about parking, schools and the new bus line. The mayor said that a full report "
    "will be published next week, with the numbers for each department and a plan for the park.\n"
    "Several people thanked the staff for their work during the winter storms, which had closed "
    "two bridges. The next meeting will be held in the old town hall at the end of the month."
)


def reason(config, document):
    drop, _ = apply(config, document)
    return None if drop is None else drop.reason


def test_length_words_and_chars_on_text_and_field():
    assert reason({"step": "length", "min_words": 5}, doc("one two three four five")) is None
    drop, _ = apply({"step": "length", "min_words": 6}, doc("one two three four five"))
    assert (drop.reason, drop.value, drop.threshold) == ("too_few_words", 5, 6)
    assert reason({"step": "length", "max_words": 3}, doc("one two three four")) == "too_many_words"
    assert reason({"step": "length", "min_chars": 10}, doc("short")) == "too_few_chars"
    assert reason({"step": "length", "max_chars": 3}, doc("long text")) == "too_many_chars"
    product = doc(fields={"description": "Great pens for the office and school.", "title": "Pens"})
    assert reason({"step": "length", "field": "description", "min_words": 7}, product) is None
    assert reason({"step": "length", "field": "description", "min_words": 8}, product) == "too_few_words"
    assert reason({"step": "length", "field": "missing", "min_words": 1}, product) == "too_few_words"


def test_language_keeps_listed_languages():
    en = doc(fields={"d": "This stapler holds twenty sheets and never jams, even after a long day at the office."})
    de = doc(fields={"d": "Dieser Hefter hält zwanzig Blatt und klemmt nie, selbst nach einem langen Tag im Büro."})
    assert reason({"step": "language", "field": "d", "keep": ["en"]}, en) is None
    assert en.meta["lang"] == "en" and en.meta["lang_confidence"] > 0.5
    drop, _ = apply({"step": "language", "field": "d", "keep": ["en"]}, de)
    assert drop.reason == "wrong_language" and drop.value["lang"] == "de" and drop.threshold == ["en"]
    assert reason({"step": "language", "field": "d", "keep": ["en", "de"]}, de) is None
    drop, _ = apply({"step": "language", "keep": ["en", "de"], "min_confidence": 0.9}, doc("Internet Computer Radio Hotel"))
    assert drop.reason == "unsure_language" and drop.value < 0.9


def test_language_code_validation():
    from webtune.errors import ConfigError
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        apply({"step": "language", "keep": ["english"]}, doc("x"))
    with pytest.raises(ConfigError, match="does not know"):
        apply({"step": "language", "keep": ["qq"]}, doc("some words here"))


def test_gopher_quality():
    assert reason({"step": "gopher_quality"}, doc(GOOD)) is None
    assert reason({"step": "gopher_quality"}, doc("Too short to be a document.")) == "gopher_short_doc"
    words = " ".join(["antidisestablishmentarianism"] * 60)
    assert reason({"step": "gopher_quality"}, doc(words)) == "gopher_above_avg_threshold"
    hashes = GOOD + " " + " ".join(["#tag"] * 30)
    assert reason({"step": "gopher_quality"}, doc(hashes)) == "gopher_too_many_hashes"
    bullets = "\n".join(f"- item number {i} of the list with the data" for i in range(60))
    assert reason({"step": "gopher_quality"}, doc(bullets)) == "gopher_too_many_bullets"
    no_stop = " ".join(f"word{i} alpha beta gamma" for i in range(20))
    assert reason({"step": "gopher_quality"}, doc(no_stop)) == "gopher_enough_stop_words"
    numbers = " ".join(str(i) for i in range(200)) + " the and of"
    assert reason({"step": "gopher_quality", "min_avg_word_length": None}, doc(numbers)) == "gopher_below_alpha_threshold"


def test_gopher_repetition():
    assert reason({"step": "gopher_repetition"}, doc(GOOD)) is None
    repeated = "\n\n".join(["Buy cheap watches online today."] * 5 + ["A real paragraph here."])
    drop, _ = apply({"step": "gopher_repetition"}, doc(repeated))
    assert drop.reason == "dup_para_frac" and drop.value > 0.3 and drop.threshold == 0.3
    spam = GOOD + " " + " ".join(["click here now"] * 40)
    assert reason({"step": "gopher_repetition"}, doc(spam)).startswith(("top_", "duplicated_"))


def test_duplicate_ngram_chars_equals_gophers_scan_on_random_texts():
    """The set check that returns 0 early and the scan over prebuilt n-grams give the original
    scan's count (the n-grams inside a repeat are skipped, not remembered)."""
    import random

    from webtune.clean.steps.gopher_repetition import duplicate_ngram_chars

    def reference(words, n):
        seen, chars, i = set(), 0, 0
        while i < len(words) - n + 1:
            gram = tuple(words[i:i + n])
            if gram in seen:
                chars += sum(map(len, gram))
                i += n
            else:
                seen.add(gram)
                i += 1
        return chars

    rng = random.Random(3)
    counts = []
    for _ in range(400):
        vocab = [f"w{k}" * rng.randint(1, 3) for k in range(rng.randint(1, 12))]
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 60))]
        for n in (1, 2, 5, 7):
            counts.append(duplicate_ngram_chars(words, n))
            assert counts[-1] == reference(words, n), (words, n)
    assert any(counts) and not all(counts)


def test_c4_rules_and_line_removal():
    text = GOOD + "\nMenu\nThis site uses cookies to improve your experience.\nEnable JavaScript to see comments."
    d = doc(text)
    assert reason({"step": "c4"}, d) is None
    assert "Menu" not in d.text and "cookies" not in d.text and "JavaScript" not in d.text
    assert d.text.startswith("The town council")
    assert reason({"step": "c4"}, doc(GOOD + "\nLorem ipsum dolor sit amet, consectetur.")) == "lorem_ipsum"
    assert reason({"step": "c4"}, doc(GOOD + "\nfunction f() { return 1; }.")) == "curly_bracket"
    drop, _ = apply({"step": "c4"}, doc("One sentence only here."))
    assert (drop.reason, drop.value, drop.threshold) == ("too_few_sentences", 1, 5)


def test_fineweb_rules():
    assert reason({"step": "fineweb"}, doc(GOOD)) is None
    no_punct = "\n".join(f"Heading number {i} without any final punctuation at all" for i in range(10))
    assert reason({"step": "fineweb"}, doc(no_punct)) == "line_punct_ratio"
    short = "\n".join(["Ok.", "Yes.", "No.", "A longer line that ends with a full stop here."] * 3)
    assert reason({"step": "fineweb", "char_duplicates_ratio": 1}, doc(short)) == "short_line_ratio"
    dup_lines = GOOD + "\n" + "\n".join(["This exact sentence is repeated on the page again."] * 3)
    assert reason({"step": "fineweb"}, doc(dup_lines)) == "char_dup_ratio"
    listy = "\n".join(f"Item {i}." for i in range(30))
    assert reason({"step": "fineweb", "short_line_thr": 1.0}, doc(listy)) == "list_ratio"


def test_url_allow_and_block():
    page = doc("x", uri="https://news.example.com/a/b?utm=1")
    assert reason({"step": "url", "allow_domains": ["example.com"]}, page) is None
    assert reason({"step": "url", "allow_domains": ["other.org"]}, page) == "domain_not_allowed"
    assert reason({"step": "url", "block_domains": ["example.com"]}, page) == "blocked_domain"
    assert reason({"step": "url", "block_domains": ["ample.com"]}, page) is None  # not a subdomain
    assert reason({"step": "url", "block_patterns": [r"utm="]}, page) == "blocked_url"
    product = doc(fields={"url": "https://www.amazon.com/dp/B0X"}, uri="snapshot.json")
    assert reason({"step": "url", "field": "url", "allow_domains": ["amazon.com"]}, product) is None
    assert reason({"step": "url", "allow_domains": ["amazon.com"], "drop_missing": True}, product) == "no_url"


def test_regex_modes():
    d = doc("Call now! Limited offer. Real content follows.")
    drop, _ = apply({"step": "regex", "patterns": [r"limited offer"], "reason": "spam"}, d)
    assert drop.reason == "spam_match" and drop.value == "Limited offer"
    assert reason({"step": "regex", "patterns": [r"\bfree\b"]}, d) is None
    assert reason({"step": "regex", "patterns": [r"\bfree\b"], "mode": "keep"}, d) == "regex_no_match"
    apply({"step": "regex", "patterns": [r"Call now! "], "mode": "strip"}, d)
    assert d.text == "Limited offer. Real content follows."


def test_field_presence():
    ok = doc(fields={"title": "Pens", "description": "Good pens.", "features": ["Gel ink"]})
    assert reason({"step": "field_presence", "fields": ["title", "description", "features"]}, ok) is None
    for bad in ({"title": "Pens", "description": "  ", "features": ["x"]},
                {"title": "Pens", "description": None, "features": ["x"]},
                {"title": "Pens", "features": ["x"]},
                {"title": "Pens", "description": "Good.", "features": []}):
        drop, _ = apply({"step": "field_presence", "fields": ["title", "description", "features"]}, doc(fields=bad))
        assert drop.reason == "missing_field" and len(drop.value) == 1
