#!/usr/bin/env bash
# The main job: build nf-mlir, then run nf-opt on the example flow: verify
# and print it, and summarize its layers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh nf-opt

for model in examples/*.mlir; do
  echo "== nf-opt $model"
  build/bin/nf-opt "$model"
  echo "== nf-opt $model --nf-model-summary"
  build/bin/nf-opt "$model" --nf-model-summary -o /dev/null
done
