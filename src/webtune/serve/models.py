"""Chat models behind one small interface: a local transformers model or a hosted one.

`LocalChatModel` generates with transformers (batched, left-padded; greedy unless a
temperature is given; streaming with `TextIteratorStreamer`). `HostedChatModel` calls an
OpenAI-compatible chat API through ``webtune.openai_client`` (at the endpoint recorded when it
was trained, else the one the environment names). Evaluation, `webtune chat` and `webtune serve`
all answer through these classes, so they answer alike.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Generator

from webtune.errors import InputError

Messages = list[dict[str, str]]


@dataclass
class Completion:
    """One answer: its text, token counts and why generation stopped (``stop`` or ``length``)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


def stop_ids(tokenizer: Any, configured_eos: Any = None) -> list[int]:
    """Token ids that end an answer: the generation config's eos (an id or a list of them), the
    tokenizer's eos, and ``<|im_end|>`` when the vocabulary has it."""
    ids: set[int] = set()
    for value in (configured_eos, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    return sorted(ids)


class LocalChatModel:
    """A transformers causal LM and its chat tokenizer, answering chat conversations."""

    def __init__(self, model: Any, tokenizer: Any, name: str = "local", device: str = "cpu"):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        # One generation at a time: the server may call from several threads.
        self._lock = threading.Lock()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    # ------------------------------------------------------------------ helpers
    def stop_ids(self) -> list[int]:
        """Token ids that end an answer: the model's and tokenizer's eos, and ``<|im_end|>``."""
        return stop_ids(self.tokenizer, getattr(self.model.generation_config, "eos_token_id", None))

    def render(self, messages: Messages) -> str:
        """The prompt text of a conversation, ending where the assistant's answer starts."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _generation_config(self, max_new_tokens: int, temperature: float, top_p: float):
        from webtune.generation import generation_config

        return generation_config(max_new_tokens, self.stop_ids(), self.tokenizer.pad_token_id, temperature, top_p)

    def _encode(self, prompts: list[str]):
        self.tokenizer.padding_side = "left"  # decoder-only models continue from the right end
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        return {k: v.to(self.device) for k, v in batch.items()}

    # ------------------------------------------------------------------ answering
    def generate_batch(
        self,
        conversations: list[Messages],
        max_new_tokens: int = 128,
        batch_size: int = 8,
        temperature: float = 0.0,
        top_p: float = 1.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """Answer every conversation; prompts of similar length are batched together
        (`webtune.generation.generate_batch`: left padding, KV cache, order restored)."""
        from webtune.generation import generate_batch

        prompts = [self.render(m) for m in conversations]
        with self._lock:
            generated = generate_batch(self.model, self.tokenizer, prompts, max_new_tokens=max_new_tokens,
                                       stop_ids=self.stop_ids(), batch_size=batch_size,
                                       temperature=temperature, top_p=top_p, device=self.device,
                                       on_batch=on_batch)
        return [Completion(text=self.tokenizer.decode(g.ids, skip_special_tokens=True).strip(),
                           prompt_tokens=g.prompt_tokens, completion_tokens=len(g.ids),
                           finish_reason=g.finish_reason) for g in generated]

    def complete(self, messages: Messages, max_new_tokens: int = 128, temperature: float = 0.0,
                 top_p: float = 1.0) -> Completion:
        """One answer to one conversation."""
        return self.generate_batch([messages], max_new_tokens, 1, temperature, top_p)[0]

    def stream(self, messages: Messages, max_new_tokens: int = 128, temperature: float = 0.0,
               top_p: float = 1.0) -> Generator[str, None, str]:
        """Yield the answer's text piece by piece; return why it stopped (``stop`` or ``length``)."""
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=600)
        batch = self._encode([self.render(messages)])
        config = self._generation_config(max_new_tokens, temperature, top_p)
        errors: list[BaseException] = []
        outputs: list[Any] = []

        def work() -> None:
            try:
                with self._lock, torch.inference_mode():
                    outputs.append(self.model.generate(**batch, generation_config=config, streamer=streamer))
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if errors:
            raise errors[0]
        new_ids = outputs[0][0, batch["input_ids"].shape[1]:].tolist() if outputs else []
        return "stop" if set(new_ids) & set(self.stop_ids()) else "length"


class HostedChatModel:
    """A model behind an OpenAI-compatible chat API (OpenAI itself or any compatible server).

    ``endpoint`` is where the model was trained (``train_result.json`` -> ``api``:
    ``base_url`` and ``api_key_env``); without it the environment decides (see
    ``webtune.openai_client``).
    """

    def __init__(self, model_id: str, client: Any = None, name: str | None = None, endpoint: Any = None):
        self.model_id = model_id
        self.name = name or model_id
        self.endpoint = endpoint
        self._client = client

    @property
    def client(self) -> Any:
        """The `OpenAIClient`, made on first use for the recorded endpoint."""
        if self._client is None:
            from webtune.openai_client import connect

            self._client = connect(recorded=self.endpoint)
        return self._client

    def complete(self, messages: Messages, max_new_tokens: int = 128, temperature: float = 0.0,
                 top_p: float = 1.0, **options: Any) -> Completion:
        """One answer from the hosted model (``options``: more request fields, e.g. ``stop``, ``seed``);
        API failures become a one-line APIError."""
        response = self.client.chat(f"hosted model {self.model_id!r}", model=self.model_id, messages=messages,
                                    max_tokens=max_new_tokens, temperature=temperature, top_p=top_p, **options)
        choice = response.choices[0]
        usage = response.usage
        return Completion(text=(choice.message.content or "").strip(),
                          prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                          completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                          finish_reason=choice.finish_reason or "stop")

    def generate_batch(self, conversations: list[Messages], max_new_tokens: int = 128,
                       batch_size: int = 8, temperature: float = 0.0, top_p: float = 1.0,
                       on_batch: Callable[[int], None] | None = None) -> list[Completion]:
        """Answer each conversation in turn (the API has no batch call worth the wait)."""
        results = []
        for messages in conversations:
            results.append(self.complete(messages, max_new_tokens, temperature, top_p))
            if on_batch:
                on_batch(1)
        return results

    def stream(self, messages: Messages, max_new_tokens: int = 128, temperature: float = 0.0,
               top_p: float = 1.0, **options: Any) -> Generator[str, None, str]:
        """Yield the hosted answer piece by piece; return its finish reason."""
        finish = "stop"
        for chunk in self.client.chat_stream(f"hosted model {self.model_id!r}", model=self.model_id,
                                             messages=messages, max_tokens=max_new_tokens,
                                             temperature=temperature, top_p=top_p, **options):
            if not chunk.choices:
                continue
            finish = chunk.choices[0].finish_reason or finish
            if chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content
        return finish
