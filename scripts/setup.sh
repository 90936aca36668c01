#!/usr/bin/env bash
#===- scripts/setup.sh - install cnnc's dependencies on Debian 12 and build -===#
# Idempotent. Run as root on a fresh Debian 12 machine:
#   bash scripts/setup.sh            # install dependencies, configure, build
#   bash scripts/setup.sh --no-build # install dependencies only
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build git python3 python3-pip
  libhalide14-0-dev llvm-14-dev lld-14 llvm-14-tools
  protobuf-compiler libprotobuf-dev libonnx-dev libonnx-testdata
  dataset-fashion-mnist libgtest-dev zlib1g-dev
  clang-14 g++-aarch64-linux-gnu qemu-user valgrind
  pocl-opencl-icd ocl-icd-libopencl1
)
# OpenCL models run in the tests on the CPU through PoCL. ptxas (the CUDA
# toolkit, /usr/local/cuda) assembles CUDA models' PTX in the tests when it
# is there; CUDA models run only on a GPU machine (scripts/gpu_check.sh).

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python test tooling: lit is in llvm-14-tools; onnx/onnxruntime/numpy are the oracles.
# Debian's own python3 refuses pip installs into the system (PEP 668) unless
# told otherwise; a python3 from elsewhere (pyenv, venv) takes them as is.
if ! python3 -c 'import numpy, onnx, onnxruntime' 2>/dev/null; then
  python3 -m pip install --quiet numpy onnx onnxruntime ||
    python3 -m pip install --quiet --break-system-packages numpy onnx onnxruntime
fi

if [ "${1:-}" != "--no-build" ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build build
fi
