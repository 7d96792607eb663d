"""`webtune dataset --inspect N`: the dataset as the trainer will see it, token by token.

The first N examples of ``train.jsonl`` are rendered through the base model's chat template
with the trainer's own encoding (`webtune.chat_format.encode_chat` via
`webtune.train.data.tokenize_split`'s rules: the same template, the same ``max_seq_len``), and
shown token by token: tokens that carry loss in green, the rest dim (rich in the terminal, and
an HTML page). Every example of the split is then checked, each problem one line:

* ``eot_outside_loss``: an assistant turn whose trained span does not end with the model's
  end-of-turn token (the tokenizer's eos and the generation config's eos ids): a model trained
  on it never learns to stop;
* ``truncated``: an example longer than ``train.max_seq_len``, which training would cut silently;
* ``template_mismatch``: the template training renders with (``train.chat_template``) is not the
  one the tokenizer saved beside the adapter serves with (the base tokenizer's own).

The loss mask is never computed here: it is `encode_chat`'s, the trainer's.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from webtune.chat_format import IGNORE_INDEX, encode_chat, resolve_chat_template
from webtune.errors import InputError
from webtune.jsonl import iter_jsonl_lines
from webtune.records import Example


@dataclass
class Problem:
    """One finding: where, which check, and a sentence."""

    where: str
    check: str
    message: str

    def line(self) -> str:
        """``path:line: check: message``"""
        return f"{self.where}: {self.check}: {self.message}"


@dataclass
class Rendered:
    """One example's tokens as text pieces, whether each carries loss, and its line."""

    line: int
    pieces: list[tuple[str, bool]]
    tokens: int
    label_tokens: int


@dataclass
class Inspection:
    """What `inspect_split` found: the rendered examples and the problems of the whole split."""

    path: Path
    examples: int = 0
    rendered: list[Rendered] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def end_of_turn_ids(tokenizer: Any, model_dir: Path | None = None) -> set[int]:
    """The ids that end a turn: the tokenizer's eos, and the generation config's eos ids."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    if model_dir is not None and (model_dir / "generation_config.json").is_file():
        import json

        eos = json.loads((model_dir / "generation_config.json").read_text()).get("eos_token_id")
        ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return ids


def spans(labels: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of tokens that carry loss: one per assistant turn."""
    out, start = [], None
    for i, label in enumerate(labels + [IGNORE_INDEX]):
        if label != IGNORE_INDEX and start is None:
            start = i
        elif label == IGNORE_INDEX and start is not None:
            out.append((start, i))
            start = None
    return out


def inspect_split(path: Path, tokenizer: Any, *, max_seq_len: int, chat_template: str | None,
                  serve_template: str | None, eot_ids: set[int], show: int = 3) -> Inspection:
    """Render the first ``show`` examples and check every example of ``path``."""
    if not path.is_file():
        raise InputError(f"{path}: not found (run `webtune dataset` first)")
    result = Inspection(path=path)
    trained = resolve_chat_template(tokenizer, chat_template)
    if serve_template is not None and serve_template != trained:
        result.problems.append(Problem(
            "train.chat_template", "template_mismatch",
            "training renders with a different chat template than the one the tokenizer serves with "
            "(the base tokenizer's, saved beside the adapter): answers at serve time would be prompted "
            "in a format the model was not trained on"))
    eot_names = ", ".join(repr(tokenizer.convert_ids_to_tokens(i)) for i in sorted(eot_ids)) or "none"
    for line, obj, error in iter_jsonl_lines(path):
        if error is not None:
            result.problems.append(Problem(f"{path}:{line}", "invalid_json", error))
            continue
        try:
            example = Example.model_validate(obj)
        except ValueError as exc:
            result.problems.append(Problem(f"{path}:{line}", "invalid_example", str(exc).splitlines()[0]))
            continue
        result.examples += 1
        enc = encode_chat(tokenizer, example.messages, chat_template=chat_template)
        ids, labels = enc["input_ids"], enc["labels"]
        for turn, (start, end) in enumerate(spans(labels), start=1):
            if ids[end - 1] not in eot_ids:
                last = tokenizer.convert_ids_to_tokens(ids[end - 1])
                result.problems.append(Problem(
                    f"{path}:{line}", "eot_outside_loss",
                    f"assistant turn {turn}'s trained span ends with {last!r}, not the end-of-turn token "
                    f"({eot_names}): the model would not learn to stop"))
        if len(ids) > max_seq_len:
            result.problems.append(Problem(
                f"{path}:{line}", "truncated",
                f"{len(ids)} tokens, longer than train.max_seq_len {max_seq_len}: training would cut "
                f"{len(ids) - max_seq_len} tokens off its end"))
        if len(result.rendered) < show:
            result.rendered.append(Rendered(line, pieces(tokenizer, ids, labels), len(ids),
                                            sum(1 for x in labels if x != IGNORE_INDEX)))
    return result


def pieces(tokenizer: Any, ids: list[int], labels: list[int]) -> list[tuple[str, bool]]:
    """Each token's text and whether it carries loss."""
    return [(tokenizer.decode([tok]), label != IGNORE_INDEX) for tok, label in zip(ids, labels)]


def render_terminal(result: Inspection, console: Console) -> None:
    """The examples with loss tokens in green on dark, the rest dim; then the problems."""
    for example in result.rendered:
        console.rule(f"{result.path.name}:{example.line} · {example.tokens} tokens · "
                     f"{example.label_tokens} carry loss (green)")
        text = Text()
        for piece, trained in example.pieces:
            text.append(piece, style="bold green on grey11" if trained else "dim")
        console.print(text)
    console.rule()
    console.print(f"{result.examples} examples checked; {len(result.problems)} problems", highlight=False)
    for problem in result.problems:
        console.print(problem.line(), style="red", markup=False, highlight=False, soft_wrap=True)


def render_html(result: Inspection) -> str:
    """One self-contained page: each example with loss tokens highlighted, then the problems."""
    parts = ["<!doctype html><meta charset='utf-8'><title>webtune dataset inspect</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}"
             "pre{white-space:pre-wrap;background:#f6f8fa;padding:.6rem;border-radius:4px}"
             ".t{background:#c8f7c5;outline:1px solid #7bd389}.n{color:#777}.p{color:#b00020}</style>",
             f"<h1>{html.escape(result.path.name)}: tokens that carry loss</h1>",
             "<p>Highlighted tokens carry loss (the assistant replies and the token that ends them); grey "
             "tokens are context.</p>"]
    for example in result.rendered:
        body = "".join(f"<span class='{'t' if trained else 'n'}'>{html.escape(piece)}</span>"
                       for piece, trained in example.pieces)
        parts.append(f"<h2>line {example.line} · {example.tokens} tokens · {example.label_tokens} carry loss</h2>"
                     f"<pre>{body}</pre>")
    parts.append(f"<h2>{result.examples} examples checked · {len(result.problems)} problems</h2><ul>")
    parts += [f"<li class='p'>{html.escape(p.line())}</li>" for p in result.problems]
    parts.append("</ul>")
    return "\n".join(parts) + "\n"
