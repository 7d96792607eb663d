"""`webtune clean --explain ID`: why a document was kept or dropped, from a published clean dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from webtune.errors import InputError
from webtune.jsonl import iter_jsonl_lines


def find_record(clean_dir: Path, doc_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every entry for ``doc_id`` (an id or an id prefix): ("kept", doc) or ("rejected", reject)."""
    clean_dir = Path(clean_dir)
    docs, rejects = clean_dir / "documents.jsonl", clean_dir / "rejects.jsonl"
    if not docs.is_file():
        raise InputError(f"{clean_dir}: no published clean output (documents.jsonl); run `webtune clean` first")
    found: list[tuple[str, dict[str, Any]]] = []
    absorbed: list[dict[str, Any]] = []
    for kind, path in (("kept", docs), ("rejected", rejects)):
        if not path.is_file():
            continue
        for _, obj, _ in iter_jsonl_lines(path):
            if not isinstance(obj, dict):
                continue
            if isinstance(obj.get("id"), str) and obj["id"].startswith(doc_id):
                found.append((kind, obj))
            elif kind == "rejected" and str(obj.get("duplicate_of", "")).startswith(doc_id):
                absorbed.append(obj)
    for kind, obj in found:
        if kind == "kept":
            # the duplicates this kept document stands for
            obj["_duplicates"] = [d for d in absorbed if d.get("duplicate_of") == obj["id"]]
    return found


def explain(clean_dir: Path, doc_id: str, console: Console) -> int:
    """Print why ``doc_id`` was kept or dropped; return how many entries matched."""
    found = find_record(clean_dir, doc_id)
    if not found:
        raise InputError(f"{clean_dir}: no document with id '{doc_id}' among kept or rejected records")
    for kind, obj in found:
        table = Table(title=f"{obj['id']}: {kind}", show_header=False, title_justify="left")
        table.add_column("key", style="bold")
        table.add_column("value")
        if kind == "kept":
            meta = obj.get("meta", {})
            table.add_row("verdict", "[green]kept[/green]: passed every step")
            for key in ("cluster_id", "cluster_size", "lang", "lang_confidence", "pii", "title"):
                if key in meta:
                    table.add_row(key, _show(meta[key]))
            table.add_row("source", _show(obj.get("source")))
            for dup in obj.get("_duplicates", []):
                table.add_row("duplicate", f"{dup.get('id')} ({dup.get('reason')}, similarity {dup.get('value')})")
        else:
            table.add_row("verdict", f"[red]dropped[/red] by step [bold]{obj.get('step')}[/bold]")
            table.add_row("reason", str(obj.get("reason")))
            table.add_row("measured", _show(obj.get("value")))
            table.add_row("threshold", _show(obj.get("threshold")))
            for key in ("duplicate_of", "cluster_id"):
                if key in obj:
                    table.add_row(key, str(obj[key]))
            table.add_row("source", _show(obj.get("source")))
        console.print(table)
    return len(found)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
