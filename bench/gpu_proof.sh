#!/usr/bin/env bash
# The GPU proof in one go (see bench/gpu_proof.py): the gpu-marked tests, a random 1.1B Llama in
# bf16 on packed rows (tokens/s, MFU, peak memory vs the memory planner), the demo pipeline in
# bf16, and the TRL head-to-head. Needs a CUDA build of torch; downloads nothing.
#   bash bench/gpu_proof.sh                       # everything (about 6-8 minutes on an H100/H200)
#   bash bench/gpu_proof.sh --parts gpu_tests,llama_1b
# PYTHON picks the interpreter (default: .venv/bin/python, else python3). Results: bench/gpu_proof.json
# (and $OUT/gpu_proof.json when $OUT is set).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi: not found"
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
exec "$PYTHON" bench/gpu_proof.py "$@"
