#!/usr/bin/env python3
"""Compile a model from make_models.py with cnnc and compare with ONNX Runtime.

  compare_ort.py --model NAME --tmp DIR [--arm CLASSIFY_C] [--gpu API]
                 [--perturb EPS]

Builds DIR/NAME.onnx, runs it on one random input under ONNX Runtime
(CPUExecutionProvider) and as a cnnc-compiled library (`cnnc` and `cnnc-run`
from PATH), and fails unless max|cnnc - ort| <= 1e-4 * max(1, max|ort|).

--arm also compiles the model with --target=arm-64-linux --name=m, builds
CLASSIFY_C (examples/c/classify.c) against it with aarch64-linux-gnu-gcc,
runs it under qemu-aarch64 and holds its output to the same bound against
both ONNX Runtime and the host-compiled library.
--gpu opencl (or cuda) also compiles the model with --target=host-opencl
(host-cuda), runs it with cnnc-run, and holds its output to the same bound
against both ONNX Runtime and the host-compiled library.
--perturb adds EPS to cnnc's outputs: a check that the comparison can fail.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models  # noqa: E402

RTOL = 1e-4
QEMU_SYSROOT = "/usr/aarch64-linux-gnu"


def run(cmd, cwd=None):
    print("+", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: exit status {p.returncode} from {cmd[0]}:\n{p.stdout}")
    return p.stdout


def compare(what, got, ref):
    """Prints the error of got against ref; returns whether it is in bounds."""
    got = np.asarray(got, np.float32)
    if got.shape != ref.shape:
        print(f"{what}: shape {list(got.shape)}, expected {list(ref.shape)}")
        return False
    scale = max(1.0, float(np.max(np.abs(ref))))
    err = float(np.max(np.abs(got.astype(np.float64) - ref)))
    ok = bool(np.isfinite(got).all()) and err <= RTOL * scale
    print(f"{what}: max abs error {err:.3g}, relative {err / scale:.3g}, "
          f"max|ref| {float(np.max(np.abs(ref))):.4g} -> {'ok' if ok else 'MISMATCH'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=sorted(make_models.MODELS))
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--arm", metavar="CLASSIFY_C")
    ap.add_argument("--gpu", choices=["opencl", "cuda"])
    ap.add_argument("--perturb", type=float, default=0.0)
    ap.add_argument("--cnnc-flag", action="append", default=[],
                    help="an extra flag for the host compile (repeatable), "
                         "e.g. --cnnc-flag=--schedule=adams2019")
    args = ap.parse_args()

    os.makedirs(args.tmp, exist_ok=True)
    path = os.path.join(args.tmp, args.model + ".onnx")
    model = make_models.MODELS[args.model]()
    onnx.save(model, path)

    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = (np.random.default_rng(1234).standard_normal(dims) * 2).astype(np.float32)
    xpath = os.path.join(args.tmp, "x.npy")
    np.save(xpath, x)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {model.graph.input[0].name: x})[0].astype(np.float64)

    lib, ypath = os.path.join(args.tmp, "model.so"), os.path.join(args.tmp, "y.npy")
    run(["cnnc", path, "-o", lib] + args.cnnc_flag)
    run(["cnnc-run", lib, "--input", xpath, "--output", ypath, "--quiet"])
    host = np.load(ypath) + np.float32(args.perturb)
    ok = compare(f"{args.model}: cnnc vs onnxruntime", host, ref)

    if args.arm:
        arm = os.path.join(args.tmp, "arm")
        os.makedirs(arm, exist_ok=True)
        run(["cnnc", path, "--target=arm-64-linux", "--name=m", "-o", os.path.join(arm, "m.so")])
        # Linked from its own directory: the library has no DT_SONAME, so the
        # path given here is what the executable records as DT_NEEDED.
        run(["aarch64-linux-gnu-gcc", "-DMODEL=m", "-I.", os.path.abspath(args.arm), "m.so",
             "-Wl,-rpath,$ORIGIN", "-o", "classify"], cwd=arm)
        x.astype("<f4").tofile(os.path.join(arm, "in.f32"))
        print(run(["qemu-aarch64", "-L", QEMU_SYSROOT, "./classify", "in.f32", "out.f32"], cwd=arm),
              end="")
        out = np.fromfile(os.path.join(arm, "out.f32"), "<f4")
        if out.size != ref.size:
            sys.exit(f"FAIL: {out.size} floats from the ARM build, expected {ref.size}")
        out = out.reshape(ref.shape) + np.float32(args.perturb)
        ok &= compare(f"{args.model}: arm-64 vs onnxruntime", out, ref)
        ok &= compare(f"{args.model}: arm-64 vs host cnnc", out, host.astype(np.float64))

    if args.gpu:
        glib, gy = os.path.join(args.tmp, "gpu.so"), os.path.join(args.tmp, "gpu.npy")
        run(["cnnc", path, f"--target=host-{args.gpu}", "-o", glib])
        run(["cnnc-run", glib, "--input", xpath, "--output", gy, "--quiet"])
        out = np.load(gy) + np.float32(args.perturb)
        ok &= compare(f"{args.model}: {args.gpu} vs onnxruntime", out, ref)
        ok &= compare(f"{args.model}: {args.gpu} vs host cnnc", out, host.astype(np.float64))

    if not ok:
        sys.exit(f"FAIL: {args.model} differs by more than {RTOL} relative")
    print(f"PASS: {args.model}")


if __name__ == "__main__":
    main()
