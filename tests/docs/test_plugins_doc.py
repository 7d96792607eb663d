"""docs/plugins.md shows the test plugin as it is: its code blocks are taken from the package."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "plugins.md"
PLUGIN = REPO / "tests" / "plugins" / "webtune_hello"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_documented_plugin_is_the_tested_one():
    sources = {"toml": (PLUGIN / "pyproject.toml").read_text(), "python":
               (PLUGIN / "src" / "webtune_hello" / "__init__.py").read_text()}
    for language, source in sources.items():
        shown = blocks(language)
        assert shown, f"docs/plugins.md has no {language} block"
        for block in shown:
            assert block.strip() in source, f"a {language} block of docs/plugins.md is not in {PLUGIN}"


def test_every_kind_is_in_the_table():
    from webtune.plugins import KINDS

    text = DOC.read_text(encoding="utf-8")
    for kind in KINDS.values():
        assert f"| `{kind.group}` |" in text and f"`{kind.method}(" in text, kind
