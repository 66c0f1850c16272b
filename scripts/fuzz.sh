#!/usr/bin/env bash
# libFuzzer runs of the targets in test/fuzz/ (docs/robustness.md):
#   nf-fuzz-ir   MLIR text -> parse, verify, the CPU pipeline, LLVM IR
#   nf-fuzz-abi  calls of the C entries of compiled example models
#
#   scripts/fuzz.sh                smoke: NF_FUZZ_SECONDS (60) per target,
#                                  in build/ (what CI runs)
#   scripts/fuzz.sh --long [SECS]  SECS (3600) per target in the sanitizer
#                                  build build-san/ (ASan, UBSan, coverage),
#                                  keeping the corpus in build-san/fuzz/
#
# The seeds are examples/*.mlir and every test/**/*.mlir split at
# `// -----`. The inputs in test/fuzz/regressions/<target>/ (past crashes)
# run first. A crash stops the run; its input is written to
# <build>/fuzz/crashes/ and the script fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${NF_FUZZ_SECONDS:-60}
if [ "${1:-}" = --long ]; then
  seconds=${2:-3600}
  build=build-san
  bash scripts/sanitize.sh --build nf-compile nf_runtime nf-fuzz-ir nf-fuzz-abi
  export ASAN_OPTIONS=detect_leaks=0
else
  build=build
  bash scripts/setup.sh nf-compile nf_runtime nf-fuzz-ir nf-fuzz-abi
fi
work=$build/fuzz
mkdir -p "$work/corpus/nf-fuzz-ir" "$work/corpus/nf-fuzz-abi" \
  "$work/crashes" "$work/seeds" "$work/models"

# Seeds: whole examples and each split section of the lit tests.
rm -f "$work/seeds"/*
for file in examples/*.mlir; do
  cp "$file" "$work/seeds/example-$(basename "$file")"
done
find test -name '*.mlir' | sort | while read -r file; do
  awk -v out="$work/seeds/$(echo "$file" | tr / _)" '
    /^\/\/ -----/ { part++; next }
    { print > (out "." part ".mlir") }' "$file"
done

# The models whose C entries are fuzzed: exact, conditional, surjective,
# bound (VAE), f64 stochastic (SNF), sequential and iterative inverses.
for model in realnvp2d conditional_realnvp abs_flow vae_flow_prior \
  snf_double_well maf iresnet; do
  [ "$work/models/lib$model.so" -nt "$build/bin/nf-compile" ] ||
    "$build/bin/nf-compile" "examples/$model.mlir" \
      -o "$work/models/lib$model.so"
done
export NF_FUZZ_MODELS=$PWD/$work/models

status=0
run() {
  local target=$1
  shift
  local regressions=(test/fuzz/regressions/$target/*)
  if [ -e "${regressions[0]}" ]; then
    echo "== $target: ${#regressions[@]} regression inputs"
    "$build/bin/$target" "${regressions[@]}" >"$work/$target.log" 2>&1 || {
      tail -n 30 "$work/$target.log"
      return 1
    }
  fi
  echo "== $target: ${seconds} s"
  if ! "$build/bin/$target" "$work/corpus/$target" "$@" \
    -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 -keep_seed=1 \
    -print_final_stats=1 -artifact_prefix="$work/crashes/$target-" \
    >"$work/$target.log" 2>&1; then
    tail -n 40 "$work/$target.log"
    return 1
  fi
  local runs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
  echo "$target: $runs executions in $seconds s, no crash"
}
run nf-fuzz-ir "$work/seeds" -max_len=65536 || status=1
run nf-fuzz-abi -max_len=4096 || status=1
exit $status
