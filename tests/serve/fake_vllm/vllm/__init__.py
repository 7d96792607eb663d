"""Stand-in for vLLM's async engine API (see ../README.md): greedy decoding with transformers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

CALLS: list[dict[str, Any]] = []  # what webtune asked for: the tests read it


class AsyncEngineArgs:
    def __init__(self, model: str, tokenizer: str | None = None, **kwargs: Any):
        self.model, self.tokenizer, self.kwargs = model, tokenizer, kwargs


@dataclass
class SamplingParams:
    n: int = 1
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] | None = None
    stop_token_ids: list[int] | None = None
    skip_special_tokens: bool = True


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = False


@dataclass
class AsyncLLMEngine:
    args: AsyncEngineArgs
    models: dict[Any, Any] = field(default_factory=dict)
    aborted: set[str] = field(default_factory=set)

    @classmethod
    def from_engine_args(cls, args: AsyncEngineArgs) -> "AsyncLLMEngine":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        engine = cls(args)
        engine.tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or args.model)
        engine.models[None] = AutoModelForCausalLM.from_pretrained(args.model).eval()
        CALLS.append({"engine_args": {"model": args.model, **args.kwargs}})
        return engine

    def _model(self, lora_request: Any) -> Any:
        if lora_request is None:
            return self.models[None]
        if not self.args.kwargs.get("enable_lora"):
            raise ValueError("LoRA is not enabled (enable_lora=False)")
        if lora_request.lora_path not in self.models:
            from peft import PeftModel
            from transformers import AutoModelForCausalLM

            base = AutoModelForCausalLM.from_pretrained(self.args.model)
            self.models[lora_request.lora_path] = PeftModel.from_pretrained(
                base, lora_request.lora_path).merge_and_unload().eval()
        return self.models[lora_request.lora_path]

    async def generate(self, prompt: dict, sampling_params: SamplingParams, request_id: str,
                       lora_request: Any = None):
        import torch

        assert sampling_params.temperature == 0, "the stand-in decodes greedily only"
        CALLS.append({"request_id": request_id, "params": sampling_params, "lora": lora_request})
        model = self._model(lora_request)
        ids = list(prompt["prompt_token_ids"])
        out: list[int] = []
        stops = set(sampling_params.stop_token_ids or [])
        text, finish = "", None
        while finish is None:
            if request_id in self.aborted:
                return
            with torch.no_grad():
                logits = model(torch.tensor([ids + out])).logits[0, -1]
            token = int(logits.argmax())
            if token in stops:
                finish = "stop"
            else:
                out.append(token)
                text = self.tokenizer.decode(out, skip_special_tokens=True)
                for stop in sampling_params.stop or []:
                    if stop in text:  # vLLM leaves the stop string out of the text
                        text, finish = text[:text.index(stop)], "stop"
                        break
                if finish is None and len(out) >= sampling_params.max_tokens:
                    finish = "length"
            await asyncio.sleep(0)
            yield RequestOutput(request_id, ids, [CompletionOutput(0, text, list(out), finish)], finish is not None)

    async def abort(self, request_id: str) -> None:
        self.aborted.add(request_id)
