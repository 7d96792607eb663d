"""Forgetting: did tuning cost the model its general skills? Base vs tuned on a general set.

The general set is, first found: ``evaluate.forgetting.general`` (a chat JSONL file), the
pipeline's ``dataset.mix`` general sets (the rows that did not end up in ``train.jsonl``), else
the small general set webtune ships: ``webtune/evaluate/data/general.jsonl``, 40 short
instruction/answer pairs (facts, arithmetic, grammar, everyday writing) written by hand for
webtune, so no licence but the project's own applies. Rows may be OpenAI chat, ShareGPT or
Alpaca (`webtune.dataset.mixing.to_messages`).

Each example gets a loss from base and from tuned (assistant tokens only, encoded with the
chat template training used, `webtune.evaluate.scoring`); the report's ``forgetting`` section
gives both token-weighted means and the relative increase ``(tuned - base) / base``, and is
``flagged`` when that is above ``threshold``. When a judge is configured the tuned and base
answers to the general prompts are also judged (tuned vs base, both orders). The models are
loaded here, apart from the main runner, so this check stays one optional step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from pydantic import Field

from webtune.configbase import RelPath, StrictModel
from webtune.errors import InputError
from webtune.handoffs import ForgettingSummary, TrainResult

BUILTIN = "webtune built-in general set (webtune/evaluate/data/general.jsonl)"


class ForgettingConfig(StrictModel):
    """``evaluate.forgetting``: loss on a general set, base vs tuned, flagged past a threshold."""

    enabled: bool = True
    general: RelPath | None = Field(None, description="a chat JSONL general set (default: dataset.mix "
                                    "sets, else webtune's built-in one)")
    max_examples: int = Field(40, ge=1)
    threshold: float = Field(0.05, ge=0, description="relative loss increase (tuned over base) that flags forgetting")
    judge: bool = Field(True, description="also judge tuned vs base answers here when evaluate.judge is set")


@dataclass
class GeneralSet:
    """Where the general examples came from, and their conversations."""

    source: str
    conversations: list[list[dict[str, str]]] = field(default_factory=list)


def builtin_path() -> Path:
    """The general set webtune ships."""
    return Path(str(resources.files("webtune.evaluate") / "data" / "general.jsonl"))


def read_general(path: Path, limit: int, exclude: set[str] = frozenset()) -> list[list[dict[str, str]]]:
    """Up to ``limit`` conversations ending in an assistant reply; rows in ``exclude`` (trained on) are skipped."""
    from webtune.dataset.mixing import RowError, iter_rows, to_messages

    out = []
    for _, row in iter_rows(path):
        try:
            messages = to_messages(row)
        except RowError:
            continue
        if not messages or messages[-1].get("role") != "assistant" or not messages[-1].get("content"):
            continue
        if _fingerprint(messages) in exclude:
            continue
        out.append(messages)
        if len(out) >= limit:
            break
    return out


def _fingerprint(messages: list[dict[str, Any]]) -> str:
    return json.dumps([(m.get("role"), m.get("content")) for m in messages if m.get("role") != "system"])


def trained_on(train_split: Path | None) -> set[str]:
    """Fingerprints of the training conversations, so a general row trained on is not scored."""
    if train_split is None or not train_split.is_file():
        return set()
    from webtune.jsonl import iter_jsonl_lines

    return {_fingerprint(obj["messages"]) for _, obj, error in iter_jsonl_lines(train_split)
            if error is None and isinstance(obj, dict) and isinstance(obj.get("messages"), list)}


def pick_general_set(config: ForgettingConfig, mix_paths: list[str], train_split: Path | None) -> GeneralSet:
    """The general set to score (see the module docstring for the order)."""
    if config.general is not None:
        if not Path(config.general).is_file():
            raise InputError(f"evaluate.forgetting.general: {config.general}: file not found")
        return GeneralSet(str(config.general), read_general(Path(config.general), config.max_examples))
    exclude = trained_on(train_split)
    for path in mix_paths:
        rows = read_general(Path(path), config.max_examples, exclude) if Path(path).exists() else []
        if rows:
            return GeneralSet(f"{path} (dataset.mix, rows not in train.jsonl)", rows)
    return GeneralSet(BUILTIN, read_general(builtin_path(), config.max_examples))


def mean_loss(nll: list[float], tokens: list[int]) -> float | None:
    """Token-weighted mean loss (as the loss metric computes it)."""
    total = sum(tokens)
    return sum(nll) / total if total else None


def score_general(general: GeneralSet, train_dir: Path, train_result: TrainResult, base_model: str,
                  eval_config: Any, answer: bool = False) -> tuple[dict[str, list[float]], dict[str, list[int]],
                                                                  dict[str, list[str]]]:
    """Per-example summed loss and token counts for base and tuned (and greedy answers when ``answer``)."""
    from webtune.evaluate.scoring import encode_examples, example_losses, tuned_tokenizer
    from webtune.models import load_causal_lm, pick_device, resolve_model
    from webtune.serve.loader import load_weights
    from webtune.serve.models import LocalChatModel

    base_path = resolve_model(base_model)
    adapter, full = train_result.local_dirs(train_dir)
    tokenizer = tuned_tokenizer(train_dir, train_result, base_path, train_result.chat_template)
    encoded = encode_examples(tokenizer, general.conversations,
                              max_len=eval_config.max_len or train_result.max_seq_len)
    device = pick_device(eval_config.device, "evaluate.device")
    nll: dict[str, list[float]] = {}
    tokens: dict[str, list[int]] = {}
    answers: dict[str, list[str]] = {}

    def measure(label: str, model: Any) -> None:
        model.to(device)
        nll[label], tokens[label] = example_losses(model, encoded, pad_id=tokenizer.pad_token_id, device=device,
                                                   max_tokens=eval_config.loss_batch_tokens)
        if answer:
            chat = LocalChatModel(model, tokenizer, label, device)
            answers[label] = [a.text for a in chat.generate_batch([c[:-1] for c in general.conversations],
                                                                  max_new_tokens=eval_config.max_new_tokens,
                                                                  batch_size=eval_config.batch_size)]

    base = load_causal_lm(base_path)
    measure("base", base)
    tuned = load_weights(base_path, adapter, base_model=base) if adapter is not None else load_weights(full)
    measure("tuned", tuned)
    return nll, tokens, answers


def summarise(general: GeneralSet, nll: dict[str, list[float]], tokens: dict[str, list[int]],
              threshold: float) -> ForgettingSummary:
    """The report section: both mean losses, the relative increase, and whether it is flagged."""
    base, tuned = mean_loss(nll["base"], tokens["base"]), mean_loss(nll["tuned"], tokens["tuned"])
    summary = ForgettingSummary(status="done", source=general.source, examples=len(general.conversations),
                                base_loss=base, tuned_loss=tuned, threshold=threshold)
    if base is not None and tuned is not None:
        summary.loss_increase = round(tuned - base, 6)
        summary.relative_increase = round((tuned - base) / base, 6) if base else None
        summary.flagged = summary.relative_increase is not None and summary.relative_increase > threshold
        summary.note = (f"general loss {base:.4f} -> {tuned:.4f} ({summary.relative_increase:+.1%}); "
                        + ("FLAGGED: above" if summary.flagged else "within") + f" the {threshold:.0%} threshold")
    return summary


def run_forgetting(config: ForgettingConfig, mix_paths: list[str], train_split: Path | None, train_dir: Path,
                   train_result: TrainResult, base_model: str, eval_config: Any,
                   judge_answers: Callable[[GeneralSet, dict[str, list[str]]], Any] | None = None
                   ) -> ForgettingSummary:
    """The forgetting section of the report (``skipped`` with the reason when it cannot run)."""
    if not config.enabled:
        return ForgettingSummary(status="skipped", note="forgetting check off (evaluate.forgetting.enabled)")
    if train_result.hosted:
        return ForgettingSummary(status="skipped", note="forgetting skipped: a hosted model gives no loss")
    general = pick_general_set(config, mix_paths, train_split)
    if not general.conversations:
        return ForgettingSummary(status="skipped", source=general.source,
                                 note=f"forgetting skipped: no usable example in {general.source}")
    nll, tokens, answers = score_general(general, train_dir, train_result, base_model, eval_config,
                                         answer=judge_answers is not None and config.judge)
    summary = summarise(general, nll, tokens, config.threshold)
    if answers and judge_answers is not None:
        summary.judge = judge_answers(general, answers)
    return summary
