"""What every exporter works from: the merged model of a model reference, its tokenizer, its
registry record, and the prompts the round-trip check answers.

One `ExportSource` is shared by the formats of one export, so the model is merged once and the
Ollama exporter reuses a GGUF the GGUF exporter already wrote and proved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webtune.errors import InputError
from webtune.handoffs import EvalReport, RegistryVersion
from webtune.registry.store import ModelRegistry
from webtune.serve.loader import ModelRef, resolve_ref, tokenizer_dir

# Used when the version has no test split to take prompts from.
FIXED_PROMPTS = (
    "What is the capital of France?",
    "Write one sentence about the sea.",
    "Give me three tips for writing clearly.",
    "Describe a good office chair.",
)
# The end-of-turn tokens of the chat formats webtune knows; the first one a chat template uses is the eot.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>")


@dataclass
class ExportOutput:
    """What one exporter wrote: its directory, the files, and the round-trip report (if it ran one)."""

    format: str
    directory: Path
    files: list[Path]
    roundtrip: dict[str, Any] | None = None


@dataclass
class ExportSource:
    """A model to export, loaded lazily: ``model`` is merged (LoRA folded into the base) on first use."""

    ref: ModelRef
    max_prompts: int = 8
    max_new_tokens: int = 32
    ggufs: dict[str, Path] = field(default_factory=dict)  # quantization -> a GGUF proven this session
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # quantization -> its round trip
    _model: Any = None
    _tokenizer: Any = None
    answers: list[dict[str, Any]] | None = None  # the merged model's round-trip answers, once computed

    @classmethod
    def open(cls, reference: str, registry: ModelRegistry | None = None, **settings: Any) -> "ExportSource":
        """The source of a model reference (NAME, NAME@N, NAME@alias, a directory); hosted models have no weights."""
        ref = resolve_ref(reference, registry)
        if ref.hosted:
            raise InputError(f"{ref.label}: a hosted model ({ref.model_id}) has no weights to export")
        return cls(ref=ref, **settings)

    @property
    def version(self) -> RegistryVersion | None:
        return self.ref.version

    @property
    def label(self) -> str:
        return self.ref.label

    @property
    def stem(self) -> str:
        """The base of file names: ``office-copywriter-v3``, or the directory's name."""
        if self.version is not None:
            return f"{self.version.name}-v{self.version.version}"
        assert self.ref.model_path is not None
        return (self.ref.adapter_path or self.ref.model_path).name

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from webtune.models import load_tokenizer

            self._tokenizer = load_tokenizer(tokenizer_dir(self.ref))
            if not self._tokenizer.chat_template:
                raise InputError(f"{tokenizer_dir(self.ref)}: the tokenizer has no chat template to export")
        return self._tokenizer

    @property
    def model(self) -> Any:
        if self._model is None:
            from webtune.serve.loader import load_weights

            assert self.ref.model_path is not None
            self._model = load_weights(self.ref.model_path, self.ref.adapter_path).eval()
        return self._model

    # ------------------------------------------------------------------ special tokens
    def end_of_turn_id(self) -> int | None:
        """The id of the token that ends an assistant turn in the chat template (``<|im_end|>``)."""
        template = self.tokenizer.chat_template or ""
        vocab = self.tokenizer.get_vocab()
        for token in END_OF_TURN_TOKENS:
            if token in template and token in vocab:
                return vocab[token]
        return None

    def stop_ids(self) -> list[int]:
        """Every id that ends generation: eos, the end-of-turn token, and the model's own eos ids."""
        ids = [self.tokenizer.eos_token_id, self.end_of_turn_id()]
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        ids.extend(configured if isinstance(configured, list) else [configured])
        return list(dict.fromkeys(i for i in ids if i is not None))

    # ------------------------------------------------------------------ prompts
    def prompts(self) -> tuple[list[list[dict[str, str]]], str]:
        """(conversations to answer, where they came from): the version's test split, else fixed ones."""
        test = self.test_split()
        if test is not None:
            found = []
            for line in test.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    messages = json.loads(line).get("messages") or []
                    while messages and messages[-1].get("role") == "assistant":
                        messages = messages[:-1]  # answer the prompt, not replay the reference reply
                    if messages:
                        found.append([{"role": m["role"], "content": m["content"]} for m in messages])
                if len(found) >= self.max_prompts:
                    break
            if found:
                return found, str(test)
        fixed = [[{"role": "user", "content": text}] for text in FIXED_PROMPTS[: self.max_prompts]]
        return fixed, "fixed prompts"

    def test_split(self) -> Path | None:
        """The version's ``test.jsonl``, when its run directory still holds it."""
        run_dir = self.version.lineage.run_dir if self.version is not None else None
        path = Path(run_dir) / "dataset" / "test.jsonl" if run_dir else None
        return path if path is not None and path.is_file() else None

    def eval_report(self) -> EvalReport | None:
        """The version's evaluation report, when its run directory still holds it."""
        run_dir = self.version.lineage.run_dir if self.version is not None else None
        path = Path(run_dir) / "evaluate" / EvalReport.FILE if run_dir else None
        return EvalReport.read(path) if path is not None and path.is_file() else None
