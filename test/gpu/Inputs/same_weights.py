#!/usr/bin/env python3
"""same_weights.py A.onnx B.onnx [--rtol R]: compares the initializers of two
ONNX models (cnnc --params=CKPT --emit=onnx exports of two trainings); prints
how many differ and the largest difference relative to max(1, max|A|), and
exits 1 if any is above R (default 1e-4) or the names differ."""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

a_path, b_path = sys.argv[1:3]
rtol = float(sys.argv[sys.argv.index("--rtol") + 1]) if "--rtol" in sys.argv else 1e-4
a = {t.name: numpy_helper.to_array(t) for t in onnx.load(a_path).graph.initializer}
b = {t.name: numpy_helper.to_array(t) for t in onnx.load(b_path).graph.initializer}
if sorted(a) != sorted(b):
    sys.exit(f"FAIL: different parameters: {sorted(a)} vs {sorted(b)}")
worst, worst_name = 0.0, ""
for name in sorted(a):
    scale = max(1.0, float(np.abs(a[name]).max()))
    err = float(np.abs(a[name].astype(np.float64) - b[name]).max()) / scale
    if err >= worst:
        worst, worst_name = err, name
print(f"{len(a)} parameters; largest relative difference {worst:.2e} ({worst_name}) "
      f"-> {'ok' if worst <= rtol else 'MISMATCH'}")
sys.exit(0 if worst <= rtol else 1)
