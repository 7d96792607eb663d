"""evaluate: the base model against the tuned one on held-out examples."""
