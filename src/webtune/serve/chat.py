"""Chatting with a model: the closing answer of `webtune run`, one-shot answers and a REPL."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from webtune.errors import InputError
from webtune.handoffs import RegistryVersion
from webtune.serve.loader import ModelRef, load_chat_model, ref_from_version, resolve_ref

EXIT_WORDS = {"/exit", "/quit", "exit", "quit"}


def conversation(prompt: str, system: str | None = None, history: list[dict[str, str]] | None = None
                 ) -> list[dict[str, str]]:
    """The messages sent to the model: optional system turn, earlier turns, the new prompt."""
    messages = [{"role": "system", "content": system}] if system else []
    return messages + list(history or []) + [{"role": "user", "content": prompt}]


def registered_ref(run_dir: Path) -> ModelRef:
    """The model a run registered (``<run>/register/version.json``)."""
    path = Path(run_dir) / "register" / RegistryVersion.FILE
    record = RegistryVersion.read(path)
    if not record.path or not Path(record.path).is_dir():
        raise InputError(f"{path}: the registered version's directory {record.path} is gone")
    return ref_from_version(record)


def pipeline_chat_answer(pipeline: Any, run_dir: Path) -> str:
    """Answer ``pipeline.chat.prompt`` with the version the run registered."""
    chat = pipeline.chat
    if not chat.prompt:
        raise InputError("the pipeline has no chat.prompt to answer")
    model = load_chat_model(registered_ref(run_dir))
    return model.complete(conversation(chat.prompt, chat.system), max_new_tokens=chat.max_new_tokens).text


def answer_once(ref_text: str | None, prompt: str, system: str | None, max_new_tokens: int,
                registry: Any, stream: bool = True) -> str:
    """Print one answer (streamed) and return it."""
    model = load_chat_model(pick_ref(ref_text, registry))
    return _reply(model, conversation(prompt, system), max_new_tokens, stream)


def _reply(model: Any, messages: list[dict[str, str]], max_new_tokens: int, stream: bool) -> str:
    """Write the answer to stdout as it comes; return its text."""
    if not stream:
        text = model.complete(messages, max_new_tokens=max_new_tokens).text
        sys.stdout.write(text + "\n")
        return text
    pieces = []
    for piece in model.stream(messages, max_new_tokens=max_new_tokens):
        pieces.append(piece)
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return "".join(pieces).strip()


def pick_ref(ref_text: str | None, registry: Any) -> ModelRef:
    """``--model`` resolved; without it, the one model in the registry (its production version)."""
    if ref_text:
        return resolve_ref(ref_text, registry)
    names = registry.names()
    if len(names) != 1:
        listed = ", ".join(names) or "none"
        raise InputError(f"say which model with --model NAME[@VERSION], a path or an ft: id "
                         f"(registered in {registry.root}: {listed})")
    return resolve_ref(names[0], registry)


def repl(ref_text: str | None, system: str | None, max_new_tokens: int, registry: Any,
         console: Console) -> None:
    """An interactive chat: the conversation is kept; /reset forgets it, /exit leaves."""
    from rich.prompt import Prompt

    ref = pick_ref(ref_text, registry)
    with console.status(f"loading {ref.label}"):
        model = load_chat_model(ref)
    console.print(f"[bold]chatting with {ref.label}[/bold] · /reset forgets the conversation · /exit leaves")
    history: list[dict[str, str]] = []
    while True:
        try:
            prompt = Prompt.ask("[bold cyan]you[/bold cyan]", console=console)
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if prompt.strip() in EXIT_WORDS:
            return
        if prompt.strip() == "/reset":
            history = []
            console.print("[dim]conversation forgotten[/dim]")
            continue
        if not prompt.strip():
            continue
        console.print("[bold green]model[/bold green]: ", end="")
        answer = _reply(model, conversation(prompt, system, history), max_new_tokens, stream=True)
        history += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
