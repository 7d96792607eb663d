"""train: fine-tune a base model locally (LoRA/QLoRA/full) or on a hosted API."""
