#!/bin/bash
# The GPU check of the CUDA target, on a machine with an NVIDIA GPU, numpy
# and PyTorch with CUDA (no LLVM needed there). First, on the build machine:
#   /usr/bin/python3 bench/gpu_check.py prepare     # writes gpu-check/
# then carry gpu-check/ with the tree and run this script there. It checks
# every example's device entries against the CPU results and times nf-mlir
# against PyTorch eager and torch.compile (bench/gpu_check.py); under 5 min.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d gpu-check ]; then
  echo "gpu_check.sh: gpu-check/ is missing; make it on the build machine with" \
    "'/usr/bin/python3 bench/gpu_check.py prepare' and carry it along" >&2
  exit 2
fi
export PYTHONUNBUFFERED=1
exec timeout 290 python3 bench/gpu_check.py run "$@"
