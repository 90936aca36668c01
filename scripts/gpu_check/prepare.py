#!/usr/bin/env python3
"""prepare.py --out DIR --target TARGET [--cnnc PATH] [--onnx FILE...] [--only-onnx]

Builds the models and training parts of a GPU check bundle (check.py): the
whole-model tests' networks (test/models/Inputs/make_models.py) compiled
for TARGET (gpu.so) and for the host CPU (cpu.so), with a seeded random
input and ONNX Runtime's output on it; and LeNet-5 and the ConvNetJS
CIFAR-10 net compiled with --train (momentum, batch 64) for both, with a
seeded random batch. --onnx adds more ONNX models (e.g. bench/
export_models.py's, batch 1) to the models; --only-onnx leaves out the
built-in ones and the training. Needs cnnc, numpy, onnx and onnxruntime
here; the machine that runs check.py needs only numpy.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "test", "models", "Inputs"))
import make_models  # noqa: E402

TRAIN = {"lenet5": (1, 28, 28), "convnetjs_cifar10": (3, 32, 32)}


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode:
        sys.exit(f"prepare: {' '.join(cmd)} failed:\n{p.stdout}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--cnnc", default=os.path.join(ROOT, "build", "bin", "cnnc"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--onnx", nargs="*", default=[])
    ap.add_argument("--only-onnx", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(2026)

    models = [] if args.only_onnx else sorted(make_models.MODELS.items())
    models += [(os.path.splitext(os.path.basename(f))[0], lambda f=f: onnx.load(f))
               for f in args.onnx]
    for name, build in models:
        d = os.path.join(args.out, "models", name)
        os.makedirs(d, exist_ok=True)
        model = build()
        path = os.path.join(d, "model.onnx")
        onnx.save(model, path)
        dims = [x.dim_value for x in model.graph.input[0].type.tensor_type.shape.dim]
        x = (rng.standard_normal(dims) * 2).astype("<f4")
        x.tofile(os.path.join(d, "x.bin"))
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        y = sess.run(None, {model.graph.input[0].name: x})[0]
        y.astype("<f4").tofile(os.path.join(d, "ort.bin"))
        # The weights once, outside both libraries (a bundle must stay small):
        # each finds NAME.weights next to itself, cpu.weights links to gpu's.
        ext = ["--weights=external"] if os.path.getsize(path) > (1 << 20) else []
        run([args.cnnc, path, f"--target={args.target}", *ext, "-o", os.path.join(d, "gpu.so")])
        run([args.cnnc, path, *ext, "-o", os.path.join(d, "cpu.so")])
        if ext:
            os.remove(os.path.join(d, "cpu.weights"))
            os.symlink("gpu.weights", os.path.join(d, "cpu.weights"))
        os.remove(path)
        print(f"prepare: model {name}")

    for name, chw in ([] if args.only_onnx else TRAIN.items()):
        d = os.path.join(args.out, "train", name)
        os.makedirs(d, exist_ok=True)
        src = os.path.join(ROOT, "examples", name + ".cnn")
        common = [src, "--train", f"--batch={args.batch}", "--optimizer=momentum"]
        run([args.cnnc, *common, f"--target={args.target}", "-o", os.path.join(d, "gpu.so")])
        run([args.cnnc, *common, "-o", os.path.join(d, "cpu.so")])
        rng.standard_normal((args.batch, *chw)).astype("<f4").tofile(os.path.join(d, "x.bin"))
        rng.integers(0, 10, args.batch).astype("<i8").tofile(os.path.join(d, "labels.bin"))
        with open(os.path.join(d, "steps.txt"), "w") as f:
            f.write(f"{args.steps}\n")
        print(f"prepare: train {name}")


if __name__ == "__main__":
    main()
