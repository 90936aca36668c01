#!/usr/bin/env python3
"""ort_agrees.py MODEL.onnx X.npy Y.npy: runs MODEL.onnx in ONNX Runtime on
X (row by row) and compares with Y (cnnc's output): the argmax of every row and the
largest absolute difference."""
import sys

import numpy as np
import onnxruntime as ort

model, x_path, y_path = sys.argv[1:4]
x, y = np.load(x_path), np.load(y_path)
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
# A model exported with batch 1 runs one row at a time.
ref = np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])
same = int((ref.argmax(1) == y.argmax(1)).sum())
print(f"same argmax for {same} of {len(y)} inputs, "
      f"max abs difference {np.abs(ref - y).max():.2e}")
sys.exit(0 if same == len(y) else 1)
