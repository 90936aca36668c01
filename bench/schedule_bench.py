#!/usr/bin/env python3
"""Schedules compared: cnnc's own (the fuse and schedule passes) against
Halide's autoschedulers and against no fusion, on the same ONNX models.

For each model and each variant (`manual`: cnnc's default; `nofuse`:
`--fuse=off`; `mullapudi2016`, `adams2019`, `li2018`: `--schedule=<name>`),
compiles the model (compile wall time), checks one seeded input against
ONNX Runtime (max abs difference relative to the largest |ORT| output,
flagged above 1e-3), and times batch-1 inference with `cnnc-bench` at the
given thread count: rounds alternate over the variants, each a fresh
process with its own warm-up, and the table gives the median over rounds
and the ratio to `manual` (below 1: faster than cnnc's own schedule).

    python3 bench/schedule_bench.py --models lenet5 resnet20_cifar resnet18 --threads 1

Models come from bench/infer_bench.py's list and cache (build/bench-models,
written by bench/export_models.py). A variant that fails to compile or
computes wrong values is reported as such, with its error.
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import infer_bench as ib  # noqa: E402

VARIANTS = {
    "manual": [],
    "nofuse": ["--fuse=off"],
    "mullapudi2016": ["--schedule=mullapudi2016"],
    "adams2019": ["--schedule=adams2019"],
    "li2018": ["--schedule=li2018"],
}


def describe(chk):
    if "error" in chk:
        return "run failed: " + chk["error"].splitlines()[-1]
    verdict = "ok" if chk["rel"] <= 1e-3 else "MISMATCH"
    return f"{chk['rel']:.1e} relative ({verdict})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+",
                    default=["lenet5", "convnetjs_cifar10", "resnet20_cifar",
                             "resnet18"])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS),
                    choices=list(VARIANTS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=0,
                    help="timed runs per measurement (0: about 0.5 s worth)")
    ap.add_argument("--bin", default=os.path.join(ib.REPO, "build", "bin"))
    ap.add_argument("--model-dir",
                    default=os.path.join(ib.REPO, "build", "bench-models"))
    ap.add_argument("--python-torch", default="/usr/bin/python3")
    ap.add_argument("--compile-timeout", type=int, default=900)
    ap.add_argument("--out", default=None, help="also write the table here")
    args = ap.parse_args()

    import numpy as np  # noqa: F401
    import onnxruntime as ort

    cnnc = os.path.join(args.bin, "cnnc")
    bench = os.path.join(args.bin, "cnnc-bench")
    run = os.path.join(args.bin, "cnnc-run")
    os.makedirs(args.model_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="cnnc_schedule_bench_")
    rows = []
    for key in args.models:
        label, _, shape = ib.MODELS[key]
        path, err = ib.prepare_onnx(key, cnnc, args.model_dir, args.python_torch)
        if err:
            sys.exit(f"{key}: cannot get the ONNX model: {err}")
        sess = ib.make_session(ort, path, args.threads)
        built = {}
        for v in args.variants:
            so = os.path.join(work, f"{key}_{v}.so")
            t0 = time.perf_counter()
            try:
                r = ib.run_cmd([cnnc, path, "-o", so] + VARIANTS[v],
                               timeout=args.compile_timeout)
                ok, msg = r.returncode == 0, (r.stderr or r.stdout).strip()
            except Exception as e:  # timeout
                ok, msg = False, str(e)
            dt = time.perf_counter() - t0
            if not ok:
                last = msg.splitlines()[-1] if msg else "?"
                print(f"{key} {v}: compile failed: {last}", flush=True)
                built[v] = {"compile": dt, "error": last}
                continue
            chk = ib.check_outputs(run, so, sess, shape, work)
            built[v] = {"so": so, "compile": dt, "check": chk, "ms": []}
            print(f"{key} {v}: compiled in {dt:.1f} s, {describe(chk)}",
                  flush=True)
        runs = args.runs
        if not runs and "manual" in built and "so" in built["manual"]:
            one = ib.measure_cnnc(bench, built["manual"]["so"], args.threads, 1, 3)
            runs = max(3, min(200, int(0.5 / max(one / 1000, 1e-6))))
        runs = runs or 10
        for rnd in range(args.rounds):
            for v in args.variants:
                b = built[v]
                if "so" not in b:
                    continue
                b["ms"].append(ib.measure_cnnc(bench, b["so"], args.threads,
                                               max(1, runs // 10), runs))
            print(f"{key} round {rnd + 1}: " + ", ".join(
                f"{v} {built[v]['ms'][-1]:.3f}" for v in args.variants
                if built[v].get("ms")), flush=True)
        base = (statistics.median(built["manual"]["ms"])
                if built.get("manual", {}).get("ms") else None)
        for v in args.variants:
            b = built[v]
            if "so" not in b:
                rows.append((label, v, f"{b['compile']:.1f}", "-", "-",
                             f"compile failed: {b['error']}"))
                continue
            med = statistics.median(b["ms"])
            chk = b["check"]
            rows.append((label, v, f"{b['compile']:.1f}", f"{med:.3f}",
                         f"{med / base:.2f}" if base else "-", describe(chk)))
    lines = [
        f"# Schedules: cnnc's own against Halide's autoschedulers ({datetime.date.today()})",
        "",
        f"- {ib.machine_info()[0]}, {ib.machine_info()[1]} CPUs; cnnc at git "
        f"{ib.git_rev()}; batch 1, "
        f"{args.threads} thread(s), median of {args.rounds} alternating rounds",
        "",
        "| Model | Schedule | compile s | ms | ÷ manual | output vs ORT |",
        "|---|---|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
