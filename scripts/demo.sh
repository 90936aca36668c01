#!/usr/bin/env bash
#===- scripts/demo.sh - set up, build, and run the demo -------------------===#
# Installs everything (scripts/setup.sh), builds cnnc, then shows the bundled
# LeNet-5: its per-layer summary, its IR, and a compiled library run on an
# input.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=build/bin
out=build/demo
mkdir -p "$out"
echo "== cnnc examples/lenet5.cnn --summary"
"$bin/cnnc" examples/lenet5.cnn --summary
echo
echo "== cnnc examples/lenet5.cnn --emit=ir (first lines)"
"$bin/cnnc" examples/lenet5.cnn --emit=ir -o "$out/lenet5.cnnir"
head -n 8 "$out/lenet5.cnnir"
echo
echo "== cnnc examples/lenet5.cnn -o $out/lenet5.so"
"$bin/cnnc" examples/lenet5.cnn -o "$out/lenet5.so"
python3 - "$out/x.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32))
PY
echo "== cnnc-run $out/lenet5.so --input $out/x.npy"
"$bin/cnnc-run" "$out/lenet5.so" --input "$out/x.npy"
