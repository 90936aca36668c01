#!/usr/bin/env bash
#===- scripts/gpu_check.sh - check cnnc's GPU artifacts on a GPU machine ---===#
#
#   bash scripts/gpu_check.sh                 # both steps, on one machine
#   bash scripts/gpu_check.sh prepare [T]     # here: compile the bundle
#   bash scripts/gpu_check.sh run [BUNDLE]    # on the GPU machine: run it
#
# prepare (needs a build: bash scripts/setup.sh) compiles, for the Halide
# target T (default host-cuda; host-opencl runs on PoCL):
#   - every ONNX conformance test in test/onnx-node/enabled.txt
#     (cnnc-conformance --export),
#   - the whole-model tests' networks, for T and for the CPU, with ONNX
#     Runtime's outputs,
#   - LeNet-5 and the ConvNetJS CIFAR-10 net with --train, for T and the CPU,
# with the dependency-free runner (scripts/gpu_check/harness.c) into
# build/gpu-bundle, and packs it as build/gpu-bundle.tar.xz.
#
# run unpacks the bundle if needed and runs scripts/gpu_check/check.py: the
# conformance outputs against the ONNX data, the models against ONNX Runtime
# and the CPU, training steps against the CPU's, and the GPU's times against
# the CPU's. It needs only a C library, python3 and numpy, so the GPU machine
# needs neither Halide nor LLVM. About 5 minutes in all.
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=build/gpu-bundle

prepare() {
  local target=${1:-host-cuda}
  [ -x build/bin/cnnc ] || { echo "gpu_check: build first (bash scripts/setup.sh)" >&2; exit 1; }
  rm -rf "$BUNDLE" "$BUNDLE.tar.xz"
  mkdir -p "$BUNDLE"
  cc -O2 -Iruntime scripts/gpu_check/harness.c -o "$BUNDLE/harness" -ldl
  echo "gpu_check: conformance tests for $target"
  build/bin/cnnc-conformance --list test/onnx-node/enabled.txt --target "$target" \
    --export "$BUNDLE/conformance" --shard 0/2 &
  local pid=$!
  build/bin/cnnc-conformance --list test/onnx-node/enabled.txt --target "$target" \
    --export "$BUNDLE/conformance" --shard 1/2
  wait $pid
  echo "gpu_check: models and training for $target"
  python3 scripts/gpu_check/prepare.py --out "$BUNDLE" --target "$target"
  echo "$target" > "$BUNDLE/target.txt"
  tar -C build -cJf "$BUNDLE.tar.xz" gpu-bundle
  echo "gpu_check: $BUNDLE.tar.xz ($(du -h "$BUNDLE.tar.xz" | cut -f1))"
}

run() {
  local bundle=${1:-$BUNDLE}
  if [ ! -d "$bundle" ] && [ -f "$bundle.tar.xz" ]; then
    tar -C "$(dirname "$bundle")" -xJf "$bundle.tar.xz"
  fi
  [ -d "$bundle" ] || { echo "gpu_check: no bundle at $bundle (run prepare)" >&2; exit 1; }
  echo "gpu_check: target $(cat "$bundle/target.txt")"
  command -v nvidia-smi >/dev/null && nvidia-smi -L || true
  # The harness from prepare runs on any newer glibc; rebuild it if this
  # machine has a compiler and the source.
  if command -v cc >/dev/null && [ -f scripts/gpu_check/harness.c ]; then
    cc -O2 -Iruntime scripts/gpu_check/harness.c -o "$bundle/harness" -ldl
  fi
  python3 scripts/gpu_check/check.py "$bundle" --harness "$bundle/harness"
}

case "${1:-all}" in
  prepare) prepare "${2:-}" ;;
  run) run "${2:-}" ;;
  all) prepare "${2:-}"; run ;;
  *) echo "usage: scripts/gpu_check.sh [prepare [TARGET] | run [BUNDLE]]" >&2; exit 2 ;;
esac
