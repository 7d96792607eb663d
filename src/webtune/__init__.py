"""webtune: web data in, a fine-tuned, evaluated, versioned language model out."""

__version__ = "0.1.0"
