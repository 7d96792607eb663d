"""Every command's --help shows its texts as written: brackets such as NAME[@VERSION] survive."""

from __future__ import annotations

from typing import Any
import pytest
import typer
from typer.testing import CliRunner

from webtune.cli.main import app

runner = CliRunner()


def all_commands() -> list[tuple[list[str], Any]]:
    """Every command and sub-command, with the words that invoke it."""
    found = []

    def walk(command: Any, path: list[str]) -> None:
        found.append((path, command))
        if hasattr(command, "commands"):  # a group (typer may bring its own click)
            for name, sub in command.commands.items():
                walk(sub, path + [name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = all_commands()


def flat(text: str) -> str:
    """Words only: no panel borders, no line breaks."""
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) or "webtune" for p, _ in COMMANDS])
def test_help_shows_every_text_with_its_brackets(path, command):
    result = runner.invoke(app, path + ["--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    shown = flat(result.output)
    texts = [p.help for p in command.params if getattr(p, "help", None)]
    if command.help:
        texts.append(command.help.split("\n\n")[0])
    for text in texts:
        assert flat(text) in shown, f"{' '.join(path)} --help lost: {text!r}"


def test_the_commands_that_take_a_model_show_name_at_version():
    assert len(COMMANDS) > 20
    for words in (["serve"], ["chat"]):
        assert "NAME[@VERSION]" in runner.invoke(app, words + ["--help"]).output
