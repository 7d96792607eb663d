"""dataset: documents into validated chat training examples, split without leakage."""
