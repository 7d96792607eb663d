"""Base-model management: the catalog of packaged models, preparing them, finding them.

Importing this package is cheap; torch and transformers load only when a model does.
"""

from webtune.models.catalog import CATALOG, CatalogEntry, catalog_names, chatml_template, get_entry
from webtune.models.home import MARKER, is_prepared, models_dir, webtune_home
from webtune.models.prepare import locate_gguf, prepare_model, progress_bars, read_marker
from webtune.models.resolve import list_models, load_causal_lm, load_tokenizer, pick_device, resolve_model
from webtune.models.tiny import build_tiny_model, build_tokenizer

__all__ = [
    "CATALOG",
    "MARKER",
    "CatalogEntry",
    "build_tiny_model",
    "build_tokenizer",
    "catalog_names",
    "chatml_template",
    "get_entry",
    "is_prepared",
    "list_models",
    "load_causal_lm",
    "load_tokenizer",
    "locate_gguf",
    "models_dir",
    "pick_device",
    "prepare_model",
    "progress_bars",
    "read_marker",
    "resolve_model",
    "webtune_home",
]
