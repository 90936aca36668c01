#!/usr/bin/env python3
"""Training throughput: cnnc-compiled training artifacts against PyTorch eager.

For each model (LeNet-5, the ConvNetJS CIFAR-10 net, a CIFAR ResNet-20) and
each thread count, compiles the cnnc training artifact (`cnnc X.cnn --train
--optimizer=sgd`; for ResNet-20, which the network language cannot express,
the ONNX export of bench/export_models.py's `resnet20_cifar`), builds the
same network in PyTorch (NCHW float32, SGD lr 0.01, CrossEntropyLoss) and
measures both in the same run, alternating: each round
is one cnnc measurement (a fresh bench/train_throughput process) followed by
one PyTorch measurement in this process, each with its own warm-up and the
median of its timed steps. The reported figure is the median over rounds.

    python3 bench/train_bench.py --threads 1 2 --batch 64

PyTorch is needed only here, not by the build or the tests. Debian's
python3-torch lives in /usr/bin/python3's dist-packages; when the `python3`
on PATH cannot import torch, the script re-executes itself with
/usr/bin/python3. --cnnc-only measures the cnnc half alone.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _maybe_reexec_for_torch():
    """Re-run under /usr/bin/python3 if only that interpreter has torch."""
    if "--cnnc-only" in sys.argv or os.environ.get("CNNC_BENCH_REEXEC"):
        return
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    syspy = "/usr/bin/python3"
    if os.path.realpath(sys.executable) == os.path.realpath(syspy):
        return
    if not os.path.exists(syspy):
        return
    probe = subprocess.run([syspy, "-c", "import torch"],
                           capture_output=True)
    if probe.returncode == 0:
        env = dict(os.environ, CNNC_BENCH_REEXEC="1")
        print(f"note: re-running with {syspy} (it has torch)",
              file=sys.stderr, flush=True)
        os.execve(syspy, [syspy] + sys.argv, env)


_maybe_reexec_for_torch()


# --- the models -------------------------------------------------------------

MODELS = {
    # key: (cnnc source, input C x H x W, classes). The source is a
    # network-language file, or "onnx:" and a model of export_models.py that
    # this script exports to ONNX (see export_onnx) and cnnc compiles.
    "lenet5": ("examples/lenet5.cnn", (1, 28, 28), 10),
    "convnetjs_cifar10": ("examples/convnetjs_cifar10.cnn", (3, 32, 32), 10),
    # ResNet-20 needs 1x1 stride-2 shortcuts on even sizes (32 -> 16), which
    # the network language rejects ((32 - 1) / 2 + 1 is not an integer).
    "resnet20_cifar": ("onnx:resnet20_cifar", (3, 32, 32), 10),
}

LABELS = {
    "lenet5": "LeNet-5 (1x28x28)",
    "convnetjs_cifar10": "ConvNetJS CIFAR-10 (3x32x32)",
    "resnet20_cifar": "ResNet-20 CIFAR (3x32x32)",
}


def _export_models():
    """bench/export_models.py as a module (its resnet20_cifar definition)."""
    here = os.path.join(REPO, "bench")
    if here not in sys.path:
        sys.path.insert(0, here)
    import export_models
    return export_models


def export_onnx(key, path, seed=1):
    """Writes the PyTorch twin of an "onnx:" model to path for cnnc.

    The model is exported in training mode (TrainingMode.PRESERVE on a
    model.train() module, no constant folding): in eval mode torch 1.13
    folds batch norm into the convolutions, and it also merges initializers
    with equal values (every batch norm's initial scale 1 and shift 0 of the
    same width would become one shared, tied parameter). In training mode
    each parameter stays its own initializer and each BatchNormalization
    keeps its running statistics (cnnc's --train uses batch statistics and
    updates them, as PyTorch's train mode does). Opset 13, batch dimension
    symbolic (cnnc's --batch sets it), input "input", output "output".
    With the same seed as measure_torch, both sides start from the same
    trainable weights. (The export's traced forward pass, on zeros in
    training mode, moves the exported running variances from 1 to 0.9; the
    step's cost does not depend on them.)"""
    import warnings
    import torch
    torch.manual_seed(seed)
    model = torch_model(key).train()
    x = torch.zeros((2,) + tuple(MODELS[key][1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # num_batches_tracked, folding
        torch.onnx.export(model, x, path, opset_version=13,
                          input_names=["input"], output_names=["output"],
                          do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE,
                          dynamic_axes={"input": {0: "batch"},
                                        "output": {0: "batch"}})


def cnnc_source(key, workdir):
    """(file cnnc reads, extra cnnc flags) of a model; exports "onnx:"
    models into workdir first."""
    src = MODELS[key][0]
    if not src.startswith("onnx:"):
        return src, []
    path = os.path.join(workdir, f"{key}.onnx")
    if not os.path.exists(path):
        try:
            import torch  # noqa: F401
        except ImportError:
            sys.exit(f"error: {key} is exported from PyTorch to ONNX for "
                     "cnnc: run with an interpreter that has torch "
                     "(/usr/bin/python3) or leave it out of --models")
        export_onnx(key, path)
    # An ONNX model names no loss.
    return path, ["--loss=softmax_cross_entropy"]


def torch_model(key):
    """The PyTorch twin of examples/<key>.cnn (layer by layer), or the
    PyTorch model that an "onnx:" source exports."""
    import torch.nn as nn
    if key == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, stride=1, padding=2),   # c1
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5, stride=1, padding=0),  # c2
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),                # f5
            nn.ReLU(),
            nn.Linear(120, 84),                        # f6
            nn.ReLU(),
            nn.Linear(84, 10),                         # out
        )
    if key == "convnetjs_cifar10":
        return nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=1, padding=2),   # conv1
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 20, 5, stride=1, padding=2),  # conv2
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(20, 20, 5, stride=1, padding=2),  # conv3
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Flatten(),
            nn.Linear(20 * 4 * 4, 10),                  # fc10
        )
    if key == "resnet20_cifar":
        # The same definition as the inference benchmark's ONNX export.
        return _export_models().resnet20_cifar()
    raise KeyError(key)


_TORCH_OP = {"Conv2d": "conv", "ReLU": "relu", "MaxPool2d": "max_pool",
             "Linear": "gemm", "BatchNorm2d": "batch_norm",
             "AdaptiveAvgPool2d": "global_avg_pool"}


def torch_layer_shapes(key, chw):
    """[(op, shape-without-batch)] of the PyTorch model in execution order
    (torch.fx trace: modules, and tensor additions as "add"), flatten
    skipped."""
    import operator
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp
    gm = torch.fx.symbolic_trace(torch_model(key).eval())
    with torch.no_grad():
        ShapeProp(gm).propagate(torch.zeros((1,) + tuple(chw)))
    out = []
    for n in gm.graph.nodes:
        if n.op in ("placeholder", "output"):
            continue
        if n.op == "call_module":
            name = type(gm.get_submodule(n.target)).__name__
        elif n.target in (operator.add, torch.add, "add"):
            name = "add"
        else:
            name = getattr(n.target, "__name__", str(n.target))
        if name.lower() == "flatten":
            continue
        out.append((_TORCH_OP.get(name, name),
                    tuple(n.meta["tensor_meta"].shape[1:])))
    return out


def cnnc_layer_shapes(cnnc, src):
    """[(op, shape-without-batch)] from `cnnc SRC --summary`, flatten
    skipped, plus the trainable parameter count it implies."""
    r = subprocess.run([cnnc, src, "--summary", "--batch", "1"],
                       capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"cnnc --summary failed:\n{r.stderr}")
    layers, trainable, bn_stats = [], None, 0
    for line in r.stdout.splitlines():
        m = re.match(r"trainable parameters:\s*([\d,]+)", line)
        if m:
            trainable = int(m.group(1).replace(",", ""))
            continue
        f = line.split()
        if len(f) >= 4 and re.fullmatch(r"\d+(x\d+)+", f[2]):
            if f[1] == "flatten":
                continue
            if f[1] == "batch_norm":
                # scale, bias, running mean, running var
                bn_stats += int(f[3].replace(",", "")) // 2
            dims = tuple(int(d) for d in f[2].split("x"))
            layers.append((f[1], dims[1:]))
    if trainable is not None and src.endswith(".onnx"):
        # --summary of an ONNX model counts every float initializer as
        # trainable, batch norm's running mean and var included; --train
        # freezes those (passes/Training.cpp), so the artifact has fewer.
        trainable -= bn_stats
    return layers, trainable


# --- cnnc -------------------------------------------------------------------

def run_checked(cmd, what, retries=0, retry_wait=20.0):
    """Runs cmd; on failure retries (the compiler may be mid-rebuild)."""
    for attempt in range(retries + 1):
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if r.returncode == 0:
            return r
        if attempt < retries:
            print(f"  {what} failed (rc {r.returncode}); retrying in "
                  f"{retry_wait:.0f} s", file=sys.stderr, flush=True)
            time.sleep(retry_wait)
    raise RuntimeError(f"{what} failed (rc {r.returncode}):\n"
                       f"$ {' '.join(cmd)}\n{r.stdout}{r.stderr}")


def build_throughput_tool(workdir):
    exe = os.path.join(workdir, "train_throughput")
    cc = os.environ.get("CC", "cc")
    run_checked([cc, "-O2", f"-I{REPO}",
                 os.path.join(REPO, "bench", "train_throughput.c"),
                 "-o", exe, "-ldl"], "building train_throughput")
    return exe


def compile_cnnc(cnnc, src, extra, key, batch, workdir):
    so = os.path.join(workdir, f"{key}_train.so")
    t0 = time.perf_counter()
    run_checked([cnnc, src, "--train", "--batch", str(batch),
                 "--optimizer=sgd"] + extra + ["-o", so],
                f"cnnc {MODELS[key][0]}", retries=3)
    return so, time.perf_counter() - t0


def measure_cnnc(tool, so, threads, warmup, iters, seed=1):
    r = run_checked([tool, so, "--threads", str(threads), "--warmup",
                     str(warmup), "--iters", str(iters), "--seed", str(seed)],
                    f"train_throughput {os.path.basename(so)}")
    fields = dict(kv.split("=", 1) for kv in r.stdout.split())
    return {"ips": float(fields["images_per_sec"]),
            "ms": float(fields["ms_per_step"]),
            "params": int(fields["params"]),
            "loss": float(fields["loss"])}


# --- PyTorch ----------------------------------------------------------------

def measure_torch(key, batch, threads, warmup_s, target_s, min_warmup,
                  min_iters, max_iters, seed=1):
    """One PyTorch measurement: a fresh model and optimizer, warm-up steps
    for at least warmup_s (and min_warmup steps), then timed steps for at
    least target_s and min_iters steps, at most max_iters; median step."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    chw, classes = MODELS[key][1], MODELS[key][2]
    model = torch_model(key).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand((batch,) + tuple(chw), dtype=torch.float32) * 2 - 1
    y = torch.randint(0, classes, (batch,), dtype=torch.int64)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    n_warm = 0
    t_end = time.perf_counter() + warmup_s
    while n_warm < min_warmup or (time.perf_counter() < t_end
                                  and n_warm < 20 * max_iters):
        step()
        n_warm += 1
    times = []
    loss = None
    spent = 0.0
    while len(times) < min_iters or (spent < target_s
                                     and len(times) < max_iters):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    med = statistics.median(times)
    return {"ips": batch / med, "ms": 1e3 * med,
            "params": sum(p.numel() for p in model.parameters()
                          if p.requires_grad),
            "loss": float(loss), "steps": f"{n_warm}+{len(times)}"}


def profile_cnnc(tool, so, threads, top):
    """The top kernels of one profiled cnnc train_step (stderr lines)."""
    r = run_checked([tool, so, "--threads", str(threads), "--warmup", "2",
                     "--iters", "1", "--profile"],
                    f"train_throughput --profile {os.path.basename(so)}")
    lines = [l[len("profile: "):] for l in r.stderr.splitlines()
             if l.startswith("profile: ")]
    return lines[:top + 1]


# --- the run ----------------------------------------------------------------

def plan_iters(step_s, target_s, warmup_s, min_iters, max_iters):
    """Timed and warm-up step counts so one measurement takes ~target_s."""
    iters = int(round(target_s / max(step_s, 1e-6)))
    iters = max(min_iters, min(max_iters, iters))
    warm = int(round(warmup_s / max(step_s, 1e-6)))
    warm = max(1, min(20, warm))
    return warm, iters


def machine_info():
    model, cores = platform.processor() or "?", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                model = v.strip()
            elif k.strip() == "CPU(s)":
                cores = int(v.strip())
    except (OSError, ValueError):
        pass
    return model, cores


def git_rev():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True,
                             cwd=REPO).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True,
                               cwd=REPO).stdout.strip()
        return rev + ("+dirty" if dirty else "") if rev else "?"
    except OSError:
        return "?"


def fmt_range(vals):
    return f"{min(vals):,.0f}–{max(vals):,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", nargs="+", default=list(MODELS),
                    choices=list(MODELS))
    ap.add_argument("--rounds", type=int, default=5,
                    help="alternating cnnc/PyTorch rounds (default 5)")
    ap.add_argument("--target-seconds", type=float, default=1.5,
                    help="timed seconds per measurement (default 1.5): "
                    "sets cnnc's step count from a short calibration run; "
                    "PyTorch steps until it is spent")
    ap.add_argument("--warmup-seconds", type=float, default=0.5,
                    help="warm-up seconds per measurement (default 0.5)")
    ap.add_argument("--min-iters", type=int, default=3)  # both sides
    ap.add_argument("--max-iters", type=int, default=50)
    ap.add_argument("--cnnc", default=os.path.join(REPO, "build", "bin",
                                                   "cnnc"))
    ap.add_argument("--out-dir", default=os.path.join(REPO, "bench",
                                                      "results"))
    ap.add_argument("--no-write", action="store_true",
                    help="print the table only")
    ap.add_argument("--profile-top", type=int, default=5,
                    help="report the N slowest cnnc kernels of one profiled "
                    "step per model, at the first thread count (0: off)")
    ap.add_argument("--cnnc-only", action="store_true",
                    help="skip PyTorch (no torch needed)")
    args = ap.parse_args()

    use_torch = not args.cnnc_only
    torch_version = "-"
    if use_torch:
        try:
            import torch
        except ImportError:
            sys.exit("error: cannot import torch (install Debian's "
                     "python3-torch, or pass --cnnc-only)")
        torch_version = torch.__version__

    cpu_model, cores = machine_info()
    load_before = os.getloadavg()
    started = datetime.datetime.now()
    t_start = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="cnnc_train_bench_")
    results = []
    profiles = {}
    try:
        tool = build_throughput_tool(workdir)
        for key in args.models:
            _, chw, classes = MODELS[key]
            src, extra = cnnc_source(key, workdir)
            what = MODELS[key][0]
            if what.startswith("onnx:"):
                what += f" (exported to {src})"
            print(f"== {key}: compiling {what} (batch {args.batch}, sgd)",
                  file=sys.stderr, flush=True)
            so, compile_s = compile_cnnc(args.cnnc, src, extra, key,
                                         args.batch, workdir)
            print(f"   compiled in {compile_s:.1f} s", file=sys.stderr,
                  flush=True)

            # Architecture check: per-layer shapes and parameter counts.
            c_layers, c_trainable = cnnc_layer_shapes(args.cnnc, src)
            if use_torch:
                t_layers = torch_layer_shapes(key, chw)
                assert c_layers == t_layers, (
                    f"{key}: layer shapes differ\n cnnc:  {c_layers}\n"
                    f" torch: {t_layers}")

            for threads in args.threads:
                # Calibrate the step counts on a short run of each side.
                c0 = measure_cnnc(tool, so, threads, 1, 2)
                c_warm, c_iters = plan_iters(
                    c0["ms"] / 1e3, args.target_seconds, args.warmup_seconds,
                    args.min_iters, args.max_iters)
                print(f"   threads {threads}: cnnc {c_warm}+{c_iters} steps "
                      "per round", file=sys.stderr, flush=True)
                cr, pr = [], []
                for rnd in range(args.rounds):
                    c = measure_cnnc(tool, so, threads, c_warm, c_iters)
                    cr.append(c)
                    msg = f"   round {rnd + 1}: cnnc {c['ips']:,.0f} img/s"
                    if use_torch:
                        p = measure_torch(key, args.batch, threads,
                                          args.warmup_seconds,
                                          args.target_seconds, 3,
                                          args.min_iters, args.max_iters)
                        pr.append(p)
                        msg += f", PyTorch {p['ips']:,.0f} img/s"
                    print(msg, file=sys.stderr, flush=True)

                row = {"key": key, "threads": threads,
                       "c_ips": statistics.median(x["ips"] for x in cr),
                       "c_ms": statistics.median(x["ms"] for x in cr),
                       "c_range": fmt_range([x["ips"] for x in cr]),
                       "c_params": cr[0]["params"],
                       "c_steps": f"{c_warm}+{c_iters}",
                       "compile_s": compile_s}
                if c_trainable is not None:
                    assert c_trainable == row["c_params"], (
                        f"{key}: --summary says {c_trainable} trainable "
                        f"parameters, the artifact {row['c_params']}")
                if use_torch:
                    row.update({
                        "p_ips": statistics.median(x["ips"] for x in pr),
                        "p_ms": statistics.median(x["ms"] for x in pr),
                        "p_range": fmt_range([x["ips"] for x in pr]),
                        "p_params": pr[0]["params"],
                        "p_steps": ",".join(x["steps"] for x in pr)})
                    assert row["c_params"] == row["p_params"], (
                        f"{key}: parameter counts differ: cnnc "
                        f"{row['c_params']}, PyTorch {row['p_params']}")
                    row["ratio"] = row["c_ips"] / row["p_ips"]
                results.append(row)
            if args.profile_top > 0:
                t = args.threads[0]
                profiles[key] = (t, profile_cnnc(tool, so, t,
                                                 args.profile_top))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - t_start
    load_after = os.getloadavg()

    # --- the report ---
    date = started.strftime("%Y-%m-%d")
    lines = [f"# Training throughput: cnnc vs PyTorch eager ({date})", ""]
    lines += [
        f"- Date: {started.strftime('%Y-%m-%d %H:%M')}",
        f"- CPU: {cpu_model} (lscpu), {cores} cores",
        f"- PyTorch: {torch_version} (eager, float32 NCHW)",
        f"- cnnc: {os.path.relpath(args.cnnc, REPO)} at git {git_rev()}; "
        "artifacts `--train --optimizer=sgd`",
        f"- Batch {args.batch}; threads {', '.join(map(str, args.threads))}; "
        "SGD lr 0.01, softmax cross-entropy; random data",
        f"- {args.rounds} rounds alternating cnnc (fresh process) and "
        "PyTorch (in process); each measurement = warm-up + timed steps, "
        "median step time; table = median over rounds, range = min–max "
        "over rounds (images/s)",
        f"- Total run time {elapsed:.0f} s; load average (1 min) "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after "
        "(other work on the machine depresses both sides)",
        "",
    ]
    if use_torch:
        lines += [
            "| Model | Threads | Params (cnnc = PyTorch) | cnnc img/s | "
            "cnnc ms/step | cnnc range | PyTorch img/s | PyTorch ms/step | "
            "PyTorch range | cnnc/PyTorch |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            lines.append(
                f"| {LABELS[r['key']]} | {r['threads']} | "
                f"{r['c_params']:,} | {r['c_ips']:,.0f} | {r['c_ms']:.2f} | "
                f"{r['c_range']} | {r['p_ips']:,.0f} | {r['p_ms']:.2f} | "
                f"{r['p_range']} | {r['ratio']:.3f} |")
    else:
        lines += [
            "| Model | Threads | Params | cnnc img/s | cnnc ms/step | "
            "cnnc range |",
            "|---|---:|---:|---:|---:|---:|"]
        for r in results:
            lines.append(
                f"| {LABELS[r['key']]} | {r['threads']} | {r['c_params']:,} "
                f"| {r['c_ips']:,.0f} | {r['c_ms']:.2f} | {r['c_range']} |")
    lines.append("")
    lines.append("Steps per measurement (warm-up+timed): " + "; ".join(
        f"{r['key']} t{r['threads']}: cnnc {r['c_steps']}"
        + (f", PyTorch {r['p_steps']}" if use_torch else "")
        for r in results) + ".")
    lines.append("cnnc compile time (s): " + ", ".join(
        f"{k} {v:.1f}" for k, v in
        dict((r["key"], r["compile_s"]) for r in results).items()) + ".")
    for key, (t, plines) in profiles.items():
        lines += ["", f"cnnc kernel profile, {key}, one train_step at "
                  f"{t} thread(s) (runtime per-step timers):", "", "```"]
        lines += plines
        lines.append("```")
    lines.append("")
    report = "\n".join(lines)
    print(report)
    if not args.no_write:
        os.makedirs(args.out_dir, exist_ok=True)
        path = os.path.join(args.out_dir, f"train_{date}.md")
        with open(path, "w") as f:
            f.write(report)
        print(f"wrote {os.path.relpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
