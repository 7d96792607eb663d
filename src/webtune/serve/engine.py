"""Dynamic batching for the server: concurrent requests decode together, token by token.

A `Batcher` owns one worker thread per served local model. Requests wait in a queue; the
worker takes every request waiting (up to ``max_batch``), left-pads their prompts into one
batch and decodes it step by step with the KV cache; requests that arrive meanwhile form the
next batch. Each step checks every row for its stop tokens, its ``stop`` strings, its token
budget and whether its client went away, so a cancelled request stops within one step.

Why hand-written: ``model.generate`` cannot stop one row of a batch for a stop *string*, a
disconnected client or a per-request seed, nor stream several rows at once; transformers'
continuous-batching manager is experimental and needs paged attention kernels. The loop below
is the plain greedy/sampling loop of ``generate`` (same positions from the attention mask,
same cache), and the tests check that its greedy answers equal ``generate``'s token for token.
Hosted models have no local decoding; `HostedEngine` runs each of their requests in a thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from webtune.generation import left_padded
from webtune.serve.models import Completion

log = logging.getLogger("webtune.serve")

# What a request's sink receives: ("text", piece) while decoding, then ("done", Completion)
# or ("error", exception) exactly once.
Event = tuple[str, Any]


@dataclass
class GenRequest:
    """One answer to produce (one choice: ``n`` choices are ``n`` requests)."""

    prompt_ids: list[int]
    max_new_tokens: int
    sink: Callable[[Event], None]
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)  # for hosted models
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Stop decoding this request at the next step (a no-op once it is done)."""
        self.cancelled.set()


def hold_back(text: str, stops: list[str]) -> int:
    """How many trailing characters of ``text`` may still become a stop string (or a split character).

    They are not streamed yet: a client must never see text that a stop string later removes.
    """
    if text.endswith("\ufffd"):  # a multi-byte character cut between tokens
        return 1
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


def cut_at_stop(text: str, stops: list[str]) -> int | None:
    """Where the first stop string in ``text`` starts, if any."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


class RowState:
    """The decoding state of one request: its tokens, its text so far and what was streamed."""

    def __init__(self, request: GenRequest, tokenizer: Any, stop_ids: set[int]):
        self.request = request
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        self.ids: list[int] = []
        self.text = ""
        self.sent = 0
        self.finish: str | None = None
        self.generator = None
        if request.temperature > 0:
            import torch

            self.generator = torch.Generator()
            self.generator.manual_seed(request.seed if request.seed is not None else time.time_ns() % 2**63)

    @property
    def active(self) -> bool:
        return self.finish is None

    def add(self, token: int) -> None:
        """Take the next token; decide whether the answer is over; stream what is safe to send."""
        request = self.request
        if token in self.stop_ids:
            self.finish = "stop"
        else:
            self.ids.append(token)
            # Decoding the whole answer each step keeps multi-token characters and spaces right.
            self.text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
            cut = cut_at_stop(self.text, request.stop) if request.stop else None
            if cut is not None:
                self.text = self.text[:cut]
                self.finish = "stop"
            elif len(self.ids) >= request.max_new_tokens:
                self.finish = "length"
        end = len(self.text) if self.finish else len(self.text) - hold_back(self.text, request.stop)
        if end > self.sent:
            request.sink(("text", self.text[self.sent:end]))
            self.sent = end

    def completion(self, prompt_tokens: int) -> Completion:
        """The finished answer (text stripped, as `LocalChatModel.complete` returns it)."""
        return Completion(text=self.text.strip(), prompt_tokens=prompt_tokens,
                          completion_tokens=len(self.ids), finish_reason=self.finish or "stop")


@dataclass
class BatcherStats:
    """What the batcher did: the tests and the benchmark read these."""

    batches: int = 0
    requests: int = 0
    largest_batch: int = 0
    merged: int = 0  # requests that shared their batch with another
    cancelled: int = 0
    tokens: int = 0


class Batcher:
    """Decodes queued requests for one `LocalChatModel` in batches, on its own thread."""

    def __init__(self, chat_model: Any, max_batch: int = 8, gather_s: float = 0.02, start: bool = True):
        self.chat = chat_model
        self.max_batch = max_batch
        self.gather_s = gather_s  # a short wait so requests sent together start together
        self.stats = BatcherStats()
        self._queue: queue.Queue[GenRequest | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"batcher-{chat_model.name}", daemon=True)
        self._closed = False
        self._running: list[GenRequest] = []
        if start:
            self.start()

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def submit(self, request: GenRequest) -> None:
        """Queue ``request``; its sink hears its pieces and its end from the worker thread."""
        if self._closed:
            request.sink(("error", RuntimeError("the model is being unloaded; retry")))
            return
        self._queue.put(request)

    def close(self, wait: bool = False) -> None:
        """Finish what is queued, then stop the worker (``wait``: until it has stopped)."""
        self._closed = True
        self._queue.put(None)
        if wait and self._thread.is_alive():
            self._thread.join()

    def cancel_all(self) -> None:
        """Cancel every queued and running request (shutdown)."""
        self._closed = True
        with self._queue.mutex:
            pending = [r for r in self._queue.queue if r is not None]
        for request in pending:
            request.cancel()
        for request in list(self._running):
            request.cancel()
        self._queue.put(None)

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.gather_s
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(nxt)
            live = [r for r in batch if not r.cancelled.is_set()]
            self.stats.cancelled += len(batch) - len(live)
            for request in batch:
                if request.cancelled.is_set():
                    request.sink(("error", RuntimeError("cancelled")))
            if live:
                self._decode_safely(live)

    def _decode_safely(self, batch: list[GenRequest]) -> None:
        self._running = batch
        try:
            self._decode(batch)
        except Exception as exc:  # every waiting client hears of it; the worker carries on
            log.exception("generation failed")
            for request in batch:
                request.sink(("error", exc))
        finally:
            self._running = []

    def _decode(self, batch: list[GenRequest]) -> None:
        """Left-pad the prompts, prefill once, then decode one token per row per step."""
        import torch

        chat, tokenizer = self.chat, self.chat.tokenizer
        rows = [RowState(r, tokenizer, set(chat.stop_ids())) for r in batch]
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        if len(batch) > 1:
            self.stats.merged += len(batch)
        input_ids, mask = left_padded([r.prompt_ids for r in batch], tokenizer.pad_token_id)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        steps = max(r.max_new_tokens for r in batch)
        with chat._lock, torch.inference_mode():
            # logits_to_keep=1: the vocabulary projection only where the next token is read (as generate does).
            out = chat.model(input_ids=input_ids.to(chat.device), attention_mask=mask.to(chat.device),
                             position_ids=positions.to(chat.device), use_cache=True, logits_to_keep=1)
            for _ in range(steps):
                tokens = self._choose(out.logits[:, -1, :].float(), rows)
                for row, token in zip(rows, tokens):
                    if row.active and row.request.cancelled.is_set():
                        row.finish = "cancelled"
                        self.stats.cancelled += 1
                    elif row.active:
                        row.add(token)
                        self.stats.tokens += 1
                if not any(r.active for r in rows):
                    break
                mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
                positions = positions[:, -1:] + 1
                step = torch.tensor(tokens, dtype=input_ids.dtype).unsqueeze(1)
                out = chat.model(input_ids=step.to(chat.device), attention_mask=mask.to(chat.device),
                                 position_ids=positions.to(chat.device), cache=out.cache,
                                 use_cache=True)
        for row, request in zip(rows, batch):
            if row.finish == "cancelled":
                request.sink(("error", RuntimeError("cancelled")))
            else:
                request.sink(("done", row.completion(len(request.prompt_ids))))

    def _choose(self, logits: Any, rows: list[RowState]) -> list[int]:
        """The next token of each row: argmax, or a seeded sample when the row has a temperature."""
        chosen = logits.argmax(dim=-1).tolist()
        for i, row in enumerate(rows):
            if row.active and row.generator is not None:
                chosen[i] = sample(logits[i].cpu(), row.request.temperature, row.request.top_p, row.generator)
        pad = self.chat.tokenizer.pad_token_id
        return [token if row.active else pad for token, row in zip(chosen, rows)]


def sample(logits: Any, temperature: float, top_p: float, generator: Any) -> int:
    """One token drawn from ``softmax(logits / temperature)`` within the top-p nucleus."""
    import torch

    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        ordered, order = probs.sort(descending=True)
        outside = ordered.cumsum(-1) - ordered > top_p  # keep the smallest set reaching top_p
        ordered[outside] = 0
        probs = torch.zeros_like(probs).scatter(0, order, ordered)
    return int(torch.multinomial(probs, 1, generator=generator).item())


class HostedEngine:
    """Runs each request for a hosted model in its own thread (the API batches on its side)."""

    def __init__(self, chat_model: Any):
        self.chat = chat_model
        self.stats = BatcherStats()

    def submit(self, request: GenRequest) -> None:
        """Ask the hosted model; stream its pieces into the request's sink."""
        threading.Thread(target=self._answer, args=(request,), daemon=True).start()

    def _answer(self, request: GenRequest) -> None:
        options = {k: v for k, v in (("stop", request.stop or None), ("seed", request.seed)) if v is not None}
        try:
            pieces = self.chat.stream(request.messages, max_new_tokens=request.max_new_tokens,
                                      temperature=request.temperature, top_p=request.top_p, **options)
            text, finish = "", "stop"
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as done:
                    finish = done.value or "stop"
                    break
                if request.cancelled.is_set():
                    pieces.close()
                    request.sink(("error", RuntimeError("cancelled")))
                    return
                text += piece
                request.sink(("text", piece))
            request.sink(("done", Completion(text=text.strip(), finish_reason=finish)))
        except Exception as exc:
            request.sink(("error", exc))

    def close(self, wait: bool = False) -> None:
        """Nothing to stop: each request has its own thread."""

    def cancel_all(self) -> None:
        """Nothing queued here; running requests stop when their client goes away."""
