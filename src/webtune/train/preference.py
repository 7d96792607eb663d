"""Preference tuning (DPO, ORPO, KTO) in webtune's own training loop.

`PreferenceTrainer` is the supervised `webtune.train.loop.Trainer` with another loss: the same
accelerate setup, data order (`webtune.train.plan`: a unit is one pair or one labelled answer),
checkpoints and resume, metrics.jsonl/TensorBoard, progress bar and early stopping. Why not
TRL's trainers: on the same model, pairs and settings webtune's loop was faster
(bench/preference_vs_trl.py, bench/RESULTS.md), mainly because it packs the chosen and rejected
answers of a micro-batch padding-free into rows and computes the LM head only where an answer
token is predicted; it also keeps webtune's exactly resumable data order and one checkpoint format.

The reference model of DPO and KTO is the model the phase starts from (the supervised adapter
when chained after supervised training, else the base model). Its log-probabilities are
computed once, before the first step, with the trainable weights as loaded: no second copy of
the model, no second forward pass per step, and the right reference after supervised
training, which disabling a LoRA adapter would not give (that is the bare base model).

Losses (per item, then the mean over the optimizer step; ``p`` are summed log-probabilities of
the answer's tokens under the policy, ``r`` under the reference):

* DPO: ``-logsigmoid(beta * ((p_chosen - r_chosen) - (p_rejected - r_rejected)))``;
* ORPO: the chosen answers' NLL per token plus ``-beta * logsigmoid(log_odds)``, where
  ``log_odds = log(P_c / (1 - P_c)) - log(P_r / (1 - P_r))`` with ``P`` the per-token mean
  probability (``exp`` of the mean log-probability); no reference;
* KTO: ``w_d * (1 - sigmoid(beta * (p - r - z)))`` for desirable answers and
  ``w_u * (1 - sigmoid(beta * (z - (p - r))))`` for undesirable ones, where ``z`` (the KL
  estimate) is the micro-batch mean of ``p - r`` over each prompt followed by another answer,
  clamped at 0 and not differentiated (as in the KTO paper and TRL).

Rewards are ``beta * (p - r)`` (ORPO: ``beta`` times the mean log-probability); preference
accuracy on validation pairs is the share whose chosen answer gets the higher reward
(``val_rewards/accuracies``) and, independent of the reference, the share whose chosen answer
the model finds more likely (``val_preference_accuracy``, summed log-probabilities).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Sequence

from webtune.errors import InputError
from webtune.train.loop import Trainer, row_length
from webtune.train.packing import IGNORE_INDEX, Encoded, best_fit_decreasing
from webtune.train.plan import shard_for_eval
from webtune.train.preference_data import PrefItem, load_preference


def pack_sequences(seqs: Sequence[Encoded], row_len: int, pad_id: int) -> dict[str, Any]:
    """Sequences packed padding-free into rows of ``row_len`` (best-fit decreasing), with the
    index of the sequence each token belongs to (``segment``, -1 on padding)."""
    import torch

    rows = best_fit_decreasing([len(s) for s in seqs], row_len)
    width = max(sum(len(seqs[i]) for i in row) for row in rows)
    ids, labels, positions, segments = [], [], [], []
    for row in rows:
        r_ids, r_lab, r_pos, r_seg = [], [], [], []
        for index in row:
            seq = seqs[index]
            r_ids += seq.input_ids
            r_lab += [IGNORE_INDEX] + seq.labels[1:]  # the first token is never predicted
            r_pos += list(range(len(seq)))
            r_seg += [index] * len(seq)
        pad = width - len(r_ids)
        ids.append(r_ids + [pad_id] * pad)
        labels.append(r_lab + [IGNORE_INDEX] * pad)
        positions.append(r_pos + list(range(pad)))  # a padding segment of its own
        segments.append(r_seg + [-1] * pad)
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
            "position_ids": torch.tensor(positions), "segment": torch.tensor(segments),
            "n_seqs": len(seqs), "n_real": sum(len(s) for s in seqs), "n_slots": width * len(rows)}


def sequence_logps(model: Any, batch: dict[str, Any], device: Any) -> tuple[Any, Any]:
    """Summed log-probability of each sequence's labelled tokens, and how many there are.

    As in supervised training, logits are computed only where a label is predicted.
    """
    import torch
    import torch.nn.functional as F

    labels = batch["labels"].to(device)
    keep = (labels[:, 1:] != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)
    logits = model(input_ids=batch["input_ids"].to(device), position_ids=batch["position_ids"].to(device),
                   use_cache=False, logits_to_keep=keep).logits
    targets = labels[:, keep + 1]
    token_logp = -F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                  ignore_index=IGNORE_INDEX, reduction="none").reshape(targets.shape)
    mask = targets != IGNORE_INDEX
    owner = batch["segment"].to(device)[:, keep + 1][mask]
    n = batch["n_seqs"]
    sums = torch.zeros(n, device=device, dtype=token_logp.dtype).index_add(0, owner, token_logp[mask])
    counts = torch.zeros(n, device=device, dtype=token_logp.dtype).index_add(
        0, owner, torch.ones_like(token_logp[mask]))
    return sums, counts


def dpo_losses(pc: Any, pr: Any, rc: Any, rr: Any, beta: float) -> tuple[Any, Any, Any]:
    """Per-pair DPO losses and the chosen and rejected rewards."""
    import torch.nn.functional as F

    chosen, rejected = beta * (pc - rc), beta * (pr - rr)
    return -F.logsigmoid(chosen - rejected), chosen.detach(), rejected.detach()


def orpo_losses(mean_c: Any, mean_r: Any, beta: float) -> tuple[Any, Any, Any, Any]:
    """Per-pair ORPO odds-ratio losses (without the NLL), the rewards, and the log odds ratios.

    ``mean_c``/``mean_r`` are per-token mean log-probabilities (always < 0).
    """
    import torch
    import torch.nn.functional as F

    log_odds = (mean_c - mean_r) - (torch.log1p(-torch.exp(mean_c)) - torch.log1p(-torch.exp(mean_r)))
    return -beta * F.logsigmoid(log_odds), beta * mean_c.detach(), beta * mean_r.detach(), log_odds.detach()


def kto_losses(p: Any, r: Any, desirable: Any, kl: Any, beta: float, desirable_weight: float,
               undesirable_weight: float) -> tuple[Any, Any]:
    """Per-answer KTO losses and rewards; ``kl`` is the (detached, clamped) KL estimate."""
    import torch

    logratio = p - r
    losses = torch.where(desirable,
                         desirable_weight * (1 - torch.sigmoid(beta * (logratio - kl))),
                         undesirable_weight * (1 - torch.sigmoid(beta * (kl - logratio))))
    return losses, beta * logratio.detach()


class PreferenceTrainer(Trainer):
    """The training loop with a preference loss; ``job.objective`` is dpo, orpo or kto."""

    def _load_data(self) -> None:
        cfg = self.config
        self.objective = self.job.objective
        if cfg.preference is None:
            raise InputError("train.preference: not set for a preference training job")
        self.pref = cfg.preference
        self.train_items, self.val_items, self.pad_id = load_preference(Path(self.job.data_path))
        lengths = [len(s) for item in self.train_items + self.val_items for s in item.sequences]
        # A micro-batch's sequences share rows of this length (never shorter than the longest).
        self.row_len = row_length(cfg, lengths)
        self.units = [[i] for i in range(len(self.train_items))]
        size = cfg.batch_size
        self.val_units = [list(range(i, min(i + size, len(self.val_items))))
                          for i in range(0, len(self.val_items), size)]
        self.train_ex = []  # the supervised loop's examples: none here

    def _memory_units(self) -> tuple[list[list[int]], list[Any]]:
        """Each item's sequences as one unit (the micro-batch's sequences are packed into rows
        the same way)."""
        flat: list[Encoded] = []
        units = []
        for item in self.train_items:
            units.append(list(range(len(flat), len(flat) + len(item.sequences))))
            flat.extend(item.sequences)
        return units, flat

    def _setup(self) -> None:
        super()._setup()
        # Only the items the run will train on (max_steps may stop before an epoch ends).
        plan = self.plan
        used = sorted({self.units[u][0] for u in plan.order[:plan.total_steps * plan.units_per_step]})
        self.ref_train = self._reference(self.train_items, used)
        self.ref_val = self._reference(self.val_items, list(range(len(self.val_items))))

    # ------------------------------------------------------------------ log-probabilities

    def _logps(self, items: Sequence[PrefItem], slot: int | None = None) -> tuple[Any, Any, dict[str, Any]]:
        """Log-probabilities (items x sequences) of the items' sequences (or only ``slot``), their
        token counts, under the current weights, and the packed batch."""
        seqs = [s for item in items for s in item.sequences] if slot is None else \
            [item.sequences[slot] for item in items]
        batch = pack_sequences(seqs, self.row_len, self.pad_id)
        with self.accelerator.autocast():
            sums, counts = sequence_logps(self.model, batch, self.device)
        width = -1 if slot is None else 1
        return sums.reshape(len(items), width), counts.reshape(len(items), width), batch

    def _reference(self, items: list[PrefItem], used: list[int]) -> Any:
        """The reference log-probabilities (items x sequences) of the ``used`` items (NaN for the
        others; ORPO has no reference: None).

        Computed with the weights the phase starts from, before the first step (and again, from
        the same starting weights, when a run resumes), in evaluation mode.
        """
        import torch

        if self.objective == "orpo" or not used:
            return None
        width = len(items[0].sequences)
        ref = torch.full((len(items), width), float("nan"), device=self.device)
        self.model.eval()
        size = self.config.batch_size
        with torch.no_grad():
            for i in range(0, len(used), size):
                chunk = used[i:i + size]
                ref[chunk] = self._logps([items[j] for j in chunk])[0].detach().to(ref.dtype)
        self.model.train()
        return ref

    # ------------------------------------------------------------------ losses

    def _losses(self, indices: list[int], items: list[PrefItem], ref: Any) -> dict[str, Any]:
        """The per-item losses of one micro-batch, with what the metrics need."""
        import torch

        batch = [items[i] for i in indices]
        if self.objective == "kto":
            logp, _, packed = self._logps(batch, slot=0)
            ref_rows = ref[indices]
            with torch.no_grad():  # KL estimate: each prompt with another answer, not differentiated
                kl_logp, _, _ = self._logps(batch, slot=1)
                kl = (kl_logp[:, 0] - ref_rows[:, 1]).mean().clamp(min=0)
            desirable = torch.tensor([bool(item.desirable) for item in batch], device=self.device)
            losses, rewards = kto_losses(logp[:, 0], ref_rows[:, 0], desirable, kl, self.pref.beta,
                                         self.pref.desirable_weight, self.pref.undesirable_weight)
            return {"losses": losses, "rewards": rewards, "desirable": desirable, "kl": kl,
                    "logps": logp[:, 0].detach(), "packed": packed}
        logp, counts, packed = self._logps(batch)
        pc, pr = logp[:, 0], logp[:, 1]
        if self.objective == "orpo":
            odds, chosen, rejected, log_odds = orpo_losses(pc / counts[:, 0], pr / counts[:, 1], self.pref.beta)
            return {"losses": odds, "nll": -pc.sum(), "chosen_tokens": counts[:, 0].sum(),
                    "chosen": chosen, "rejected": rejected, "log_odds": log_odds,
                    "pc": pc.detach(), "pr": pr.detach(), "packed": packed}
        losses, chosen, rejected = dpo_losses(pc, pr, ref[indices, 0], ref[indices, 1], self.pref.beta)
        return {"losses": losses, "chosen": chosen, "rejected": rejected, "pc": pc.detach(),
                "pr": pr.detach(), "packed": packed}

    def _chosen_tokens(self, indices: list[int]) -> int:
        return sum(sum(1 for x in self.train_items[i].sequences[0].labels[1:] if x != IGNORE_INDEX)
                   for i in indices)

    def _train_step(self, step: int) -> dict[str, Any]:
        """One optimizer step over this process's micro-batches of items; global figures."""
        import torch

        acc, model = self.accelerator, self.model
        torch.manual_seed(self.job.seed * 1_000_003 + step)
        batches = [[self.units[u][0] for u in b] for b in self.plan.micro_batches(step, acc.process_index)]
        n_items = sum(len(b) for b in batches)
        n_chosen = sum(self._chosen_tokens(b) for b in batches) if self.objective == "orpo" else 1
        sums = _FigureSums(self.device)
        tokens = slots = 0
        for i, indices in enumerate(batches):
            sync = i == len(batches) - 1
            with contextlib.nullcontext() if sync else acc.no_sync(model):
                out = self._losses(indices, self.train_items, self.ref_train)
                loss = out["losses"].sum() / n_items
                if self.objective == "orpo":
                    loss = loss + out["nll"] / max(n_chosen, 1)
                acc.backward(loss)
            sums.add(out, self.objective)
            tokens += out["packed"]["n_real"]
            slots += out["packed"]["n_slots"]
        grad_norm = acc.clip_grad_norm_(model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        figures = sums.reduce(acc, extra=[tokens, slots, n_items])
        tokens, slots, items = int(figures.pop("_0")), int(figures.pop("_1")), int(figures.pop("_2"))
        loss = figures.pop("loss")
        return {"loss": loss, "label_tokens": items, "tokens": tokens, "slots": max(slots, 1),
                "grad_norm": float(grad_norm) if grad_norm is not None else float("nan"),
                "extra": figures}

    def evaluate(self) -> float | None:
        """The preference loss on the validation items (None without any); the rewards,
        margins and accuracies go to ``eval_figures``."""
        import torch

        self.eval_figures = {}
        if not self.val_units:
            return None
        acc, model = self.accelerator, self.model
        model.eval()
        sums = _FigureSums(self.device)
        with torch.no_grad():
            for unit, counts in shard_for_eval(self.val_units, acc.num_processes, acc.process_index):
                out = self._losses(unit, self.val_items, self.ref_val)
                if counts:
                    sums.add(out, self.objective)
        model.train()
        figures = sums.reduce(acc)
        loss = figures.pop("loss")
        self.eval_figures = {f"val_{k}": v for k, v in figures.items()}
        return loss

    # ------------------------------------------------------------------ reporting

    def _metrics(self, final_step: int, final_val: float | None, recent: list[dict[str, Any]],
                 stopped_early: bool, restored: bool) -> dict[str, Any]:
        items = sum(r["label_tokens"] for r in recent)
        train_loss = sum(r["loss"] * r["label_tokens"] for r in recent) / items if items else None
        figures = {k.removeprefix("val_"): v for k, v in self.eval_figures.items()}
        return {
            "objective": self.objective,
            "train_loss": train_loss,
            "val_loss": self.best_val if restored else final_val,
            "base_val_loss": self.base_val,
            "val_reward_margin": figures.get("rewards/margins"),
            "val_reward_accuracy": figures.get("rewards/accuracies"),
            "val_preference_accuracy": figures.get("preference_accuracy"),
            "base_val_preference_accuracy": self.base_figures.get("val_preference_accuracy"),
            "steps": final_step,
            "total_steps": self.plan.total_steps,
            "epochs": round(self.plan.epoch_at(final_step), 4),
            "early_stopped": stopped_early,
            "restored_best": restored,
            "train_items": len(self.train_items),
            "validation_items": len(self.val_items),
            "train_tokens": self.tokens,
            "train_seconds": round(self.train_seconds, 2),
            "tokens_per_second": round(self.tokens / self.train_seconds, 1) if self.train_seconds else None,
            "items_per_second": (round(self.plan.epoch_at(final_step) * len(self.train_items)
                                       / self.train_seconds, 2) if self.train_seconds else None),
            "trainable_parameters": self.n_trainable,
            "parameters": self.n_params,
            "processes": self.accelerator.num_processes,
            "device": str(self.accelerator.device),
        }

    def _describe(self, start: int) -> None:
        cfg, plan = self.config, self.plan
        kind = "answers" if self.objective == "kto" else "pairs"
        self.console.print(
            f"[bold]train[/bold] {self.objective} ({cfg.method}) on {self.job.base_model} · "
            f"{len(self.train_items)} {kind}, {len(self.val_items)} for validation · "
            f"{plan.total_steps} steps × {plan.units_per_step} {kind} · beta {self.pref.beta} · "
            f"{self.accelerator.num_processes} process(es) on {self.accelerator.device} · "
            f"trainable {self.n_trainable:,} of {self.n_params:,} parameters")


class _FigureSums:
    """Sums of the per-item figures over micro-batches (and processes), turned into means."""

    def __init__(self, device: Any):
        self.device = device
        self.values: dict[str, float] = {}

    def _add(self, key: str, value: Any) -> None:
        self.values[key] = self.values.get(key, 0.0) + float(value)

    def add(self, out: dict[str, Any], objective: str) -> None:
        losses = out["losses"].detach()
        self._add("loss", losses.sum())
        self._add("n", losses.numel())
        if objective == "kto":
            desirable, rewards = out["desirable"], out["rewards"]
            self._add("chosen", rewards[desirable].sum())
            self._add("n_chosen", desirable.sum())
            self._add("rejected", rewards[~desirable].sum())
            self._add("n_rejected", (~desirable).sum())
            self._add("kl", out["kl"])
            self._add("n_kl", 1)
            return
        chosen, rejected = out["chosen"], out["rejected"]
        self._add("chosen", chosen.sum())
        self._add("rejected", rejected.sum())
        self._add("correct", (chosen > rejected).sum())
        self._add("likelier", (out["pc"] > out["pr"]).sum())
        self._add("pc", out["pc"].sum())
        self._add("pr", out["pr"].sum())
        if objective == "orpo":
            self._add("nll", out["nll"].detach())
            self._add("chosen_tokens", out["chosen_tokens"])
            self._add("log_odds", out["log_odds"].sum())

    def reduce(self, acc: Any, extra: Sequence[float] = ()) -> dict[str, float]:
        """Means over every process (``extra`` values are summed and returned as ``_0``, ``_1``...)."""
        import torch

        keys = sorted(self.values)
        raw = torch.tensor([self.values[k] for k in keys] + [float(x) for x in extra],
                           device=self.device, dtype=torch.float64)
        raw = acc.reduce(raw, reduction="sum")
        total = dict(zip(keys, (float(x) for x in raw[:len(keys)])))
        out: dict[str, float] = {f"_{i}": float(x) for i, x in enumerate(raw[len(keys):])}
        n = max(total.get("n", 0.0), 1.0)
        out["loss"] = total.get("loss", 0.0) / n
        if "kl" in total:
            out["rewards/chosen"] = total["chosen"] / max(total["n_chosen"], 1.0)
            out["rewards/rejected"] = total["rejected"] / max(total["n_rejected"], 1.0)
            out["kl"] = total["kl"] / max(total["n_kl"], 1.0)
            return out
        out["rewards/chosen"] = total["chosen"] / n
        out["rewards/rejected"] = total["rejected"] / n
        out["rewards/margins"] = (total["chosen"] - total["rejected"]) / n
        out["rewards/accuracies"] = total["correct"] / n
        out["preference_accuracy"] = total["likelier"] / n
        out["logps/chosen"] = total["pc"] / n
        out["logps/rejected"] = total["pr"] / n
        if "nll" in total:
            # ORPO's loss is the odds-ratio term plus the NLL per chosen token.
            out["nll_loss"] = total["nll"] / max(total["chosen_tokens"], 1.0)
            out["loss"] += out["nll_loss"]
            out["log_odds_ratio"] = total["log_odds"] / n
        return out
