"""Run several exporters on one source, check their round trips, and record them on the registry version.

Used by `webtune export` and by the pipeline's export stage alike.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

from webtune.errors import StageError
from webtune.export import EXPORTERS
from webtune.export.source import ExportOutput, ExportSource
from webtune.handoffs import ExportRecord
from webtune.records import utc_now
from webtune.registry.store import VERSION_FILE, ModelRegistry

# GGUF files before the Modelfile that points at one, so Ollama reuses the proven file.
ORDER = {"hf": 0, "gguf": 1, "ollama": 2}


def run_exports(source: ExportSource, configs: Iterable[Any], out_dir_of: Any, console: Console) -> list[ExportOutput]:
    """Export ``source`` in each format (``out_dir_of(format)`` says where); raise if a round trip failed.

    The round-trip table is printed before a failure is raised, and every report stays on disk.
    """
    outputs = []
    for config in sorted(configs, key=lambda c: ORDER.get(c.format, 9)):
        exporter = EXPORTERS.get(config.format)(config)
        with console.status(f"exporting {source.label} as {config.format}"):
            outputs.append(exporter.export(source, Path(out_dir_of(config.format))))
    if source.reports:
        from webtune.export.roundtrip import roundtrip_table

        console.print(roundtrip_table(source.reports))
    failed = [r for r in source.reports.values() if not r["passed"]]
    if failed:
        worst = failed[0]
        raise StageError(f"export: round trip of {worst['file']} failed ({worst['rule']}: "
                         f"{worst['exact_answers']}/{worst['prompts']} exact, {worst['token_agreement']:.1%} agreement, "
                         f"metadata {worst['metadata']}); see roundtrip.json beside it")
    return outputs


def files_table(outputs: list[ExportOutput]) -> Table:
    """The written files, by format."""
    table = Table(title="exported")
    for column in ("format", "file", "size"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for output in outputs:
        for path in output.files:
            table.add_row(output.format, str(path), f"{path.stat().st_size / 1e6:.1f} MB")
    return table


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_record(output: ExportOutput, where: Path) -> ExportRecord:
    """What the registry keeps of one export: format, where it lies, file hashes, round-trip summary."""
    summary = {quant: {k: report[k] for k in ("file", "prompts", "exact_answers", "token_agreement", "passed")}
               for quant, report in (output.roundtrip or {}).items()}
    return ExportRecord(format=output.format, path=str(where), created_at=utc_now(), roundtrip=summary,
                        files={p.name: sha256_file(p) for p in output.files if p.suffix != ".json"})


def record_exports(source: ExportSource, outputs: list[ExportOutput], where_of: Any = None) -> bool:
    """Add each export to the registry version it came from (if it came from a registry); say whether it did."""
    version = source.version
    if version is None or not version.path:
        return False
    folder = Path(version.path)
    registry = ModelRegistry(folder.parent.parent)
    if registry.version_dir(version.name, version.version).resolve() != folder.resolve() \
            or not (folder / VERSION_FILE).is_file():
        return False
    for output in outputs:
        where = where_of(output) if where_of else output.directory.resolve()
        registry.record_export(version.name, version.version, export_record(output, where))
    return True


def print_exported(export_dir: Path, console: Console) -> None:
    """The round-trip table of a published export stage, and how to load each format."""
    import json

    from webtune.export.roundtrip import REPORT_FILE, roundtrip_table

    reports: dict[str, Any] = {}
    for path in sorted(export_dir.glob(f"*/{REPORT_FILE}")):
        for quant, report in json.loads(path.read_text(encoding="utf-8"))["results"].items():
            reports.setdefault(quant, report)
    if reports:
        console.print(roundtrip_table(reports))
    for modelfile in sorted(export_dir.glob("*/Modelfile")):
        console.print(f"ollama: [bold]ollama create NAME -f {modelfile}[/bold]")
    for gguf_path in sorted(export_dir.glob("*/*.gguf")):
        console.print(f"llama.cpp: [bold]llama-cli -m {gguf_path}[/bold]")
