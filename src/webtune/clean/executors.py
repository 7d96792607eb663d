"""Executors: run `runner.process_batch` over batches, in order, in-process, in a process pool
or on Ray Data. All three give the same output for the same input."""

from __future__ import annotations

import os
import pickle
from collections import deque
from typing import Any, Iterable, Iterator

from webtune.clean import runner
from webtune.errors import ConfigError

Batch = list[tuple[int, str]]
Result = tuple[list[runner.Outcome], dict[str, dict[str, int]]]


class _DecidesHere:
    """A global step's signatures are gathered in a list and decided in this process."""

    def signature_store(self, step: Any) -> Any:
        """Where the stage appends the global step's signatures, in input order."""
        return []

    def decide(self, step: Any, store: Any, stats: dict[str, Any]) -> Any:
        """The global step's plan from its gathered signatures."""
        return step.decide(store, stats)


class InProcessExecutor(_DecidesHere):
    """Everything in this process: the reference the others must match."""

    name = "local"
    workers = 1

    def __init__(self, steps_json: str):
        self.steps_json = steps_json

    def map(self, segment: int, batches: Iterable[Batch]) -> Iterator[Result]:
        for batch in batches:
            yield runner.process_batch(self.steps_json, segment, batch)

    def close(self, ok: bool = True) -> None:
        pass


def _init_worker(steps_json: str) -> None:
    # Ctrl-C in a terminal reaches the whole process group; only the parent handles it (it
    # terminates the pool and discards the partial output), so workers must not print tracebacks.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner.build_plan(steps_json)


class PoolExecutor(_DecidesHere):
    """A process pool with a bounded window of batches in flight; results come back in order."""

    name = "local"

    def __init__(self, steps_json: str, workers: int):
        import multiprocessing as mp

        self.steps_json = steps_json
        self.workers = workers
        # fork shares the step objects (and the language models) the parent already loaded.
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        self.pool = mp.get_context(method).Pool(workers, initializer=_init_worker, initargs=(steps_json,))

    def map(self, segment: int, batches: Iterable[Batch]) -> Iterator[Result]:
        window: deque = deque()
        limit = self.workers * 3  # bounded memory: never more than this many batches queued
        for batch in batches:
            window.append(self.pool.apply_async(runner.process_batch, (self.steps_json, segment, batch)))
            if len(window) >= limit:
                yield window.popleft().get()
        while window:
            yield window.popleft().get()

    def close(self, ok: bool = True) -> None:
        if ok:
            self.pool.close()
        else:  # an error or Ctrl-C: do not wait for queued batches
            self.pool.terminate()
        self.pool.join()


class RayExecutor:
    """Ray Data: each window of batches becomes a dataset mapped by the same batch function."""

    name = "ray"

    def __init__(self, steps_json: str, address: str | None, window: int = 32,
                 runtime_env: dict[str, Any] | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError("clean.executor: ray is not installed; pip install 'webtune[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=address or None, runtime_env=runtime_env, ignore_reinit_error=True,
                     log_to_driver=False)
        self.ray = ray
        self.steps_json = steps_json
        self.window = window
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # output identical to the local executor
        ctx.enable_progress_bars = False
        # Dedup's groupbys (`ray_dedup`): the task-based shuffle starts in a fraction of a second
        # where the default hash shuffle starts aggregator actors for each (tens of seconds on
        # a loaded machine, for the same result).
        ctx.shuffle_strategy = ray.data.context.ShuffleStrategy.SORT_SHUFFLE_PULL_BASED

    def map(self, segment: int, batches: Iterable[Batch]) -> Iterator[Result]:
        pending: list[Batch] = []
        for batch in batches:
            pending.append(batch)
            if len(pending) >= self.window:
                yield from self._run(segment, pending)
                pending = []
        if pending:
            yield from self._run(segment, pending)

    def _run(self, segment: int, batches: list[Batch]) -> Iterator[Result]:
        steps_json = self.steps_json

        def process(row: dict[str, Any]) -> dict[str, Any]:
            batch = pickle.loads(row["batch"])
            return {"result": pickle.dumps(runner.process_batch(steps_json, segment, batch))}

        items = [{"batch": pickle.dumps(b)} for b in batches]
        ds = self.ray.data.from_items(items, override_num_blocks=min(len(items), self.workers * 2))
        for row in ds.map(process).iter_rows():
            yield pickle.loads(row["result"])

    def signature_store(self, step: Any) -> Any:
        """Dedup's signatures go to Ray's object store (`ray_dedup`); other steps' to a list."""
        from webtune.clean import ray_dedup

        return ray_dedup.SignatureSink(step) if ray_dedup.handles(step) else []

    def decide(self, step: Any, store: Any, stats: dict[str, Any]) -> Any:
        """Dedup decides on Ray Data, with no index in this process; other steps here."""
        from webtune.clean import ray_dedup

        if isinstance(store, ray_dedup.SignatureSink):
            return ray_dedup.decide(step, store, stats, self.workers)
        return step.decide(store, stats)

    def close(self, ok: bool = True) -> None:
        pass  # a Ray instance we did not start stays up; ours ends with the process


def make_executor(config: Any, steps_json: str, n_docs: int) -> Any:
    """The executor the clean config asks for; small inputs skip the process pool."""
    if config.executor == "ray":
        return RayExecutor(steps_json, config.ray_address, runtime_env=config.ray_runtime_env)
    workers = config.workers or os.cpu_count() or 1
    # Starting workers costs more than it saves on a couple of batches.
    if workers <= 1 or n_docs <= config.batch_size * 2:
        return InProcessExecutor(steps_json)
    return PoolExecutor(steps_json, workers)
