#!/usr/bin/env python3
"""Checks an ONNX model with onnx.checker and runs it with ONNX Runtime on
random inputs; prints one line per output: its name and shape."""
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    path = sys.argv[1]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64,
                 "tensor(int64)": np.int64, "tensor(int32)": np.int32}[i.type]
        feeds[i.name] = rng.standard_normal(shape).astype(dtype)
    outputs = session.run(None, feeds)
    for meta, value in zip(session.get_outputs(), outputs):
        if not np.all(np.isfinite(value)):
            sys.exit("output %s is not finite" % meta.name)
        print("output %s: %s" % (meta.name, "x".join(map(str, value.shape))))
    print("onnx ok: opset %d, %d nodes" %
          (model.opset_import[0].version, len(model.graph.node)))


if __name__ == "__main__":
    main()
