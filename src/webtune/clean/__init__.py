"""clean: extraction, normalisation, quality filters, PII redaction and deduplication."""
