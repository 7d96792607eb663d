"""The ``ollama`` exporter: a Modelfile over a GGUF, ready for ``ollama create NAME -f Modelfile``.

Ollama's TEMPLATE is a Go template, not Jinja. A Jinja chat template cannot be translated in
general, so the exporter recognises the format it renders instead of parsing it: the source
template is rendered on probe conversations and must produce ChatML exactly (``<|im_start|>role
\\ncontent<|im_end|>\\n``, SmolLM2's and Qwen's format); the default system prompt it inserts
when a conversation has none becomes the Modelfile's SYSTEM. Any other template is refused in
one line rather than guessed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from webtune.errors import InputError
from webtune.export import EXPORTERS
from webtune.export.source import ExportOutput, ExportSource
from webtune.extras import Needs
from webtune.jsonl import atomic_write_text

# ChatML in Go template syntax. Ollama fills .System from the request's system message, else
# from the Modelfile's SYSTEM; .Messages holds the turns (system turns are skipped here).
CHATML_GO_TEMPLATE = (
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{- range .Messages }}{{- if ne .Role \"system\" }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}{{- end }}<|im_start|>assistant\n"
)
_PROBE_SYSTEM, _PROBE_USER, _PROBE_ASSISTANT = "SYSTEM-PROBE", "USER-PROBE", "ASSISTANT-PROBE"


class OllamaExportConfig(BaseModel):
    """Write a Modelfile (and its GGUF, unless this export already wrote one)."""

    format: Literal["ollama"] = "ollama"
    quantization: Literal["f16", "q8_0"] = "q8_0"
    temperature: float | None = None


@EXPORTERS.register("ollama")
class OllamaExporter:
    """A Modelfile: FROM the GGUF, TEMPLATE, stop PARAMETERs and SYSTEM from the chat template."""

    Config = OllamaExportConfig
    needs = Needs("train", "torch", "transformers", "peft", "gguf")

    def __init__(self, config: OllamaExportConfig):
        self.config = config

    def export(self, source: ExportSource, out_dir: Path) -> ExportOutput:
        """Write ``Modelfile`` in ``out_dir``; FROM a GGUF of this export, else one written (and proven) here."""
        from webtune.export.gguf_file import GGUFExportConfig, GGUFExporter

        system = chatml_default_system(source.tokenizer, source.label)  # refuse before writing anything
        out_dir.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        roundtrip = None
        gguf_path = source.ggufs.get(self.config.quantization)
        if gguf_path is None:
            written = GGUFExporter(GGUFExportConfig(quantizations=[self.config.quantization])).export(source, out_dir)
            gguf_path, files, roundtrip = written.files[0], written.files, written.roundtrip
        stops = [source.tokenizer.convert_ids_to_tokens(i) for i in source.stop_ids()]
        text = modelfile(os.path.relpath(gguf_path, out_dir), stops, system, self.config.temperature)
        atomic_write_text(out_dir / "Modelfile", text)
        return ExportOutput("ollama", out_dir, [out_dir / "Modelfile", *files], roundtrip=roundtrip)


def chatml_default_system(tokenizer: Any, label: str) -> str | None:
    """The system prompt a ChatML template inserts by itself (None: none); InputError if not ChatML."""

    def render(messages: list[dict[str, str]], generation: bool = True) -> str:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=generation, tokenize=False)

    def turn(role: str, content: str) -> str:
        return f"<|im_start|>{role}\n{content}<|im_end|>\n"

    user, assistant = {"role": "user", "content": _PROBE_USER}, {"role": "assistant", "content": _PROBE_ASSISTANT}
    system = {"role": "system", "content": _PROBE_SYSTEM}
    try:
        with_system = render([system, user, assistant, user])
        bare = render([user])
    except Exception as exc:  # noqa: BLE001 - any template error means we cannot translate it
        raise InputError(f"{label}: ollama export: the chat template fails to render ({exc})") from None
    expected = turn("system", _PROBE_SYSTEM) + turn("user", _PROBE_USER) + turn("assistant", _PROBE_ASSISTANT) \
        + turn("user", _PROBE_USER) + "<|im_start|>assistant\n"
    tail = turn("user", _PROBE_USER) + "<|im_start|>assistant\n"
    head = "<|im_start|>system\n"
    default: str | None = None
    if with_system == expected and bare.endswith(tail):
        prefix = bare[: -len(tail)]
        if prefix == "":
            return None
        if prefix.startswith(head) and prefix.endswith("<|im_end|>\n"):
            default = prefix[len(head): -len("<|im_end|>\n")]
            if "<|im_" not in default and '"""' not in default:
                return default
    raise InputError(f"{label}: ollama export translates ChatML chat templates only; this template renders "
                     f"{with_system[:60]!r}... (write the Modelfile's TEMPLATE by hand)")


def modelfile(gguf_file: str, stops: list[str], system: str | None, temperature: float | None) -> str:
    """The Modelfile's text."""
    lines = [f"FROM ./{gguf_file}" if not gguf_file.startswith((".", "/")) else f"FROM {gguf_file}",
             f'TEMPLATE """{CHATML_GO_TEMPLATE}"""']
    lines += [f'PARAMETER stop "{stop}"' for stop in stops]
    if temperature is not None:
        lines.append(f"PARAMETER temperature {temperature}")
    if system:
        lines.append(f'SYSTEM """{system}"""')
    return "\n".join(lines) + "\n"
