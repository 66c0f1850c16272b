#!/usr/bin/env bash
# The main job: build nf-mlir, compile the example flow to a native library
# with nf-compile, then sample it, evaluate log_prob, print throughput and
# draw a figure of its samples and density (out/realnvp2d.png). Run two
# models with surjective and stochastic layers (abs flow, VAE with a flow
# prior: ELBO and IWAE estimates) and a stochastic normalizing flow on the
# double well (RealNVP trained in PyTorch + Metropolis steps: free-energy
# errors unweighted and reweighted). Then train
# a 2-D spline flow in PyTorch, import and compile it, and draw training
# data, compiled samples, compiled density and its log-density error against
# PyTorch (out/two_moons.png), with its log_prob throughput against PyTorch
# eager. Figures: matplotlib (python3-matplotlib).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# nfmlir from python/ for the examples.
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
NF_EXTRA_PACKAGES="python3-torch python3-matplotlib ${NF_EXTRA_PACKAGES:-}" bash scripts/setup.sh nf-opt nf-compile nf_runtime

echo "== nf-opt examples/realnvp2d.mlir --nf-model-summary"
build/bin/nf-opt examples/realnvp2d.mlir --nf-model-summary -o /dev/null
echo "== nf-compile examples/realnvp2d.mlir -o build/examples/librealnvp2d.so"
mkdir -p build/examples
build/bin/nf-compile examples/realnvp2d.mlir -o build/examples/librealnvp2d.so
echo "== running it"
/usr/bin/python3 examples/run_compiled.py build/examples/librealnvp2d.so out/realnvp2d.png
echo "== surjective and stochastic layers: examples/abs_flow.mlir, examples/vae_flow_prior.mlir"
build/bin/nf-compile examples/abs_flow.mlir -o build/examples/libabs_flow.so
build/bin/nf-compile examples/vae_flow_prior.mlir -o build/examples/libvae_flow_prior.so
/usr/bin/python3 examples/run_surjective.py build/examples
echo "== examples/run_snf.py: a stochastic normalizing flow on the double well"
/usr/bin/python3 examples/run_snf.py
echo "== examples/train_and_compile.py: PyTorch -> nfmlir.from_torch -> nf-compile"
/usr/bin/python3 examples/train_and_compile.py out/two_moons.png
