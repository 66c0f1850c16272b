#!/usr/bin/env bash
# All tests: build nf-mlir, then run the lit/FileCheck suite and the
# GoogleTest binaries (through lit), and print one summary line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh nf-opt NFUnitTests nf-doc

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
/usr/lib/llvm-22/bin/lit -sv build/test 2>&1 | tee "$log" || status=$?

count() { sed -n "s/^ *$1: *\([0-9]*\).*/\1/p" "$log" | head -n 1; }
passed=$(count Passed)
failed=$(count Failed)
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
