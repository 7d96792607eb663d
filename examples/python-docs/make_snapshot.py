"""Make a snapshot of real text already on the machine: the docstrings of Python's standard library.

Reads the source files of a fixed list of pure-Python standard-library modules (from the
running interpreter's stdlib directory, ``sysconfig.get_paths()["stdlib"]``: present on every
machine with Python, no network), and writes one JSON line per public function or method
that has a docstring:

    {"title": "textwrap.wrap", "module": "textwrap", "signature": "wrap(text, width=70, **kwargs)",
     "docstring": "<the docstring's first paragraph>", "url": "file:///usr/lib/python3.11/textwrap.py#L370"}

Nothing is generated: the text is the docstrings as the Python developers wrote them. Licence:
the Python Software Foundation License (PSF-2.0), which allows copying, deriving and
distributing with its notice kept (https://docs.python.org/3/license.html); the snapshot is
not checked in, it is made from the interpreter that runs it. Only the standard library (ast)
is used.

    python examples/python-docs/make_snapshot.py                     # data/snapshot.jsonl
    python examples/python-docs/make_snapshot.py --modules textwrap json --out /tmp/s.jsonl
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

MODULES = (
    "argparse", "base64", "bisect", "calendar", "colorsys", "configparser", "contextlib", "copy",
    "csv", "dataclasses", "difflib", "email/utils", "enum", "filecmp", "fnmatch", "fractions",
    "functools", "genericpath", "getpass", "glob", "gzip", "heapq", "html/__init__", "ipaddress",
    "json/__init__", "linecache", "logging/__init__", "mimetypes", "ntpath", "operator", "pathlib",
    "platform", "posixpath", "pprint", "queue", "random", "secrets", "shlex", "shutil", "statistics",
    "string", "tarfile", "tempfile", "textwrap", "threading", "urllib/parse", "uuid", "zipfile",
)
HERE = Path(__file__).resolve().parent


def first_paragraph(doc: str) -> str:
    """The docstring's first paragraph, on one line."""
    paragraph = re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0]
    return " ".join(paragraph.split())


def signature(node: ast.FunctionDef | ast.AsyncFunctionDef, owner: str | None) -> str:
    """``name(args)`` as written in the source (``self``/``cls`` left out of methods)."""
    args = node.args
    if owner and args.args and args.args[0].arg in ("self", "cls"):
        args = ast.arguments(posonlyargs=args.posonlyargs, args=args.args[1:], vararg=args.vararg,
                             kwonlyargs=args.kwonlyargs, kw_defaults=args.kw_defaults, kwarg=args.kwarg,
                             defaults=args.defaults[-len(args.args[1:]):] if args.args[1:] and args.defaults else [])
    name = f"{owner}.{node.name}" if owner else node.name
    return f"{name}({ast.unparse(args)})"


def records(path: Path, module: str) -> list[dict[str, str]]:
    """One record per public, documented function and method of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []

    def visit(body: list[ast.stmt], owner: str | None) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and owner is None:
                visit(node.body, node.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                doc = ast.get_docstring(node)
                if doc:
                    title = f"{module}.{owner + '.' if owner else ''}{node.name}"
                    out.append({"title": title, "module": module, "signature": signature(node, owner),
                                "docstring": first_paragraph(doc), "url": f"{path.as_uri()}#L{node.lineno}"})

    visit(tree.body, None)
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the snapshot; print how many records from how many modules."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data" / "snapshot.jsonl")
    parser.add_argument("--modules", nargs="+", default=list(MODULES))
    parser.add_argument("--stdlib", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    args = parser.parse_args(argv)
    rows, missing = [], []
    for name in args.modules:
        path = args.stdlib / f"{name}.py"
        if not path.is_file():
            missing.append(name)
            continue
        module = name.removesuffix("/__init__").replace("/", ".")
        rows.extend(records(path, module))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=args.out.parent, delete=False) as tmp:
        tmp.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    os.replace(tmp.name, args.out)
    note = f"; not found: {', '.join(missing)}" if missing else ""
    print(f"{args.out}: {len(rows)} documented functions from {len(args.modules) - len(missing)} modules "
          f"of {args.stdlib} (Python {sys.version.split()[0]}){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
