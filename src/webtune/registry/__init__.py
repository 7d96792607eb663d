"""registry: versions of tuned models with lineage, promotion gates and rollback."""
