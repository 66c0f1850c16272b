#!/usr/bin/env bash
# The main job: build nf-mlir, compile the example flow to a native library
# with nf-compile, then sample it, evaluate log_prob, print throughput and
# write a picture of its samples and density (out/realnvp2d.png).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh nf-opt nf-compile nf_runtime

echo "== nf-opt examples/realnvp2d.mlir --nf-model-summary"
build/bin/nf-opt examples/realnvp2d.mlir --nf-model-summary -o /dev/null
echo "== nf-compile examples/realnvp2d.mlir -o build/examples/librealnvp2d.so"
mkdir -p build/examples
build/bin/nf-compile examples/realnvp2d.mlir -o build/examples/librealnvp2d.so
echo "== running it"
/usr/bin/python3 examples/run_compiled.py build/examples/librealnvp2d.so out/realnvp2d.png
