"""`webtune plugins`: every registered backend by kind and name, and where it came from.

    $ webtune plugins
    source
      brightdata          built-in (webtune.collect.sources.brightdata)
      ...
    step
      shout               webtune-hello 0.1.0 (webtune.steps: shout = webtune_hello:Shout)

A built-in names its module; a plugin names its distribution, version and entry point. A
plugin that failed to load is listed at the end (it was also warned about on stderr).
Plain lines rather than a rich table: origins are long and a table would wrap them.
"""

from __future__ import annotations

import json

import typer

from webtune.plugins import KINDS, load_plugins


def plugin_rows() -> tuple[list[dict[str, str]], list[str]]:
    """(every backend as {kind, name, tag, method, origin}, the plugins that failed to load)."""
    rows, problems = [], []
    for kind, registry in load_plugins().items():
        for entry in registry.entries():
            rows.append({"kind": kind, "name": entry.name, "tag": KINDS[kind].tag,
                         "method": KINDS[kind].method or "", "origin": entry.origin})
        problems.extend(registry.problems)
    return rows, problems


def plugins_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON ({backends: [...], problems: [...]})."),
) -> None:
    """List every registered backend (built-in or plugin) by kind, and where it came from."""
    rows, problems = plugin_rows()
    if as_json:
        typer.echo(json.dumps({"backends": rows, "problems": problems}, indent=2))
        return
    width = max((len(row["name"]) for row in rows), default=0) + 2
    kinds = sorted({row["kind"] for row in rows}, key=list(KINDS).index)
    for kind in kinds:
        spec = KINDS[kind]
        typer.echo(f"{kind}  ({spec.tag}: NAME; method {spec.method}; entry points: {spec.group})")
        for row in (r for r in rows if r["kind"] == kind):
            typer.echo(f"  {row['name']:<{width}}{row['origin']}")
    empty = [kind for kind in KINDS if kind not in kinds]
    if empty:
        typer.echo(f"none registered yet: {', '.join(empty)}")
    for problem in problems:
        typer.echo(f"failed: {problem}")


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_command)
