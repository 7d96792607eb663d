"""The files source: local files of every common format, plain or gzip/zstd compressed.

    sources:
      - kind: files
        paths: [data/snapshot.json, exports/*.csv, transcripts/]
        fields: {text: body, title: title, url: url}

Each structured record (JSON / JSONL / CSV / Parquet row) becomes one Document whose
``fields`` is the record as it is; HTML, Markdown, text and transcript files become one
Document each; WARC files one per HTML response. ``fields`` (a role -> field name
mapping) says which field holds the text, HTML, title and URL.
"""

from __future__ import annotations

import codecs
import glob
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from webtune.collect.sources import SOURCES
from webtune.configbase import RelPath, StrictModel
from webtune.errors import InputError

FileFormat = Literal["auto", "json", "jsonl", "csv", "tsv", "parquet", "html", "markdown", "text",
                     "srt", "vtt", "warc"]
GLOB_CHARS = set("*?[")


class FilesSourceConfig(StrictModel):
    """Local files, directories and glob patterns (relative to the pipeline file)."""

    kind: Literal["files"] = "files"
    paths: list[RelPath] = Field(min_length=1)
    fields: dict[Literal["text", "html", "title", "url"], str] = {}
    format: FileFormat = "auto"
    encoding: str | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    max_document_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    paragraph_gap_s: float = Field(default=2.0, ge=0)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        """An unknown codec is a config error naming the key, not a LookupError mid-file."""
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown text encoding {value!r} (e.g. utf-8, cp1252, latin-1)") from None
        return value

    def input_paths(self) -> list[Path]:
        """The files this source reads (globs and directories expanded), for the stage fingerprint."""
        found: list[Path] = []
        for path in self.paths:
            try:
                found.extend(expand_path(Path(path), self.format))
            except Exception:  # a missing path is reported by the stage itself
                if not has_glob(Path(path)):
                    found.append(Path(path))
        return list(dict.fromkeys(found))


def has_glob(path: Path) -> bool:
    return any(c in GLOB_CHARS for c in str(path))


def expand_path(path: Path, fmt: str = "auto") -> list[Path]:
    """A file, every readable file under a directory, or the matches of a glob pattern."""
    from webtune.collect.readers import detect_format
    from webtune.errors import InputError

    # Not `is_file()`: a FIFO or device found here must be refused by name, not skipped unseen.
    if has_glob(path):
        matches = [Path(p) for p in sorted(glob.glob(str(path), recursive=True))]
        files = [p for p in matches if not p.is_dir()]
        if not files:
            raise InputError(f"{path}: no files match this pattern")
        return files
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if not p.is_dir()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        known = [p for p in files if fmt != "auto" or detect_format(p)[0] is not None]
        if not known:
            raise InputError(f"{path}: the directory holds no files of a known format")
        return known
    if not path.exists():
        raise InputError(f"{path}: file not found")
    return [path]


@SOURCES.register("files")
class FilesSource:
    """Reads every configured file into documents; bad records become rejects."""

    Config = FilesSourceConfig

    def __init__(self, config: FilesSourceConfig):
        self.config = config

    def collect(self, run: Any) -> dict[str, Any]:
        """Read all files into ``run.sink``; return per-format counts, bytes and time."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from webtune.errors import InputError

        files = self._files()
        named = {Path(p) for p in self.config.paths if not has_glob(Path(p)) and not Path(p).is_dir()}
        stats: dict[str, Any] = {"files": len(files), "bytes": sum(_size(p) for p in files),
                                 "formats": {}, "unreadable_files": 0}
        started = time.perf_counter()
        columns = (TextColumn("[bold]files[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[records]} records"), TimeElapsedColumn())
        with Progress(*columns, console=run.console, transient=True) as progress:
            task = progress.add_task("", total=len(files), records=0)
            for path in files:
                progress.update(task, description=path.name)
                if run.refresh is not None and self._unchanged_file(path, run):
                    stats["formats"]["unchanged"] = stats["formats"].get("unchanged", 0) + 1
                    progress.advance(task)
                    continue
                try:
                    fmt = self._read_file(path, run.sink, lambda n: progress.update(task, records=n))
                except InputError as exc:
                    if path in named:
                        raise  # the file the user named is wrong: say so and stop
                    self._reject_file(path, exc, run)
                    stats["unreadable_files"] += 1
                    fmt = "unreadable"
                stats["formats"][fmt] = stats["formats"].get(fmt, 0) + 1
                progress.advance(task)
        seconds = time.perf_counter() - started
        stats["seconds"] = round(seconds, 3)
        stats["mb_per_s"] = round(stats["bytes"] / 1e6 / seconds, 2) if seconds > 0 else None
        return stats

    @staticmethod
    def _unchanged_file(path: Path, run: Any) -> bool:
        """In a refresh run: a file whose content hash an earlier version read is not read again
        (one reject, ``unchanged_file``); any other file is noted by its hash and read."""
        from webtune.stage import sha256_file

        try:
            digest = sha256_file(path)
        except OSError:
            return False  # unreadable: reading it says why
        version = run.refresh.file_version(digest)
        run.refresh.note_file(path, digest, "unchanged" if version else "read")
        if version:
            run.sink.reject("unchanged_file", f"the same content was read by v{version}; not read again",
                            uri=str(path), value=digest)
        return bool(version)

    @staticmethod
    def _reject_file(path: Path, exc: Exception, run: Any) -> None:
        """One file found in a directory or by a glob cannot be read: reject it, read the rest.

        Records it yielded before the problem showed stay kept."""
        message = str(exc).removeprefix(f"{path}: ")
        run.sink.reject(getattr(exc, "reason", "unreadable_file"), message, uri=str(path))
        run.console.print(f"[yellow]files[/yellow]: {path}: {message} (file rejected; the other files are read)")

    def _files(self) -> list[Path]:
        found: list[Path] = []
        for path in self.config.paths:
            found.extend(expand_path(Path(path), self.config.format))
        return list(dict.fromkeys(found))

    def _read_file(self, path: Path, sink: Any, report: Any) -> str:
        """Read one file into the sink; return its format name."""
        from webtune.collect.documents import make_document
        from webtune.collect.readers import FORMATS, detect_format, read_items
        from webtune.errors import InputError
        from webtune.records import utc_now

        fmt, compression = detect_format(path)
        if self.config.format != "auto":
            fmt = self.config.format
        if fmt is None:
            raise InputError(f"{path}: cannot tell the format from the file name; name it "
                             f"*.json, *.jsonl, *.csv ... or set `format:` (one of {', '.join(FORMATS)})")
        options = {"encoding": self.config.encoding, "delimiter": self.config.delimiter,
                   "max_bytes": self.config.max_document_bytes, "paragraph_gap_s": self.config.paragraph_gap_s}
        uri, mapping, collected_at = str(path), dict(self.config.fields), utc_now()
        count = 0
        for count, item in enumerate(read_items(path, fmt, compression, options), start=1):
            if item.problem:
                sink.reject(item.problem, item.detail, uri=uri, line=item.line, offset=item.offset, record=item.raw)
            else:
                structured = item.record is not None
                sink.keep(make_document(
                    kind="files", uri=uri, line=item.line, offset=item.offset,
                    content_type=item.content_type, fields=item.record if structured else item.fields,
                    text=item.text, html=item.html, meta=item.meta, mapping=mapping, collected_at=collected_at))
            if count % 5000 == 0:
                report(sink.seen)
        if count == 0:
            raise EmptyFile(path)
        report(sink.seen)
        return fmt


def _size(path: Path) -> int:
    """The size of ``path`` in bytes; 0 when it cannot be read (it is reported when read)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


class EmptyFile(InputError):
    """A file that holds no record at all: its own reject (in a directory) or error (when named).

    Without it an empty file vanished from the counts, and a run of only empty files said
    "kept none of 0 records" naming no file.
    """

    reason = "empty_file"

    def __init__(self, path: Path):
        what = "the file is empty (0 bytes)" if _size(path) == 0 else "the file holds no records"
        super().__init__(f"{path}: {what}")
