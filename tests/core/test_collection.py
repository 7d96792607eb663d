"""Every ``test_*.py`` under ``tests/`` is collected by the suite's own configuration.

pytest's default ``norecursedirs`` silently skips folders such as ``build`` and ``dist``; a
test file in such a folder would never run. This asks pytest itself, with the project's
configuration, which files it collects.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def collected_files() -> set[str]:
    """Test files pytest collects from ``tests/`` with the project's configuration."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {line.split("::", 1)[0] for line in result.stdout.splitlines() if "::" in line}


def test_every_test_file_is_collected():
    on_disk = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")}
    missing = sorted(on_disk - collected_files())
    assert not missing, f"test files the suite never runs: {missing}"


def test_no_source_or_test_folder_is_named_like_an_output_folder():
    """``build``, ``dist`` and dot-folders are skipped by pytest, ruff, black and .gitignore templates."""
    bad = [str(p.relative_to(ROOT)) for top in ("src", "tests") for p in (ROOT / top).rglob("*")
           if p.is_dir() and (p.name in ("build", "dist") or p.name.startswith("."))
           and "__pycache__" not in p.parts]
    assert not bad, f"rename these folders: {bad}"
