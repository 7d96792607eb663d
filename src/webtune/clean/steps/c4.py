"""c4: the C4 line rules (Raffel et al. 2020) as in datatrove's C4QualityFilter defaults.

C4 was built for English. For a text in another language (the ``language`` step's
``meta.lang``, a configured ``language``, or a CJK / Thai script) the words per line are that
language's units (`webtune.text_units`), its sentence-final marks ("。", "！", "।", "؟", ...)
end lines and sentences, and a sentence ends at such a mark even without a following space
(Chinese and Japanese put none). English text is judged exactly as before."""

from __future__ import annotations

import re
from typing import Any, Literal

from webtune import text_units
from webtune.clean import languages
from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Drop, TextStep, UnitsConfig, bump
from webtune.records import Document

CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies",
                     "use of cookies", "use cookies")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)")
# Other scripts: after their full stops a sentence ends with or without a space.
_SENTENCE_END_INTL = re.compile(r"(?<=[.!?])[\"')\]»”]*\s+(?=\S)|(?<=[。！？।॥؟])[」』”）»]*\s*(?=\S)")


class C4Config(UnitsConfig):
    step: Literal["c4"] = "c4"
    # Defaults: datatrove C4QualityFilter.
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5  # -1 disables
    min_words_per_line: int = 3  # -1 disables
    max_word_length: int = 1000  # -1 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    # Write the kept lines back to the document text (C4 does); off: only judge.
    rewrite: bool = True


def count_sentences(line: str, intl: bool = False) -> int:
    """Sentences in a line: splits after . ! ? followed by space (a light punkt stand-in);
    ``intl``: also after other scripts' full stops, space or not."""
    return len((_SENTENCE_END_INTL if intl else _SENTENCE_END).split(line)) if line else 0


@STEPS.register("c4")
class C4(TextStep):
    """Reason codes: lorem_ipsum, curly_bracket, too_few_sentences. Bad lines are removed."""

    Config = C4Config

    def apply(self, doc: Document, stats: dict[str, Any]) -> Drop | None:
        text = self.measured_text(doc)
        lang = self.language_of(doc, text)
        verdict, kept_lines, removed = c4_lines(text, self.config, lang)
        if removed:
            bump(stats, "lines_removed", removed)
        if verdict is not None:
            return verdict
        if self.config.rewrite and self.config.target_names() is None and removed:
            doc.text = "\n".join(kept_lines).strip()
        return None


def c4_lines(text: str, cfg: C4Config, lang: str | None = None) -> tuple[Drop | None, list[str], int]:
    """Apply the line rules: (a document-level Drop or None, kept lines, removed line count)."""
    intl = lang not in (None, "en")
    end_punct = END_PUNCTUATION + languages.EXTRA_END_PUNCTUATION if intl else END_PUNCTUATION
    kept: list[str] = []
    removed = sentences = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        line_words = line.split()
        if cfg.max_word_length != -1 and any(len(w) > cfg.max_word_length for w in line_words):
            removed += 1
            continue
        if cfg.remove_citations:
            line = CITATION.sub("", line)
        if cfg.filter_no_terminal_punct and (not line.endswith(end_punct) or line.endswith("...")):
            removed += 1
            continue
        if intl and lang in text_units.UNSPACED:
            line_words = text_units.words(line, lang, cfg.units_fallback)
        if len(line_words) < cfg.min_words_per_line:
            removed += 1
            continue
        lower = line.lower()
        if cfg.filter_lorem_ipsum and "lorem ipsum" in lower:
            return Drop("lorem_ipsum", "lorem ipsum", None), kept, removed
        if cfg.filter_javascript and "javascript" in lower:
            removed += 1
            continue
        if cfg.filter_curly_bracket and "{" in line:
            return Drop("curly_bracket", "{", None), kept, removed
        if cfg.filter_policy and any(p in lower for p in POLICY_SUBSTRINGS):
            removed += 1
            continue
        sentences += count_sentences(line, intl)
        kept.append(line)
    if cfg.min_num_sentences != -1 and sentences < cfg.min_num_sentences:
        return Drop("too_few_sentences", sentences, cfg.min_num_sentences), kept, removed
    return None, kept, removed
