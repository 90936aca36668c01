#!/usr/bin/env python3
"""Writes DIR/model.onnx whose initializers live in external data files:
a Gemm weight at offset 16 of DIR/data/weights.bin and a bias in
DIR/bias.bin. MODE breaks it: 'missing' (no weights file), 'short' (the
file ends early), 'escape' (a location outside the model's directory)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper


def external(name, array, location, offset=0):
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(array.shape)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)),
                 ("length", str(array.nbytes))):
        entry = t.external_data.add()
        entry.key, entry.value = k, v
    return t


def main():
    out, mode = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "ok")
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([0.5, -0.5], dtype=np.float32)
    weights = b"\0" * 16 + w.tobytes()
    if mode == "short":
        weights = weights[:-4]
    path = os.path.join(out, "data", "weights.bin")
    if mode == "missing":
        if os.path.exists(path):
            os.remove(path)
    else:
        with open(path, "wb") as f:
            f.write(weights)
    with open(os.path.join(out, "bias.bin"), "wb") as f:
        f.write(b.tobytes())
    location = "../bias.bin" if mode == "escape" else "bias.bin"
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)],
        "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[external("w", w, "data/weights.bin", 16),
                     external("b", b, location)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())


if __name__ == "__main__":
    main()
