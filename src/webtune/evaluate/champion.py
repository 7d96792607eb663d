"""Champion vs challenger: the production model against the new one, on the same examples.

In a refresh run with a model in production, evaluate also scores both on two sets:

* ``benchmark``: the union of every earlier version's test split (`webtune.refresh.history`),
  kept fixed: what the production model was already judged on, so a new model cannot win by
  forgetting it;
* ``new``: this version's test split (records new or changed since the last version).

The figure is the token-weighted loss per example (a forward pass each: cheap enough for every
example); the delta (challenger minus champion) gets the paired bootstrap interval of
`webtune.evaluate.stats`. The register stage's champion gate reads the intervals.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rich.console import Console

from webtune.evaluate.runner import EvalItem, _encode_items
from webtune.evaluate.stats import PerExample, compare
from webtune.handoffs import ChampionReport, ChampionSet, TrainResult
from webtune.records import canonical_json


def items_digest(items: list[EvalItem]) -> str:
    """SHA-256 of a set's conversations: equal digests, equal examples."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(canonical_json(item.messages).encode("utf-8") + b"\n")
    return digest.hexdigest()


def run_champion(settings: dict[str, Any], sets: dict[str, list[EvalItem]], train_dir: Path,
                 train_result: TrainResult, base_model: str, config: Any, console: Console) -> ChampionReport:
    """Losses of the champion (``settings``: its label and artifact) and the challenger (the model
    just trained) on each set, and the paired comparison."""
    from webtune.evaluate.scoring import example_losses, tuned_tokenizer
    from webtune.models import pick_device, resolve_model
    from webtune.serve.loader import load_weights

    base_path = resolve_model(base_model)
    adapter, full = train_result.local_dirs(train_dir)
    tokenizer = tuned_tokenizer(train_dir, train_result, base_path, train_result.chat_template)
    device = pick_device(config.device, "evaluate.device")
    max_len = config.max_len or train_result.max_seq_len
    encoded = {name: _encode_items(items, tokenizer, max_len) for name, items in sets.items()}
    champion_path = Path(settings["artifact"])
    loaders = {
        "champion": lambda: (load_weights(base_path, champion_path) if settings["kind"] == "adapter"
                             else load_weights(champion_path)),
        "challenger": lambda: load_weights(base_path, adapter) if adapter is not None else load_weights(full),
    }
    losses: dict[str, dict[str, tuple[list[float], list[int]]]] = {}
    for label, load in loaders.items():
        with console.status(f"champion vs challenger: {label} loss"):
            model = load().to(device)
            losses[label] = {name: example_losses(model, enc[1], pad_id=tokenizer.pad_token_id, device=device,
                                                  max_tokens=config.loss_batch_tokens)
                             for name, enc in encoded.items()}
            del model
    report = ChampionReport(champion=settings["label"])
    for name, (kept, _enc, _rejects) in encoded.items():
        report.sets.append(compare_set(name, kept, losses["champion"][name], losses["challenger"][name],
                                       config))
    return report


def compare_set(name: str, items: list[EvalItem], champion: tuple[list[float], list[int]],
                challenger: tuple[list[float], list[int]], config: Any) -> ChampionSet:
    """One set's comparison: per-example mean NLL weighted by tokens (the token-weighted loss)."""
    rows = [i for i, tokens in enumerate(champion[1]) if tokens]
    if not rows:
        return ChampionSet(name=name, examples=0)

    def per_example(nll_tokens: tuple[list[float], list[int]]) -> PerExample:
        nll, tokens = nll_tokens
        return PerExample([nll[i] / tokens[i] for i in rows], [float(tokens[i]) for i in rows])

    old, new = per_example(champion), per_example(challenger)
    result = compare(old, new, "lower", resamples=config.bootstrap_resamples, seed=config.seed)
    mean = lambda p: sum(v * w for v, w in zip(p.values, p.weights)) / sum(p.weights)  # noqa: E731
    return ChampionSet(name=name, examples=len(rows), champion_loss=round(mean(old), 4),
                       challenger_loss=round(mean(new), 4), delta=round(result.delta, 4),
                       delta_ci95=[round(result.ci95[0], 4), round(result.ci95[1], 4)],
                       wins=result.wins, ties=result.ties, losses=result.losses, sha256=items_digest(items))
