"""Exporters, registered by name: ``hf`` (merged safetensors + model card), ``gguf`` (llama.cpp
files, f16 and q8_0) and ``ollama`` (a Modelfile over a GGUF).

An exporter has the shape of every backend (`webtune.plugins.Backend`): ``Exporter(config)``
with a ``Config`` (tag ``format``) and one method, ``export(source, out_dir) -> ExportOutput``
(see `webtune.export.source`). The built-ins import torch, transformers and gguf lazily and load
through the same path as plugins of the entry-point group ``webtune.exporters``.
"""

from webtune.plugins import Registry

EXPORTERS: Registry = Registry("exporter", builtins=("webtune.export.hf", "webtune.export.gguf_file",
                                                     "webtune.export.ollama"), label="export format")
