#!/usr/bin/env bash
# The main job: build nf-mlir, compile the example flow to a native library
# with nf-compile, then sample it, evaluate log_prob, print throughput and
# write a picture of its samples and density (out/realnvp2d.png). Then train
# a 2-D spline flow in PyTorch, import and compile it, and draw training
# data, compiled samples and compiled density (out/two_moons.png), with its
# log_prob throughput against PyTorch eager.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NF_EXTRA_PACKAGES="python3-torch ${NF_EXTRA_PACKAGES:-}" bash scripts/setup.sh nf-opt nf-compile nf_runtime

echo "== nf-opt examples/realnvp2d.mlir --nf-model-summary"
build/bin/nf-opt examples/realnvp2d.mlir --nf-model-summary -o /dev/null
echo "== nf-compile examples/realnvp2d.mlir -o build/examples/librealnvp2d.so"
mkdir -p build/examples
build/bin/nf-compile examples/realnvp2d.mlir -o build/examples/librealnvp2d.so
echo "== running it"
/usr/bin/python3 examples/run_compiled.py build/examples/librealnvp2d.so out/realnvp2d.png
echo "== examples/train_and_compile.py: PyTorch -> nfmlir.from_torch -> nf-compile"
/usr/bin/python3 examples/train_and_compile.py out/two_moons.png
