"""The ``hf`` exporter: a transformers model directory anyone can ``from_pretrained``.

Merged weights (the LoRA folded into the base) as safetensors, the tokenizer with its chat
template, a ``generation_config.json`` whose ``eos_token_id`` lists every token that ends a
reply (eos and the end-of-turn token, so the model stops), and a model card (`webtune.export.card`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from webtune.export import EXPORTERS
from webtune.export.card import model_card
from webtune.export.source import ExportOutput, ExportSource
from webtune.extras import Needs
from webtune.jsonl import atomic_write_text


class HFExportConfig(BaseModel):
    """Write merged safetensors, tokenizer, generation config and model card."""

    format: Literal["hf"] = "hf"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"


@EXPORTERS.register("hf")
class HFExporter:
    """The merged model as a transformers directory with a model card."""

    Config = HFExportConfig
    needs = Needs("train", "torch", "transformers", "peft")

    def __init__(self, config: HFExportConfig):
        self.config = config

    def export(self, source: ExportSource, out_dir: Path) -> ExportOutput:
        """Write the directory; return its files."""
        import torch

        from webtune.models.prepare import progress_bars

        out_dir.mkdir(parents=True, exist_ok=True)
        model, tokenizer = source.model, source.tokenizer
        stops = source.stop_ids()
        model.generation_config.eos_token_id = stops if len(stops) > 1 else stops[0]
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.config.eos_token_id = tokenizer.eos_token_id
        dtype = getattr(torch, self.config.dtype)
        # The source's model is shared with the other formats: cast a copy, never the original.
        saved = model if dtype == model.dtype else copy.deepcopy(model).to(dtype)
        with progress_bars(False):
            saved.save_pretrained(out_dir, safe_serialization=True)
        tokenizer.save_pretrained(out_dir)
        atomic_write_text(out_dir / "README.md", model_card(source, stops))
        files = sorted(p for p in out_dir.iterdir() if p.is_file())
        return ExportOutput("hf", out_dir, files)
