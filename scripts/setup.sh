#!/usr/bin/env bash
# Installs what is missing (Debian bookworm, run as root), then configures
# and builds nf-mlir into build/. Sourced by the Quick-start scripts.
#   scripts/setup.sh TARGETS...   install, configure, build TARGETS
#   scripts/setup.sh --packages   only install
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# liblld-22-dev and libclang-22-dev: nf-compile links and compiles the glue
# in-process (lld and Clang's frontend as libraries).
PACKAGES=(cmake ninja-build clang-22 lld-22 llvm-22-dev llvm-22-tools
          libmlir-22-dev mlir-22-tools libclang-rt-22-dev libgtest-dev
          liblld-22-dev libclang-22-dev python3
          python3-numpy
          python3-pytest ${NF_EXTRA_PACKAGES:-})
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
    grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "${1:-}" = --packages ] && exit 0

echo "== configuring build/"
cmake -G Ninja -S . -B build -Wno-dev \
  -DCMAKE_BUILD_TYPE=Release \
  -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DLLVM_USE_LINKER=lld >/dev/null
echo "== building"
cmake --build build --target "$@"
