#!/usr/bin/env python3
"""Inference latency: cnnc-compiled models against ONNX Runtime (CPU).

For each model and thread count, measures batch-1 inference of the same ONNX
file compiled by cnnc (timed with `cnnc-bench`, a fresh process per
measurement) and run by ONNX Runtime (an InferenceSession in this process:
intra_op_num_threads=N, inter_op_num_threads=1, sequential execution, all
graph optimizations), alternating: each round is one cnnc measurement then
one ORT measurement, each with its own warm-up and the median of its timed
runs. The table reports the median over rounds and the ratio cnnc/ORT of
the medians (below 1: cnnc is faster).

    python3 bench/infer_bench.py --threads 1 2 --rounds 5

It also checks correctness (one seeded random input through both, `cnnc-run`
against ORT; max abs difference, flagged above 1e-3 of the largest |ORT|
output, next to the "input effect": how much ORT's output changes for a
second random input, which the difference must be far below), records cnnc's compile wall time and compares memory: cnnc's
parameter bytes (`cnnc --summary`) and arena size (the artifact's
cnnc_model_api.arena_size), and for both the growth of the peak resident set
(VmHWM) of a fresh process over load + create + one run (see --help of
--probe and bench/README.md).

The models: LeNet-5 and the ConvNetJS CIFAR-10 net (`cnnc X.cnn
--emit=onnx`, cnnc's random init), and PyTorch models written by
bench/export_models.py, which needs torch/torchvision and is run with
/usr/bin/python3 when they are missing from the ONNX files' cache directory.
This script itself needs numpy and onnxruntime (not torch).
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# key: (label, source, input shape); source "cnn:<file>" or "torch"
MODELS = {
    "lenet5": ("LeNet-5", "cnn:examples/lenet5.cnn", (1, 1, 28, 28)),
    "convnetjs_cifar10": ("ConvNetJS CIFAR-10",
                          "cnn:examples/convnetjs_cifar10.cnn", (1, 3, 32, 32)),
    "resnet20_cifar": ("ResNet-20 (CIFAR)", "torch", (1, 3, 32, 32)),
    "squeezenet1_1": ("SqueezeNet 1.1", "torch", (1, 3, 224, 224)),
    "mobilenet_v2": ("MobileNetV2", "torch", (1, 3, 224, 224)),
    "resnet18": ("ResNet-18", "torch", (1, 3, 224, 224)),
    "googlenet": ("GoogLeNet", "torch", (1, 3, 224, 224)),
    "resnet50": ("ResNet-50", "torch", (1, 3, 224, 224)),
    "vgg11": ("VGG-11", "torch", (1, 3, 224, 224)),
}


# --- memory probes (run in a fresh subprocess) ------------------------------

def _vm(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("dims", ctypes.c_int64 * 8)]


class _Desc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64)),
                ("num_elements", ctypes.c_int64), ("trainable", ctypes.c_int32)]


_CTX = ctypes.c_void_p


class _Api(ctypes.Structure):
    """The leading fields of cnnc_model_api (runtime/cnnc_runtime.h, ABI 2-4)."""
    _fields_ = [
        ("abi_version", ctypes.c_uint32),
        ("name", ctypes.c_char_p), ("target", ctypes.c_char_p),
        ("num_inputs", ctypes.c_size_t), ("num_outputs", ctypes.c_size_t),
        ("num_params", ctypes.c_size_t),
        ("inputs", ctypes.POINTER(_Desc)), ("outputs", ctypes.POINTER(_Desc)),
        ("params", ctypes.POINTER(_Desc)),
        ("arena_size", ctypes.c_size_t),
        ("create", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_CTX))),
        ("create_with_arena", ctypes.c_void_p),
        ("destroy", ctypes.CFUNCTYPE(None, _CTX)),
        ("run", ctypes.CFUNCTYPE(ctypes.c_int, _CTX, ctypes.POINTER(_Tensor),
                                 ctypes.c_size_t, ctypes.POINTER(_Tensor),
                                 ctypes.c_size_t)),
        ("set_num_threads", ctypes.CFUNCTYPE(ctypes.c_int, _CTX, ctypes.c_int)),
        ("last_error", ctypes.CFUNCTYPE(ctypes.c_char_p, _CTX)),
    ]


def probe_cnnc(so, threads):
    """dlopen + create + one run of a cnnc artifact; VmHWM growth."""
    import numpy as np
    base_hwm, base_rss = _vm("VmHWM"), _vm("VmRSS")
    lib = ctypes.CDLL(so)
    lib.cnnc_model_api.restype = ctypes.POINTER(_Api)
    api = lib.cnnc_model_api().contents
    if api.abi_version not in (2, 3, 4):  # the leading fields read here are the same
        raise SystemExit(f"unexpected cnnc ABI {api.abi_version}")
    ctx = _CTX()
    if api.create(ctypes.byref(ctx)) != 0:
        raise SystemExit("create: " + api.last_error(None).decode())
    api.set_num_threads(ctx, threads)
    keep = []

    def tensors(descs, n, fill):
        arr = (_Tensor * n)()
        for i in range(n):
            d = descs[i]
            if d.dtype != 0:
                raise SystemExit("probe handles f32 tensors only")
            shape = [d.dims[j] for j in range(d.rank)]
            a = (np.random.default_rng(0).uniform(-1, 1, shape) if fill
                 else np.zeros(shape)).astype(np.float32)
            keep.append(a)
            arr[i].data = a.ctypes.data
            arr[i].dtype, arr[i].rank = 0, d.rank
            for j in range(d.rank):
                arr[i].dims[j] = shape[j]
        return arr

    ins = tensors(api.inputs, api.num_inputs, True)
    outs = tensors(api.outputs, api.num_outputs, False)
    if api.run(ctx, ins, api.num_inputs, outs, api.num_outputs) != 0:
        raise SystemExit("run: " + api.last_error(ctx).decode())
    hwm = _vm("VmHWM")
    # The input/output arrays are allocated by the probe, not the model.
    io_bytes = sum(a.nbytes for a in keep)
    print(json.dumps({"hwm_growth": hwm - max(base_hwm, base_rss),
                      "io_bytes": io_bytes, "arena_size": api.arena_size,
                      "so_bytes": os.path.getsize(so)}))


def probe_ort(onnx_path, threads):
    """InferenceSession creation + one run; VmHWM growth."""
    import numpy as np
    import onnxruntime as ort
    base_hwm, base_rss = _vm("VmHWM"), _vm("VmRSS")
    sess = make_session(ort, onnx_path, threads)
    feeds, keep = {}, 0
    for i in sess.get_inputs():
        a = np.random.default_rng(0).uniform(-1, 1, i.shape).astype(np.float32)
        feeds[i.name] = a
        keep += a.nbytes
    outs = sess.run(None, feeds)
    keep += sum(o.nbytes for o in outs)
    hwm = _vm("VmHWM")
    print(json.dumps({"hwm_growth": hwm - max(base_hwm, base_rss),
                      "io_bytes": keep}))


def run_probe(kind, path, threads):
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--probe",
                        kind, path, str(threads)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout).strip().splitlines()[-1:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


# --- ONNX Runtime -----------------------------------------------------------

def make_session(ort, path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, sess_options=so,
                                providers=["CPUExecutionProvider"])


def measure_ort(sess, feeds, warmup, runs):
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


# --- cnnc -------------------------------------------------------------------

def run_cmd(cmd, timeout=None):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


def measure_cnnc(bench, so, threads, warmup, runs):
    r = run_cmd([bench, so, "--threads", str(threads), "--warmup",
                 str(warmup), "--runs", str(runs)])
    if r.returncode != 0:
        raise RuntimeError(f"cnnc-bench {so}: {r.stderr.strip()}")
    m = re.search(r"^median ([0-9.eE+-]+) ms", r.stdout, re.M)
    if not m:
        raise RuntimeError(f"cnnc-bench output not understood:\n{r.stdout}")
    return float(m.group(1))


def parse_summary(text):
    """Parameter bytes and whatever arena/peak figures --summary prints."""
    out = {}
    m = re.search(r"parameter bytes: ([0-9,]+)", text)
    if m:
        out["param_bytes"] = int(m.group(1).replace(",", ""))
    for line in text.splitlines():
        if re.search(r"arena|peak", line, re.I):
            out.setdefault("summary_memory_lines", []).append(line.strip())
    m = re.search(r"peak arena bytes: ([0-9,]+)", text, re.I)
    if m:
        out["peak_arena_bytes"] = int(m.group(1).replace(",", ""))
    m = re.search(r"^total\s.*?([0-9,]+)\s*$", text, re.M)
    if m:
        out["flops"] = int(m.group(1).replace(",", ""))
    return out


def prepare_onnx(key, cnnc, model_dir, python_torch):
    path = os.path.join(model_dir, key + ".onnx")
    if os.path.exists(path):
        return path, None
    src = MODELS[key][1]
    if src.startswith("cnn:"):
        r = run_cmd([cnnc, src[4:], "--emit=onnx", "-o", path])
    else:
        r = run_cmd([python_torch, os.path.join(REPO, "bench",
                                                "export_models.py"),
                     "--out", model_dir, "--models", key])
    if r.returncode != 0 or not os.path.exists(path):
        return None, (r.stderr or r.stdout).strip()
    return path, None


HALIDE_DOT_ERROR = "may not contain the character '.'"


def rename_dotted(src, dst):
    """Writes a copy of an ONNX model whose internal value and initializer
    names have '.' replaced by '_' (made unique); graph inputs and outputs
    keep their names. A workaround: cnnc's Halide lowering derives Func
    names from value names, and Halide rejects '.' in Func names."""
    import onnx
    m = onnx.load(src)
    g = m.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output}
    used = set()
    for n in g.node:
        used.update(n.input)
        used.update(n.output)
    used.update(t.name for t in g.initializer)
    mapping = {}
    for name in sorted(used):
        if "." in name and name not in keep:
            new = name.replace(".", "_")
            while new in used or new in mapping.values():
                new += "_"
            mapping[name] = new
    ren = lambda s: mapping.get(s, s)
    for n in g.node:
        n.input[:] = [ren(x) for x in n.input]
        n.output[:] = [ren(x) for x in n.output]
    for t in g.initializer:
        t.name = ren(t.name)
    for v in list(g.value_info) + list(g.input):
        v.name = ren(v.name)
    onnx.save(m, dst)
    return len(mapping)


def compile_model(cnnc, onnx_path, so, timeout):
    t0 = time.perf_counter()
    try:
        r = run_cmd([cnnc, onnx_path, "-o", so], timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"compile timed out after {timeout} s"
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        return None, (r.stderr or r.stdout).strip()
    return dt, None


def check_outputs(run, so, onnx_sess, shape, workdir):
    """One seeded input through cnnc-run and ORT; max abs and relative diff."""
    import numpy as np
    x = np.random.default_rng(42).uniform(-1, 1, shape).astype(np.float32)
    xin = os.path.join(workdir, "check_x.npy")
    yout = os.path.join(workdir, "check_y.npy")
    np.save(xin, x)
    r = run_cmd([run, so, "--input", xin, "--output", yout, "--quiet"])
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout).strip()}
    y = np.load(yout)
    name = onnx_sess.get_inputs()[0].name
    ref = onnx_sess.run(None, {name: x})[0]
    if y.shape != ref.shape:
        y = y.reshape(ref.shape)
    diff = float(np.max(np.abs(y.astype(np.float64) - ref)))
    scale = float(np.max(np.abs(ref)))
    # How much the output depends on the input: ORT on a second input. A
    # difference far below this says the input-dependent part agrees.
    x2 = np.random.default_rng(43).uniform(-1, 1, shape).astype(np.float32)
    effect = float(np.max(np.abs(onnx_sess.run(None, {name: x2})[0]
                                 .astype(np.float64) - ref)))
    return {"max_abs": diff, "ref_max": scale,
            "rel": diff / scale if scale > 0 else diff,
            "input_effect": effect,
            "argmax_same": bool(np.argmax(y) == np.argmax(ref))}


def per_step(bench, so, threads, top):
    r = run_cmd([bench, so, "--threads", str(threads), "--warmup", "2",
                 "--runs", "5", "--per-step", "--peak"])
    if r.returncode != 0:
        return [f"cnnc-bench --per-step failed: {r.stderr.strip()}"]
    lines = r.stdout.rstrip().splitlines()
    # keep the header lines and the first `top` rows of the step table
    out, rows = [], 0
    in_table = False
    for l in lines:
        if not in_table:
            out.append(l)
            if l.lstrip().startswith("step") or "% peak" in l:
                in_table = True
            continue
        if l.strip():
            rows += 1
            if rows <= top:
                out.append(l)
    return out


# --- report -----------------------------------------------------------------

def machine_info():
    model, cores = platform.processor() or "?", os.cpu_count()
    try:
        out = run_cmd(["lscpu"]).stdout
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
        rev = run_cmd(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run_cmd(["git", "status", "--porcelain",
                         "--untracked-files=no"]).stdout.strip()
        return rev + ("+dirty" if dirty else "") if rev else "?"
    except OSError:
        return "?"


def mb(b):
    return "–" if b is None else f"{b / 2**20:,.1f}"


def fmt_ms(v):
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        kind, path, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
        (probe_cnnc if kind == "cnnc" else probe_ort)(path, threads)
        return 0

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS),
                    choices=list(MODELS))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5,
                    help="alternating rounds per model and thread count")
    ap.add_argument("--target-seconds", type=float, default=1.0,
                    help="timed seconds per measurement (sets the run count)")
    ap.add_argument("--min-runs", type=int, default=3)
    ap.add_argument("--max-runs", type=int, default=200)
    ap.add_argument("--model-dir",
                    default=os.path.join(REPO, "build", "bench-models"))
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--python-torch", default="/usr/bin/python3",
                    help="interpreter for bench/export_models.py")
    ap.add_argument("--reuse", action="store_true",
                    help="keep compiled .so files (no compile time then)")
    ap.add_argument("--compile-timeout", type=int, default=1800)
    ap.add_argument("--per-step-top", type=int, default=8,
                    help="rows of cnnc-bench --per-step for the per-step "
                         "models (0: none)")
    ap.add_argument("--per-step-models", nargs="*", default=None,
                    help="models to profile at 1 thread (default: resnet50 "
                         "and the two with the worst 1-thread ratio)")
    ap.add_argument("--out", default=None,
                    help="report file (default bench/results/infer_<date>.md;"
                         " '-' for none)")
    ap.add_argument("--json", default=None, help="also dump raw results here")
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort

    cnnc = os.path.join(args.bin, "cnnc")
    bench = os.path.join(args.bin, "cnnc-bench")
    runner = os.path.join(args.bin, "cnnc-run")
    os.makedirs(args.model_dir, exist_ok=True)
    t_start = time.time()
    load_before = os.getloadavg()[0]
    results = {}
    log = lambda *a: print(*a, file=sys.stderr, flush=True)

    for key in args.models:
        label, src, shape = MODELS[key]
        res = results[key] = {"label": label, "shape": list(shape),
                              "timing": {}}
        path, err = prepare_onnx(key, cnnc, args.model_dir, args.python_torch)
        if err:
            res["error"] = f"export: {err}"
            log(f"{key}: export failed: {err}")
            continue
        so = os.path.join(args.model_dir, key + ".so")
        if args.reuse and os.path.exists(so):
            res["compile_s"] = None
        else:
            log(f"{key}: compiling")
            dt, err = compile_model(cnnc, path, so, args.compile_timeout)
            if err and HALIDE_DOT_ERROR in err:
                res["workaround"] = err.splitlines()[0]
                renamed = os.path.join(args.model_dir, key + ".renamed.onnx")
                k = rename_dotted(path, renamed)
                log(f"{key}: '.' in value names; compiling a copy with {k} "
                    "names renamed")
                dt, err = compile_model(cnnc, renamed, so,
                                        args.compile_timeout)
            if err:
                res["error"] = f"cnnc compile: {err}"
                log(f"{key}: compile failed: {err}")
                continue
            res["compile_s"] = dt
            log(f"{key}: compiled in {dt:.1f} s")
        res.update(parse_summary(run_cmd([cnnc, path, "--summary"]).stdout))
        res["mem_cnnc"] = run_probe("cnnc", so, 1)
        res["mem_ort"] = run_probe("ort", path, 1)

        x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
        for n in args.threads:
            sess = make_session(ort, path, n)
            feeds = {sess.get_inputs()[0].name: x}
            if n == args.threads[0]:
                res["check"] = check_outputs(runner, so, sess, shape,
                                             args.model_dir)
                log(f"{key}: check {res['check']}")
            # calibrate: one run each, to size the measurements
            t_c = measure_cnnc(bench, so, n, 1, 1) / 1e3
            t_o = measure_ort(sess, feeds, 1, 1) / 1e3
            plan = {}
            for side, t in (("cnnc", t_c), ("ort", t_o)):
                runs = int(round(args.target_seconds / max(t, 1e-6)))
                runs = max(args.min_runs, min(args.max_runs, runs))
                warm = max(1, min(20, int(round(0.25 / max(t, 1e-6)))))
                plan[side] = (warm, runs)
            cs, os_ = [], []
            for _ in range(args.rounds):
                cs.append(measure_cnnc(bench, so, n, *plan["cnnc"]))
                os_.append(measure_ort(sess, feeds, *plan["ort"]))
            c, o = statistics.median(cs), statistics.median(os_)
            res["timing"][n] = {"cnnc": cs, "ort": os_, "cnnc_ms": c,
                                "ort_ms": o, "ratio": c / o, "plan": plan}
            log(f"{key} t{n}: cnnc {c:.3f} ms, ORT {o:.3f} ms, "
                f"ratio {c / o:.2f} (runs {plan})")
            del sess

    # per-step profiles at 1 thread
    profiles = {}
    if args.per_step_top > 0:
        sel = args.per_step_models
        if sel is None:
            ok = [k for k in results if 1 in results[k]["timing"]]
            ok.sort(key=lambda k: -results[k]["timing"][1]["ratio"])
            sel = ([k for k in ("resnet50",) if k in ok] +
                   [k for k in ok if k != "resnet50"][:2])
        for key in sel:
            so = os.path.join(args.model_dir, key + ".so")
            if os.path.exists(so) and "error" not in results.get(key, {}):
                profiles[key] = per_step(bench, so, 1, args.per_step_top)
    t_total = time.time() - t_start
    load_after = os.getloadavg()[0]

    # --- the report ---
    cpu, cores = machine_info()
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        import onnx
        onnx_v = onnx.__version__
    except ImportError:
        onnx_v = "?"
    torch_v = run_cmd([args.python_torch, "-c",
                       "import torch, torchvision; print(torch.__version__,"
                       " torchvision.__version__)"]).stdout.strip() or "?"
    L = []
    L.append(f"# Inference latency: cnnc vs ONNX Runtime ({now:%Y-%m-%d})\n")
    L.append(f"- Date: {now:%Y-%m-%d %H:%M} UTC; total run time "
             f"{t_total:.0f} s; load average (1 min) {load_before:.2f} before, "
             f"{load_after:.2f} after")
    L.append(f"- CPU: {cpu} (lscpu), {cores} CPUs; shared machine")
    L.append(f"- ONNX Runtime {ort.__version__} (CPUExecutionProvider, "
             f"Python API), onnx {onnx_v}, numpy {np.__version__}; "
             f"exporter torch/torchvision {torch_v}")
    L.append(f"- cnnc: {args.bin} at git {git_rev()}; default target (host)")
    L.append(f"- Batch 1, float32 NCHW, random weights; {args.rounds} "
             "alternating rounds (cnnc-bench process, then ORT in process), "
             "each measurement = warm-up + timed runs, its median; table = "
             "median over rounds, range = min–max over rounds")
    L.append("")
    for n in args.threads:
        L.append(f"## {n} thread{'s' if n > 1 else ''}\n")
        L.append("| Model | Input | cnnc ms | cnnc range | ORT ms | ORT range "
                 "| cnnc/ORT | max abs diff (rel) / input effect | compile s "
                 "| cnnc arena MiB (act + params) | cnnc RSS peak MiB "
                 "| ORT RSS peak MiB |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key, r in results.items():
            shape = "x".join(map(str, r["shape"]))
            if "error" in r:
                L.append(f"| {r['label']} | {shape} | fails | | | | | | | | "
                         "| |")
                continue
            t = r["timing"].get(n)
            if not t:
                continue
            ck = r.get("check", {})
            if "error" in ck:
                diff = "run failed"
            else:
                flag = " **FLAG**" if ck["rel"] > 1e-3 else ""
                if ck["max_abs"] > 1e-2 * ck["input_effect"]:
                    flag += " (weak: output hardly depends on the input)"
                diff = (f"{ck['max_abs']:.2e} ({ck['rel']:.1e}){flag} "
                        f"/ {ck['input_effect']:.2e}")
            mc, mo = r.get("mem_cnnc", {}), r.get("mem_ort", {})
            # arena_size = activations + a copy of the parameters (create
            # copies them in); show the two parts
            act = None
            if "arena_size" in mc and r.get("param_bytes") is not None:
                act = mc["arena_size"] - r["param_bytes"]
            comp = "–" if r.get("compile_s") is None else \
                f"{r['compile_s']:.1f}"
            L.append(
                f"| {r['label']} | {shape} | {fmt_ms(t['cnnc_ms'])} | "
                f"{fmt_ms(min(t['cnnc']))}–{fmt_ms(max(t['cnnc']))} | "
                f"{fmt_ms(t['ort_ms'])} | "
                f"{fmt_ms(min(t['ort']))}–{fmt_ms(max(t['ort']))} | "
                f"{t['ratio']:.2f} | {diff} | {comp} | "
                f"{mb(act)} + {mb(r.get('param_bytes'))} | "
                f"{mb(mc.get('hwm_growth'))} | {mb(mo.get('hwm_growth'))} |")
        L.append("")
    L.append("Runs per measurement (warm-up, timed): " + "; ".join(
        f"{k} t{n}: cnnc {t['plan']['cnnc']}, ORT {t['plan']['ort']}"
        for k, r in results.items() for n, t in r["timing"].items()) + ".\n")
    errs = [(k, r["error"]) for k, r in results.items() if "error" in r]
    if errs:
        L.append("## Failures\n")
        for k, e in errs:
            L.append(f"- {results[k]['label']}: `{e.splitlines()[0][:400]}`")
        L.append("")
    wk = [(k, r["workaround"]) for k, r in results.items()
          if "workaround" in r]
    if wk:
        L.append("## Workaround: '.' in value names\n")
        L.append("cnnc fails on these exports as they are; cnnc compiled a "
                 "copy with '.' in internal value and initializer names "
                 "replaced by '_' (ORT runs the original file; the graph is "
                 "otherwise identical):\n")
        for k, e in wk:
            L.append(f"- {results[k]['label']}: `{e[:300]}`")
        L.append("")
    mem_lines = {k: r.get("summary_memory_lines") for k, r in results.items()
                 if r.get("summary_memory_lines")}
    if mem_lines:
        L.append("`cnnc --summary` memory lines: " + "; ".join(
            f"{k}: {' / '.join(v)}" for k, v in mem_lines.items()) + "\n")
    for key, lines in profiles.items():
        L.append(f"### cnnc per-step, {results[key]['label']}, 1 thread "
                 f"(`cnnc-bench --per-step --peak`, top {args.per_step_top})\n")
        L.append("```")
        L.extend(lines)
        L.append("```\n")
    report = "\n".join(L)
    print(report)
    out = args.out
    if out is None:
        out = os.path.join(REPO, "bench", "results",
                           f"infer_{now:%Y-%m-%d}.md")
    if out != "-":
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(report)
        log(f"wrote {out}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
