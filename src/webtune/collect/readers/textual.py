"""Whole-file documents (HTML, Markdown, plain text) and SRT / WebVTT transcripts.

Transcripts lose their cue numbers, timestamps and styling; cues are merged into
paragraphs (a new paragraph when the speaker changes or after a pause), and speaker
labels (``<v Anna>``, ``ANNA:``, ``[Anna]``, ``>>``) are kept.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from webtune.collect.readers.base import Item, looks_binary, open_binary
from webtune.errors import InputError

CONTENT_TYPES = {"html": "text/html", "markdown": "text/markdown", "text": "text/plain",
                 "srt": "application/x-subrip", "vtt": "text/vtt"}
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def read_bytes(path: Path, compression: str | None, limit: int) -> bytes:
    """The (decompressed) bytes of a file, refusing files over ``limit`` bytes."""
    with open_binary(path, compression) as fh:
        data = fh.read(limit + 1)
        if len(data) <= limit:
            fh.read(1)  # at the end: a cut compressed file raises here, before half a document is kept
    if len(data) > limit:
        raise InputError(f"{path}: larger than {limit} bytes, too large for one document")
    return data


def decode_text(data: bytes, fmt: str) -> str | None:
    """Decode document bytes: BOM, then a declared HTML charset, then UTF-8 (either with a few
    undecodable bytes replaced), then detection."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    candidates = []
    if fmt == "html" and (declared := _META_CHARSET.search(data[:4096])):
        candidates.append(declared.group(1).decode("ascii", errors="ignore"))
    candidates.append("utf-8")
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    # A page in its declared (or UTF-8) encoding with a few stray bytes, as browsers show it:
    # those bytes become U+FFFD rather than the whole page being re-guessed into mojibake.
    for encoding in candidates:
        try:
            text = data.decode(encoding, errors="replace")
        except LookupError:
            continue
        if text.count("\ufffd") <= max(1, len(data) // 1000):
            return text
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    # Single-byte Latin code pages score alike on short text (è is č in cp1250, ė in cp1257):
    # a near tie goes to windows-1252, the web's default for pages that declare nothing
    # (WHATWG encoding standard). Cyrillic, Greek... text is chaos in cp1252 and keeps its match.
    tied = [m for m in matches if m.chaos <= best.chaos + 0.05 and m.coherence >= best.coherence - 0.05]
    return str(next((m for m in tied if m.encoding == "cp1252"), best))


def read_text_file(path: Path, compression: str | None, options: dict[str, Any], label: str) -> str | None:
    """A whole text file, decoded; None when no encoding fits. Binary data is an InputError."""
    data = read_bytes(path, compression, options.get("max_bytes", MAX_DOCUMENT_BYTES))
    if looks_binary(data[:8192]):
        raise InputError(f"{path}: not a {label} file (binary data)")
    return decode_text(data, options["format"])


def undecodable_item() -> Item:
    """The reject item for a file no text encoding fits."""
    return Item(offset=0, problem="undecodable", detail="text encoding not recognised")


def read_document(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """One item for the whole file: HTML kept raw for the clean stage, other text as text."""
    fmt = options["format"]
    text = read_text_file(path, compression, options, fmt)
    if text is None:
        yield undecodable_item()
        return
    if not text.strip():
        yield Item(offset=0, problem="empty", detail="the file is empty")
        return
    fields: dict[str, Any] = {"filename": path.name}
    if fmt == "html":
        if (title := _TITLE.search(text)) is not None:
            fields["title"] = re.sub(r"\s+", " ", title.group(1)).strip()
        yield Item(offset=0, html=text, fields=fields, content_type=CONTENT_TYPES[fmt])
        return
    if fmt == "markdown" and (title := _MD_TITLE.search(text)) is not None:
        fields["title"] = title.group(1)
    yield Item(offset=0, text=text, fields=fields, content_type=CONTENT_TYPES[fmt])


# ---------------------------------------------------------------- transcripts

_TIMESTAMP = re.compile(
    r"^\s*((?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3})")
_VOICE = re.compile(r"<v(?:\.[^ >]*)?\s+([^>]+)>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")
# A speaker label at the start of a cue: "ANNA: ", "Anna Lee: " (from a <v> tag), "[Anna] ", ">> ", "- ".
# Mixed-case names count only from <v> voice tags ("Today: ..." is not a speaker).
_SPEAKER = re.compile(r"^(?:(>>|-)\s+|\[([^\]]{1,40})\]\s*|([A-Z][A-Z0-9 .'-]{0,30}):\s)")


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    return sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))


Cue = tuple[float, float, str, "str | None"]  # start, end, text, speaker from a voice tag


def parse_cues(text: str, fmt: str) -> list[Cue]:
    """``(start, end, text)`` for each cue; speaker voice tags become ``Name: `` labels."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").strip())
    cues = []
    for block in blocks:
        lines = block.split("\n")
        stamp_at = next((i for i, line in enumerate(lines) if _TIMESTAMP.match(line)), None)
        if stamp_at is None:
            continue  # WEBVTT header, NOTE, STYLE, REGION, or a stray block
        match = _TIMESTAMP.match(lines[stamp_at])
        assert match is not None
        body, voice = [], None
        for line in lines[stamp_at + 1:]:
            if voice is None and (tag := _VOICE.search(line)) is not None:
                voice = tag.group(1).strip()
            line = _VOICE.sub(lambda m: f"{m.group(1).strip()}: ", line)
            line = _TAG.sub("", line).strip()
            if line:
                body.append(line)
        if body:
            cues.append((_seconds(match.group(1)), _seconds(match.group(2)), " ".join(body), voice))
    return cues


def speaker_of(line: str, voice: str | None = None) -> tuple[str | None, str]:
    """``(speaker, rest)``: the label a cue starts with (``>>`` for an unnamed turn), else None."""
    if voice is not None and line.startswith(voice + ": "):
        return voice, line[len(voice) + 2:]
    match = _SPEAKER.match(line)
    if match is None:
        return None, line
    name = match.group(2) or match.group(3) or match.group(1)
    return name.strip(), line[match.end():]


def merge_cues(cues: list[Cue], gap_s: float = 2.0) -> str:
    """Join cues into paragraphs: a new one when another speaker starts or after a pause over ``gap_s``.

    A speaker label is kept once at the start of its paragraph, not repeated on every cue.
    """
    paragraphs: list[list[str]] = []
    last_end, last_line, current = None, None, None
    for start, end, line, voice in cues:
        if line == last_line:  # roll-up captions repeat the previous line
            last_end = end
            continue
        speaker, rest = speaker_of(line, voice)
        turn = speaker is not None and (speaker != current or speaker in (">>", "-"))
        pause = last_end is not None and start - last_end > gap_s
        if not paragraphs or turn or pause:
            paragraphs.append([line])
        else:
            paragraphs[-1].append(rest if speaker == current else line)
        current = speaker if speaker is not None else current
        last_end, last_line = end, line
    return "\n\n".join(" ".join(p) for p in paragraphs)


def read_transcript(path: Path, compression: str | None, options: dict[str, Any]) -> Iterator[Item]:
    """One text item per transcript file."""
    fmt = options["format"]
    text = read_text_file(path, compression, options, fmt.upper())
    if text is None:
        yield undecodable_item()
        return
    if fmt == "vtt" and not text.lstrip("\ufeff").startswith("WEBVTT"):
        raise InputError(f"{path}: not a WebVTT file (it must start with 'WEBVTT')")
    cues = parse_cues(text, fmt)
    if not cues:
        if fmt == "srt" and "-->" not in text:
            raise InputError(f"{path}: not an SRT file (no 'start --> end' timestamp lines)")
        yield Item(offset=0, problem="empty", detail="the transcript has no cue text")
        return
    fields = {"filename": path.name, "cues": len(cues), "duration_s": round(cues[-1][1], 3)}
    yield Item(offset=0, text=merge_cues(cues, options.get("paragraph_gap_s", 2.0)),
               fields=fields, content_type=CONTENT_TYPES[fmt])
