"""The export stage: after register, write the registered version in the formats of ``export:``.

Each format goes to ``runs/<run>/export/<format>/``; every GGUF is proven by a round trip
(``roundtrip.json`` beside it), and the exports are recorded on the registry version.
"""

from __future__ import annotations

import re
from pathlib import Path

from webtune.export.runner import record_exports, run_exports
from webtune.export.source import ExportSource
from webtune.handoffs import RegistryVersion
from webtune.registry.store import ModelRegistry
from webtune.stage import Counts, StageContext, StageResult


def run_export(ctx: StageContext) -> StageResult:
    """Export the version the register stage stored (``register/version.json``)."""
    config = ctx.config
    registered = RegistryVersion.read(ctx.input("register"))
    registry = ModelRegistry(registered.registry or ctx.shared.get("registry"))
    source = ExportSource.open(f"{registered.name}@{registered.version}", registry,
                               max_prompts=config.roundtrip.max_prompts,
                               max_new_tokens=config.roundtrip.max_new_tokens)
    outputs = run_exports(source, config.formats, lambda fmt: ctx.output_dir / fmt, ctx.console)
    published = published_dir(ctx.output_dir)
    record_exports(source, outputs, lambda output: published / output.format)
    return StageResult(counts=Counts(seen=len(outputs), kept=len(outputs), rejected=0), stats={
        "model": registered.label, "formats": [o.format for o in outputs],
        "roundtrip": {q: {"exact_answers": r["exact_answers"], "prompts": r["prompts"],
                          "token_agreement": r["token_agreement"], "passed": r["passed"]}
                      for q, r in source.reports.items()}})


def published_dir(output_dir: Path) -> Path:
    """Where `run_stage` will publish the stage's temporary ``.<name>.tmp-<hex>`` directory."""
    match = re.match(r"^\.(.+)\.tmp-[0-9a-f]+$", output_dir.name)
    return output_dir.parent / (match.group(1) if match else output_dir.name)
