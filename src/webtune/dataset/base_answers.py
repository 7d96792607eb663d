"""The base model's own answers to prompts, for preference pairs (``reference_vs_base``, ``teacher_pairs``).

Answers come from batched generation (`webtune.serve.models.LocalChatModel.generate_batch`, the
same local chat model evaluate uses: length-sorted, left-padded batches with a KV cache) and are
cached on disk like the teacher's replies: one JSON file per answer under a hash of the request
(base model, prompt, sampling settings), written atomically as each chunk of batches finishes.
A rerun, or a run that resumes after being killed, generates only the chunks not cached yet, with
the seeds the killed run would have used; the model is not even loaded when every answer is cached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from webtune import faults
from webtune.jsonl import atomic_write_json
from webtune.records import canonical_json, content_id

CHUNK_BATCHES = 4  # batches generated between two cache writes (what a kill can lose)


@dataclass
class BaseAnswerUsage:
    """How many answers were generated and how many came from the cache."""

    generated: int = 0
    cache_hits: int = 0
    model_loads: int = 0

    def to_json(self) -> dict[str, int]:
        return {"generated": self.generated, "cache_hits": self.cache_hits, "model_loads": self.model_loads}


@dataclass
class BaseAnswers:
    """Cached answers of ``base_model`` (a catalog name or path); the model loads on first need."""

    base_model: str
    cache_dir: Path
    device: str = "auto"
    usage: BaseAnswerUsage = field(default_factory=BaseAnswerUsage)
    _chat: Any = None
    load_chat: Callable[[], Any] | None = None  # tests may give their own loader

    def cache_path(self, prompt: list[dict[str, str]], settings: Any) -> Path:
        """Where the answer to ``prompt`` under ``settings`` is cached."""
        key = content_id(canonical_json({"model": str(self.base_model), "messages": prompt,
                                         "max_new_tokens": settings.max_new_tokens,
                                         "temperature": settings.temperature, "top_p": settings.top_p,
                                         "seed": settings.seed}), length=40)
        return Path(self.cache_dir) / key[:2] / f"{key}.json"

    def __call__(self, prompts: list[list[dict[str, str]]], settings: Any) -> list[str]:
        """The answers to ``prompts`` (same order): cached ones read, the rest generated and cached.

        Prompts go in fixed chunks of ``batch_size * CHUNK_BATCHES``; a chunk is generated whole
        (unless all of it is cached) with a seed drawn from its prompts, so a run resumed after a
        kill samples exactly the answers the run that was never killed does.
        """
        answers: list[str] = []
        step = max(1, settings.batch_size * CHUNK_BATCHES)
        for start in range(0, len(prompts), step):
            chunk = prompts[start:start + step]
            paths = [self.cache_path(prompt, settings) for prompt in chunk]
            cached = [self._cached(path) for path in paths]
            if all(text is not None for text in cached):
                self.usage.cache_hits += len(chunk)
                answers.extend(cached)
                continue
            texts = self._generate(chunk, settings)
            for path, text in zip(paths, texts):
                atomic_write_json(path, {"content": text, "model": str(self.base_model)})
            self.usage.generated += len(chunk)
            answers.extend(texts)
            faults.point("dataset.base_answers")  # a chunk is cached: a kill here loses nothing
        return answers

    @staticmethod
    def _cached(path: Path) -> str | None:
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))["content"]
        except (OSError, ValueError, KeyError):
            return None  # a damaged entry is generated again

    def _generate(self, prompts: list[list[dict[str, str]]], settings: Any) -> list[str]:
        import torch

        chat = self.chat()
        # sampled answers: the same chunk gets the same seed in every run, wherever it starts
        torch.manual_seed(settings.seed + int(content_id(canonical_json(prompts), length=8), 16))
        done = chat.generate_batch(prompts, max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size,
                                   temperature=settings.temperature, top_p=settings.top_p)
        return [c.text.strip() for c in done]

    def chat(self) -> Any:
        """The base model as a LocalChatModel, loaded once."""
        if self._chat is None:
            self.usage.model_loads += 1
            self._chat = self.load_chat() if self.load_chat is not None else self._load()
        return self._chat

    def _load(self) -> Any:
        from webtune.models import load_causal_lm, load_tokenizer, pick_device, resolve_model
        from webtune.serve.models import LocalChatModel

        path = resolve_model(self.base_model)
        return LocalChatModel(load_causal_lm(path), load_tokenizer(path), "base",
                              pick_device(self.device, "dataset generator device"))
