"""webtune: web data in, a fine-tuned, evaluated, versioned language model out."""

import os

# OpenMP threads that spin while waiting collapse torch's speed on a shared or busy CPU
# (measured: a small generation took 136 s spinning against 8 s passive). Set before torch
# is imported anywhere; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
