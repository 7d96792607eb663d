"""Fault injection: kill this process at a named point, to test that every stage survives a kill.

``WEBTUNE_FAULT=<point>`` (or ``<point>:<n>``, the n-th time the point is reached) makes
`point` kill the process with SIGKILL there: no ``finally``, no ``except``, no atexit runs, as
with ``kill -9`` or the OOM killer. tests/faults/ reruns each stage after such a kill and
checks the rerun matches a run that was never killed. Unset (always, outside those tests),
`point` is one global lookup and a comparison.

The points (``docs/pipeline.md`` lists them too):

* ``stage.before_publish``, ``stage.after_publish``: around `webtune.stage.publish`, in every stage;
* ``publish.after_swap`` (the new output in place, the old one not yet removed) and
  ``publish.between_renames`` (the fallback without an atomic exchange: the old output moved
  aside, the new one not yet in place);
* ``register.copying`` (half-way through the artifact copy), ``register.before_rename``,
  ``register.after_rename`` (the version in place, the registry's history not yet updated),
  ``register.before_promote``, ``register.after_promote``;
* ``train.checkpoint_writing`` (a checkpoint's weights written, its optimizer state not yet),
  ``train.checkpoint_saved`` (right after a checkpoint is committed);
* ``dataset.base_answers`` (a chunk of the base model's answers for preference pairs cached).
"""

from __future__ import annotations

import os
import signal

ENV = "WEBTUNE_FAULT"


def _parse(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    name, _, count = text.partition(":")
    return name, int(count) if count.isdigit() else 1


_ARMED = _parse(os.environ.get(ENV))
_reached: dict[str, int] = {}


def point(name: str) -> None:
    """Kill this process here when ``WEBTUNE_FAULT`` names this point (see the module docstring)."""
    if _ARMED is None or _ARMED[0] != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] >= _ARMED[1]:
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)  # where there is no SIGKILL (Windows): still no cleanup of any kind
