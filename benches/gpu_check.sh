#!/usr/bin/env bash
# On a machine with a CUDA GPU: device placement, the neural reproductions at --scale 4 on cuda, and GPT
# tokens per second against this machine's CPU (benches/gpu_check.py says what each part does).
# Usage: bash benches/gpu_check.sh [--scale 4] [--replicates 1] [--out results/gpu-check] [--only NAME,...]
# Record what it prints in docs/neural.md ("On a GPU"). Never a test dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec "$PYTHON" benches/gpu_check.py "$@"
