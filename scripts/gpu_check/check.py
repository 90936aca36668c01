#!/usr/bin/env python3
"""check.py BUNDLE --harness HARNESS [--threads N] [--no-bench]

Runs what scripts/gpu_check.sh prepare put in BUNDLE, with the dependency-free
runner HARNESS (scripts/gpu_check/harness.c), on this machine's GPU (or, for
an OpenCL bundle, PoCL) and prints one summary line per section:

  conformance/<case>/   ONNX conformance data sets: model.so, in_*.bin,
                        want_*.bin, case.txt; compared with the ONNX backend
                        tolerances (rtol 1e-3, atol 1e-5)
  models/<name>/        whole models: gpu.so, cpu.so, x.bin, ort.bin (ONNX
                        Runtime's output): gpu.so vs ONNX Runtime and vs
                        cpu.so run here, to 1e-4 relative; with timing
  train/<name>/         training: gpu.so, cpu.so (--train), x.bin,
                        labels.bin, steps.txt: the same train_steps on the
                        GPU and the CPU: the first loss to 1e-5, the last to
                        1e-2 and the parameters to 1e-2 (relative to
                        max(1, |p|)); with step times. Not closer: the GPU
                        and the CPU sum in different orders, and a ReLU
                        input or a pooling tie within rounding of 0 takes
                        the other branch, which then grows over the steps
                        (ConvNetJS: 3e-5 after 1 step, 5e-3 after 20).

Needs numpy. Exits 1 if anything failed.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

DTYPES = {"f32": "<f4", "f64": "<f8", "i64": "<i8", "i32": "<i4", "bool": "u1"}


def harness(args, *cmd):
    p = subprocess.run([args.harness, *cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return p.returncode, p.stdout.strip()


def rel_err(got, want):
    got, want = got.astype(np.float64), want.astype(np.float64)
    scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
    if not np.isfinite(got).all():
        return float("inf")
    return float(np.abs(got - want).max()) / scale if want.size else 0.0


def conformance(args, root):
    cases = sorted(os.listdir(root))
    failed = []
    for case in cases:
        d = os.path.join(root, case)
        outs = [l.split() for l in open(os.path.join(d, "case.txt")) if l.startswith("output")]
        ins = sorted((f for f in os.listdir(d) if f.startswith("in_")),
                     key=lambda f: int(f[3:-4]))
        got = [os.path.join(d, f"got_{o[1]}.bin") for o in outs]
        rc, out = harness(args, "run", os.path.join(d, "model.so"),
                          *[os.path.join(d, f) for f in ins], "--", *got)
        if rc != 0:
            failed.append(f"{case}: {out.splitlines()[-1] if out else rc}")
            continue
        for o, g in zip(outs, got):
            dt = DTYPES[o[2]]
            a = np.fromfile(g, dt)
            w = np.fromfile(os.path.join(d, f"want_{o[1]}.bin"), dt)
            if a.dtype.kind == "f":
                bad = ~((np.abs(a - w) <= 1e-5 + 1e-3 * np.abs(w)) | (np.isnan(a) & np.isnan(w)) |
                        (np.isinf(w) & (a == w)))
            else:
                bad = a != w
            if a.shape != w.shape or bad.any():
                i = int(np.argmax(bad)) if a.shape == w.shape else -1
                failed.append(f"{case}: output {o[1]} element {i}: {a.ravel()[i] if i >= 0 else a.shape}, "
                              f"expected {w.ravel()[i] if i >= 0 else w.shape}")
                break
    for f in failed:
        print("  FAIL", f)
    print(f"conformance: {len(cases) - len(failed)} passed, {len(failed)} failed")
    return not failed


def timing(out):
    for line in out.splitlines():
        if line.startswith("first run"):
            return line
    return ""


def models(args, root):
    ok = True
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        x = os.path.join(d, "x.bin")
        want = np.fromfile(os.path.join(d, "ort.bin"), "<f4")
        rep = [] if args.no_bench else ["--repeat", str(args.repeat)]
        rc, gout = harness(args, "run", os.path.join(d, "gpu.so"), *rep, x, "--",
                           os.path.join(d, "gpu_out.bin"))
        rc2, cout = harness(args, "run", os.path.join(d, "cpu.so"), *rep, "--threads",
                            str(args.threads), x, "--", os.path.join(d, "cpu_out.bin"))
        if rc or rc2:
            print(f"  FAIL {name}: {gout if rc else cout}")
            ok = False
            continue
        g = np.fromfile(os.path.join(d, "gpu_out.bin"), "<f4")
        c = np.fromfile(os.path.join(d, "cpu_out.bin"), "<f4")
        e1, e2 = rel_err(g, want), rel_err(g, c)
        # The same through the model's device memory (run_function_device).
        rc3, dout = harness(args, "device", os.path.join(d, "gpu.so"), x, "--",
                            os.path.join(d, "dev_out.bin"))
        e3 = rel_err(np.fromfile(os.path.join(d, "dev_out.bin"), "<f4"), g) if not rc3 \
            else float("inf")
        good = e1 <= 1e-4 and e2 <= 1e-4 and e3 <= 1e-6
        ok &= good
        print(f"model {name}: gpu vs onnxruntime {e1:.2e}, gpu vs cpu {e2:.2e}, "
              f"device memory vs host memory {e3:.2e} -> {'ok' if good else 'MISMATCH'}")
        if rc3:
            print(f"  FAIL {name} (device memory): {dout}")
        if not args.no_bench:
            print(f"  gpu: {timing(gout)}")
            print(f"  cpu ({args.threads} threads): {timing(cout)}")
    return ok


def train(args, root):
    ok = True
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        steps = open(os.path.join(d, "steps.txt")).read().split()[0]
        res = {}
        for dev in ("gpu", "cpu"):
            rc, out = harness(args, "train", os.path.join(d, f"{dev}.so"), os.path.join(d, "x.bin"),
                              os.path.join(d, "labels.bin"), steps,
                              os.path.join(d, f"{dev}_params.bin"))
            if rc:
                print(f"  FAIL {name} ({dev}): {out}")
                ok = False
                break
            losses = [float(l.split()[3]) for l in out.splitlines() if l.startswith("step ")]
            med = [l for l in out.splitlines() if l.startswith("train_step median")]
            res[dev] = (np.fromfile(os.path.join(d, f"{dev}_params.bin"), "<f4"), losses, med)
        else:
            gp, gl, gm = res["gpu"]
            cp, cl, cm = res["cpu"]
            e = rel_err(gp, cp)
            moved = len(gl) > 1 and gl[-1] < gl[0]
            first = abs(gl[0] - cl[0]) / max(1.0, abs(cl[0]))
            last = abs(gl[-1] - cl[-1]) / max(1.0, abs(cl[-1]))
            good = e <= 1e-2 and first <= 1e-5 and last <= 1e-2 and moved
            ok &= good
            print(f"train {name}: {steps} steps, loss {gl[0]:.4f} -> {gl[-1]:.4f} (cpu "
                  f"{cl[0]:.4f} -> {cl[-1]:.4f}); parameters gpu vs cpu {e:.2e} -> "
                  f"{'ok' if good else 'MISMATCH'}")
            print(f"  gpu: {gm[0] if gm else ''}")
            print(f"  cpu: {cm[0] if cm else ''}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--harness", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-bench", action="store_true")
    args = ap.parse_args()
    ok = True
    for section, fn in (("conformance", conformance), ("models", models), ("train", train)):
        root = os.path.join(args.bundle, section)
        if os.path.isdir(root):
            ok &= fn(args, root)
    print("gpu_check:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
