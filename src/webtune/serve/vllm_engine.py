"""`--engine vllm`: serve (and evaluate) a local model with vLLM instead of transformers.

vLLM brings continuous batching and paged attention on a GPU; webtune's own `Batcher` stays the
engine on CPU. Nothing here imports vLLM until a model is loaded with it, and `check_vllm` says
in one line what is missing when it cannot run (vLLM not installed, or no GPU it can use).

* `VllmChatModel`: the tokenizer and chat template (prompts, stop tokens) of a model served by
  vLLM, and its `AsyncLLMEngine` running on an event loop in a thread of its own. A LoRA
  adapter is served as vLLM's `LoRARequest` on the base model (``enable_lora``), so a tuned
  version costs no merged copy of the weights.
* `VllmEngine`: the server's engine interface (`submit`, `close`, `cancel_all`, `stats`, like
  `webtune.serve.engine.Batcher`), streaming each request's pieces into its sink.
* `VllmChatModel.generate_batch`: evaluate's interface (a list of conversations -> answers),
  all requests handed to vLLM at once so it batches them.

The engine is driven through vLLM's documented API only (`AsyncEngineArgs`,
`AsyncLLMEngine.from_engine_args`, `generate(prompt, sampling_params, request_id,
lora_request=...)` yielding cumulative `RequestOutput`s, `abort`, `SamplingParams`,
`LoRARequest`); tests drive it with a stand-in package of that shape (tests/serve/fake_vllm).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

from webtune.errors import WebtuneError
from webtune.serve.engine import BatcherStats, GenRequest, hold_back
from webtune.serve.models import Completion, Messages, stop_ids

ENGINES = ("transformers", "vllm")


def check_vllm(where: str) -> None:
    """Raise a one-line `WebtuneError` unless vLLM is installed and finds a device it runs on."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise WebtuneError(f"{where} --engine vllm needs vLLM, which is not installed: pip install vllm "
                           "(on a machine with a CUDA GPU), or use --engine transformers") from None
    if not gpu_present():
        raise WebtuneError(f"{where} --engine vllm needs a CUDA GPU and found none "
                           "(torch.cuda.is_available() is False): use --engine transformers on this machine")


def gpu_present() -> bool:
    """Whether torch sees a CUDA (or ROCm) GPU."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def stop_token_ids(model_dir: Path, tokenizer: Any) -> list[int]:
    """The ids that end an answer (`webtune.serve.models.stop_ids`), the eos from the model
    directory's ``generation_config.json`` (vLLM's model is not loaded here)."""
    path = Path(model_dir) / "generation_config.json"
    configured = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id") if path.is_file() else None
    return stop_ids(tokenizer, configured)


class VllmChatModel:
    """A model served by vLLM's `AsyncLLMEngine`, with webtune's chat interface around it."""

    engine_name = "vllm"

    def __init__(self, model_path: Path, tokenizer: Any, adapter_path: Path | None = None,
                 name: str = "local", engine_args: dict[str, Any] | None = None):
        from vllm import AsyncEngineArgs, AsyncLLMEngine

        self.tokenizer = tokenizer
        self.name = name
        self.model_path = Path(model_path)
        self._stop_ids = stop_token_ids(self.model_path, tokenizer)
        args = {"model": str(model_path), "tokenizer": str(model_path), **(engine_args or {})}
        self.lora = None
        if adapter_path is not None:
            from vllm.lora.request import LoRARequest

            args.update(enable_lora=True, max_lora_rank=max(16, _lora_rank(adapter_path)))
            self.lora = LoRARequest(name, 1, str(adapter_path))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"vllm-{name}", daemon=True)
        self._thread.start()
        self.engine = AsyncLLMEngine.from_engine_args(AsyncEngineArgs(**args))
        self._ids = itertools.count()

    def stop_ids(self) -> list[int]:
        """Token ids that end an answer."""
        return list(self._stop_ids)

    def render(self, messages: Messages) -> str:
        """The prompt text of a conversation, ending where the assistant's answer starts."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def sampling_params(self, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                        seed: int | None = None, stop: list[str] | None = None) -> Any:
        """vLLM's `SamplingParams` for one answer (greedy at temperature 0)."""
        from vllm import SamplingParams

        return SamplingParams(n=1, max_tokens=max_new_tokens, temperature=temperature,
                              top_p=top_p if temperature > 0 else 1.0, seed=seed, stop=list(stop or []) or None,
                              stop_token_ids=self._stop_ids, skip_special_tokens=True)

    async def answer(self, prompt_ids: list[int], params: Any, on_text: Any = None,
                     cancelled: threading.Event | None = None, adapter: bool = True) -> Completion | None:
        """Generate one answer; ``on_text(piece)`` gets the new text as it comes. None: cancelled.

        ``adapter=False`` answers with the base model alone (evaluate's base side).
        """
        request_id = f"webtune-{next(self._ids)}"
        sent, last, stops = "", None, list(params.stop or [])
        async for output in self.engine.generate({"prompt_token_ids": list(prompt_ids)}, params, request_id,
                                                 lora_request=self.lora if adapter else None):
            if cancelled is not None and cancelled.is_set():
                await self.engine.abort(request_id)
                return None
            last = output.outputs[0]
            # Text that may still turn into a stop string is held back (older vLLMs stream it).
            end = len(last.text) if last.finish_reason else len(last.text) - hold_back(last.text, stops)
            if on_text is not None and end > len(sent) and last.text.startswith(sent):
                on_text(last.text[len(sent):end])
                sent = last.text[:end]
        assert last is not None
        finish = "length" if last.finish_reason == "length" else "stop"
        return Completion(text=last.text.strip(), prompt_tokens=len(prompt_ids),
                          completion_tokens=len(last.token_ids), finish_reason=finish)

    def generate_batch(self, conversations: list[Messages], max_new_tokens: int = 128,
                       temperature: float = 0.0, top_p: float = 1.0, adapter: bool = True,
                       on_batch: Any = None, **_: Any) -> list[Completion]:
        """Answers to many conversations, handed to vLLM together (evaluate's interface)."""
        params = self.sampling_params(max_new_tokens, temperature, top_p)

        async def one(prompt_ids: list[int]) -> Completion | None:
            done = await self.answer(prompt_ids, params, adapter=adapter)
            if on_batch is not None:
                on_batch(1)
            return done

        async def everything() -> list[Completion | None]:
            prompts = [self.tokenizer(self.render(c), add_special_tokens=False)["input_ids"] for c in conversations]
            return await asyncio.gather(*(one(p) for p in prompts))

        return list(asyncio.run_coroutine_threadsafe(everything(), self.loop).result())

    def complete(self, messages: Messages, max_new_tokens: int = 128, temperature: float = 0.0,
                 top_p: float = 1.0) -> Completion:
        """One answer."""
        return self.generate_batch([messages], max_new_tokens, temperature, top_p)[0]

    def close(self) -> None:
        """Stop the engine's event loop."""
        shutdown = getattr(self.engine, "shutdown", None)
        if callable(shutdown):
            shutdown()
        self.loop.call_soon_threadsafe(self.loop.stop)


def _lora_rank(adapter_path: Path) -> int:
    config = Path(adapter_path) / "adapter_config.json"
    return int(json.loads(config.read_text(encoding="utf-8")).get("r", 16)) if config.is_file() else 16


class VllmEngine:
    """The server's engine for a `VllmChatModel`: vLLM batches the requests continuously."""

    def __init__(self, model: VllmChatModel):
        self.model = model
        self.stats = BatcherStats()
        self._running: dict[int, GenRequest] = {}  # id() -> request (requests are not hashable)
        self._lock = threading.Lock()

    def submit(self, request: GenRequest) -> None:
        """Start generating ``request``; its pieces and then its completion go to its sink."""
        with self._lock:
            self._running[id(request)] = request
            self.stats.requests += 1
        future = asyncio.run_coroutine_threadsafe(self._answer(request), self.model.loop)
        future.add_done_callback(lambda _: self._forget(request))

    def _forget(self, request: GenRequest) -> None:
        with self._lock:
            self._running.pop(id(request), None)

    async def _answer(self, request: GenRequest) -> None:
        params = self.model.sampling_params(request.max_new_tokens, request.temperature, request.top_p,
                                            request.seed, request.stop)
        try:
            done = await self.model.answer(request.prompt_ids, params,
                                           lambda piece: request.sink(("text", piece)), request.cancelled)
        except Exception as exc:  # one request's failure is its own
            request.sink(("error", exc))
            return
        if done is None:
            self.stats.cancelled += 1
            request.sink(("error", RuntimeError("cancelled")))
            return
        self.stats.tokens += done.completion_tokens
        request.sink(("done", done))

    def close(self, wait: bool = False) -> None:
        """Stop the engine once the requests it has are finished (``wait``: before returning)."""
        def finish() -> None:
            while self._running:
                time.sleep(0.05)
            self.model.close()

        if wait:
            finish()
        else:
            threading.Thread(target=finish, daemon=True).start()

    def cancel_all(self) -> None:
        """Stop every running request at its next piece."""
        with self._lock:
            for request in self._running.values():
                request.cancel()
