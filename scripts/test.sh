#!/usr/bin/env bash
# All tests: build nf-mlir, then run the lit/FileCheck suite with the
# GoogleTest binaries (through lit), the end-to-end pytest suite (compiled
# models checked numerically) and a fuzzing smoke run of each libFuzzer
# target (scripts/fuzz.sh), and print one summary line.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# nfmlir from python/ for the examples and scripts the tests run.
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
# python3-torch: the PyTorch importer's tests; Dask and Open MPI: the
# scale-out tests; pip, setuptools and venv: the package's install test
# (each skipped without them).
NF_EXTRA_PACKAGES="python3-torch python3-dask python3-distributed openmpi-bin libopenmpi-dev python3-mpi4py python3-pip python3-setuptools python3-venv ${NF_EXTRA_PACKAGES:-}" \
  bash scripts/setup.sh nf-opt nf-compile nf-translate nf-lsp-server nf_runtime NFUnitTests nf-doc || exit 1

lit_log=$(mktemp)
py_log=$(mktemp)
trap 'rm -f "$lit_log" "$py_log"' EXIT

echo "== lit (FileCheck + GoogleTest)"
/usr/lib/llvm-22/bin/lit -sv build/test 2>&1 | tee "$lit_log"
lit_status=${PIPESTATUS[0]}

echo "== pytest (end to end)"
/usr/bin/python3 -m pytest -q test/python 2>&1 | tee "$py_log"
py_status=${PIPESTATUS[0]}

echo "== fuzzing smoke run (scripts/fuzz.sh)"
fuzz_log=$(mktemp)
bash scripts/fuzz.sh 2>&1 | tee "$fuzz_log"
fuzz_status=${PIPESTATUS[0]}
fuzz_passed=$(grep -c "no crash$" "$fuzz_log")
rm -f "$fuzz_log"

lit_count() { sed -n "s/^ *$1: *\([0-9]*\).*/\1/p" "$lit_log" | head -n 1; }
py_count() { grep -Eo "[0-9]+ $1" "$py_log" | tail -n 1 | cut -d' ' -f1; }
lit_passed=$(lit_count Passed)
lit_failed=$(lit_count Failed)
py_passed=$(py_count passed)
py_failed=$(py_count failed)
py_errors=$(py_count error)
passed=$(( ${lit_passed:-0} + ${py_passed:-0} + fuzz_passed ))
failed=$(( ${lit_failed:-0} + ${py_failed:-0} + ${py_errors:-0} + (fuzz_status != 0) ))
echo "${passed} passed, ${failed} failed"
[ "$lit_status" -eq 0 ] && [ "$py_status" -eq 0 ] && [ "$fuzz_status" -eq 0 ]
