#!/usr/bin/env bash
#===- scripts/test.sh - build and run the whole test suite ----------------===#
# ctest drives the gtest units and lit (every .cnn/.cnnir/.onnxtxt under test/).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j2 "$@"
