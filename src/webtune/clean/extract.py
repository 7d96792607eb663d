"""Main-text extraction of web pages: trafilatura, its fallbacks, and a boilerplate trimmer.

The chain, cheapest first, each link used only where the previous one is unsure:

1. trafilatura with its own fallbacks (``fast=False``): when its tree-based extraction looks
   short or odd, it compares itself with readability (its port of readability-lxml) and
   jusText and keeps the better one. It runs through `webtune.clean.fast_trafilatura`: the
   same text as ``trafilatura.bare_extraction``, a third less time;
2. a boilerplate trimmer over the result's lines (`trim_boilerplate`): the tail blocks that
   extractors keep most often (related-article and tag lists, share buttons, "Read more: ..."
   teasers, photo credits and date lines), recognised by short multilingual markers;
3. when trafilatura finds no main text at all: jusText alone, then every visible line.

Measured on trafilatura's public evaluation set in bench/extraction.py: the trimmer lifts
precision (fewer boilerplate snippets) at about one percent of the extraction's CPU, with
recall unchanged. The trimmer is hand-written: no maintained library does this post-pass.

Plain text (the default) has no Markdown: no ``\\_`` escapes, ``**`` or ``<u>`` tags.
Markdown output keeps headings, lists and emphasis but not escapes or HTML tags (`clean_markdown`).
Metadata (title, date, language) costs a quarter of the extraction's time and changes no
text, so it is read only when asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_F = re.IGNORECASE | re.VERBOSE

# A heading (a whole short line) that opens a trailing block of links or teasers: from there
# on, the page is no longer the article. Only looked for in the second half of the text.
SECTION_HEADING = re.compile(r"""^\W*(
 related(\ (articles?|posts?|stories|content|topics|news))?|read\ (more|also|next)|see\ also
 |more\ (from|on|about|stories|news|articles)(\ \S+){0,3}|you\ (may|might)\ also\ (like|enjoy)
 |recommended(\ for\ you|\ articles|\ reading)?|also\ read|further\ reading|popular\ (posts|articles|stories)
 |latest\ (news|posts|articles|stories)|tags?|topics|keywords|categor(y|ies)|filed\ under
 |comments?(\ \(?\d+\)?)?|\d+\ comments?|leave\ a\ (reply|comment)
 |lesen\ sie\ (auch|mehr)|auch\ lesen|weiterlesen|mehr\ (zum\ thema|themen|dazu|artikel)
 |weitere\ (artikel|beiträge|themen|nachrichten|meldungen)(\ \S+){0,3}|ähnliche\ (artikel|beiträge)
 |das\ (thema\ )?könnte\ (sie|dich)\ auch\ interessieren|empfohlene\ (beiträge|artikel)|schon\ gelesen
 |verwandte\ (artikel|themen)|schlagwörter|themen|kommentare?(\ \(?\d+\)?)?
 |lire\ aussi|à\ lire\ aussi|voir\ aussi|sur\ le\ même\ sujet
 |leer\ más|lee\ también|te\ puede\ interesar|más\ sobre(\ \S+){0,3}|temas
 |leggi\ anche|potrebbe\ interessarti
 |czytaj\ (też|także|również)|zobacz\ (też|także|również)
)\W*$""", _F)

# One line that points elsewhere (a teaser of another story, share buttons, a category or
# advertising label): only that line goes, wherever it is.
POINTER_LINE = re.compile(r"""^\W*(
 (read\ (more|also)|also\ read|related|see\ also|lesen\ sie\ (auch|mehr)|auch\ lesen|lire\ aussi
  |à\ lire\ aussi|voir\ aussi|leer\ más|lee\ también|ver\ también|lea|mira|puedes\ ver|leggi\ anche
  |czytaj\ (też|także)|zobacz\ (też|także)|dowiedz\ się\ więcej)\s*[:>|–»-]\s*\S.*
 |(categor(y|ies)|kategorie|catégorie|categoría|tags?|schlagwörter)\s*:.*
 |(anzeige|werbung|advertisement|sponsored|publicité|publicidad)\b.{0,80}
 |(share|teilen|partager|compartir|condividi|udostępnij)(\ (this|on|via|mit|sur|en|su|auf)\b.*)?
)$""", _F)

# A short last line that credits, dates or signs off the page.
CREDIT_LINE = re.compile(r"""^\W*(
 photo|image|picture|foto|bild|titelbild|beitragsbild|abbildung|crédits?\ photos?|cr[ée]dito|fuente
 |source|quelle|copyright|©|\(c\)|all\ rights\ reserved|alle\ rechte|tous\ droits|todos\ los\ derechos
 |posted|published|updated|last\ (modified|updated)|veröffentlicht|aktualisiert|letzte\ änderung
 |publié|mis\ à\ jour|publicado|actualizado
)\b""", _F)

DATE_LINE = re.compile(r"^\W*(\d{1,4}[./:-]\d{1,2}([./:-]\d{1,4})?(\s*(am|pm|uhr))?\W*)+$", re.IGNORECASE)
CREDIT_MAX_WORDS = 20


@dataclass
class Extraction:
    """The main text of a page, how it was found, and metadata when asked for."""

    text: str
    method: str  # trafilatura, justext, visible_text or none
    meta: dict[str, Any] = field(default_factory=dict)


def extract_main(html: str, url: str | None = None, *, output: str = "text", include_tables: bool = True,
                 favor: str = "balanced", fallback: bool = True, metadata: bool = False,
                 trim: bool = True) -> Extraction:
    """The main text of ``html`` as plain text or Markdown (see the module docstring)."""
    markdown = output == "markdown"
    text, meta = _trafilatura(html, url, markdown, include_tables, favor, metadata)
    method = "trafilatura"
    if not text.strip() and fallback:
        text, method = _justext(html), "justext"
        if not text.strip():
            from webtune.clean import text as textlib

            text, method = textlib.html_fragment_to_text(_body_only(html)), "visible_text"
    if not text.strip():
        return Extraction("", "none", meta)
    if markdown:
        text = clean_markdown(text)
    if trim:
        text = trim_boilerplate(text)
    return Extraction(text, method, meta)


def _trafilatura(html: str, url: str | None, markdown: bool, include_tables: bool, favor: str,
                 metadata: bool) -> tuple[str, dict[str, Any]]:
    from webtune.clean.fast_trafilatura import bare_extraction

    try:
        result = bare_extraction(
            html, url=url, fast=False, with_metadata=metadata, include_tables=include_tables,
            include_formatting=markdown, include_comments=False,
            favor_precision=favor == "precision", favor_recall=favor == "recall")
    except Exception:  # noqa: BLE001 - a malformed page must not stop the stage
        return "", {}
    if result is None:
        return "", {}
    meta = {}
    if metadata:
        for key, meta_key in (("title", "title"), ("date", "date"), ("language", "html_lang")):
            if value := getattr(result, key, None):
                meta[meta_key] = value
    return getattr(result, "text", None) or "", meta


def _justext(html: str) -> str:
    """jusText's good paragraphs (its stop lists cover most languages; English when unsure)."""
    try:
        import justext
        from trafilatura.external import jt_stoplist_init

        paragraphs = justext.justext(html, _stoplist(jt_stoplist_init))
    except Exception:  # noqa: BLE001 - jusText raises on empty or odd documents
        return ""
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


_STOPLIST: Any = None


def _stoplist(init: Any) -> Any:
    global _STOPLIST
    if _STOPLIST is None:
        _STOPLIST = init()
    return _STOPLIST


def _body_only(html: str) -> str:
    """The page without head/script/style, for the last fallback."""
    html = re.sub(r"(?is)<(head|script|style|noscript)\b.*?</\1\s*>", " ", html)
    return re.sub(r"(?is)<!--.*?-->", " ", html)


def trim_boilerplate(text: str) -> str:
    """``text`` without the boilerplate lines extractors keep most (see the module docstring).

    A section heading such as "Related articles" in the second half cuts the text there;
    pointer lines ("Read more: ...", "Share on ...", "Tags: ...") and lines holding only a
    date go wherever they are; short credit lines go from the end.
    """
    lines = text.split("\n")
    if len(lines) < 3:
        return text
    half = max(1, len(lines) // 2)
    for i in range(half, len(lines)):
        if SECTION_HEADING.match(lines[i].strip()):
            lines = lines[:i]
            break
    lines = [line for line in lines if not (POINTER_LINE.match(line.strip()) or DATE_LINE.match(line.strip()))] \
        or lines[:1]
    while len(lines) > 1:
        last = lines[-1].strip()
        if last and not (len(last.split()) <= CREDIT_MAX_WORDS and CREDIT_LINE.match(last)):
            break
        lines.pop()
    return "\n".join(lines).strip("\n")


_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_TAG = re.compile(r"</?(u|ins|mark|span|sub|sup|del|s|small|font)\b[^>]*>", re.IGNORECASE)


def clean_markdown(text: str) -> str:
    """trafilatura's Markdown without backslash escapes (``snake\\_case``, ``\\[1\\]``) and
    without the HTML tags it leaves for underline and the like."""
    return _ESCAPE.sub(r"\1", _TAG.sub("", text))
