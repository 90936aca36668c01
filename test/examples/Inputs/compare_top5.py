#!/usr/bin/env python3
"""compare_top5.py CLASSIFY_TXT RUN_TXT Y_F32 R_NPY

Checks that examples/c/classify.c and cnnc-run agree on one input: the raw
float32 output of classify (Y_F32) equals cnnc-run's .npy (R_NPY) exactly,
and the top-5 classify printed (CLASSIFY_TXT) are the classes and scores of
cnnc-run's 'top-5:' line (RUN_TXT), scores to classify's 4 decimals.
"""
import re
import sys

import numpy as np

classify_txt, run_txt, y_f32, r_npy = sys.argv[1:5]
ranked = re.findall(r"^  (\d)\. class (\d+)  score (-?\d+\.\d{4})$", open(classify_txt).read(), re.M)
m = re.search(r"top-5: (.*)$", open(run_txt).read(), re.M)
if not m:
    sys.exit("no 'top-5:' line in " + run_txt)
top5 = re.findall(r"(\d+) \(([^)]+)\)", m.group(1))

if [int(r) for r, _, _ in ranked] != [1, 2, 3, 4, 5]:
    sys.exit(f"classify printed ranks {[r for r, _, _ in ranked]}, expected 1..5")
if [c for _, c, _ in ranked] != [c for c, _ in top5]:
    sys.exit(f"classes differ: classify {[c for _, c, _ in ranked]}, cnnc-run {[c for c, _ in top5]}")
for (_, c, s), (_, t) in zip(ranked, top5):
    if abs(float(s) - float(t)) > 0.5e-4 + 1e-6:
        sys.exit(f"class {c}: classify score {s}, cnnc-run {t}")

r = np.load(r_npy)
y = np.fromfile(y_f32, "<f4")
if y.size != r.size or not np.array_equal(y, r.reshape(-1)):
    sys.exit(f"classify's output differs from cnnc-run's: max error "
             f"{np.max(np.abs(y - r.reshape(-1))) if y.size == r.size else 'sizes differ'}")
print(f"top-5 classes {' '.join(c for _, c, _ in ranked)}: same as cnnc-run")
print(f"{r.size} outputs: identical")
