//===- tools/driver/BenchMain.cpp - the cnnc-bench driver, as a library ----===//
#include "tools/driver/BenchMain.h"

#include "tools/driver/ModelLoader.h"
#include "tools/driver/PeakFma.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

namespace cnnc {

static void printHelp() {
  std::cout <<
      "OVERVIEW: time a model compiled by cnnc\n"
      "USAGE: cnnc-bench <model.so> [options]\n\n"
      "OPTIONS:\n"
      "  --threads N    threads for the model (default: the runtime's, i.e.\n"
      "                 HL_NUM_THREADS or the number of cores)\n"
      "  --warmup W     untimed runs first (default 3, may be 0)\n"
      "  --runs R       timed runs, each timed separately (default 20, >= 1)\n"
      "  --per-step     also a table of the steps that ran: name, median ms,\n"
      "                 % of the median run, GFLOP/s and, with --peak, % of\n"
      "                 peak; slowest first (profiling adds two clock reads\n"
      "                 per step to the timed runs)\n"
      "  --train        time train_step (forward, loss, backward, optimizer\n"
      "                 update) instead of inference; only for artifacts\n"
      "                 compiled with `cnnc --train`\n"
      "  --name PREFIX  the model's --name, for a library that exports no\n"
      "                 cnnc_model_api (normally not needed)\n"
      "  --peak         measure this machine's f32 FMA peak (see below) and\n"
      "                 report % of peak\n"
      "  --help         this text\n\n"
      "Options take their value as `--runs 5` or `--runs=5`.\n\n"
      "Inputs are seeded random values: floats uniform in [-1, 1), integers\n"
      "zero; with --train, labels uniform in [0, classes), classes being the\n"
      "last dimension of the output. Prints the median, min and max time of\n"
      "a run, the GFLOP per run (the FLOPs of the steps the function ran) and\n"
      "GFLOP/s at the median; with --train, also images/s (batch / median).\n"
      "A conv counts the FLOPs of the direct conv even when it runs in the\n"
      "Winograd form (fewer multiplies): its GFLOP/s is the rate of the\n"
      "direct conv that would take that time, and can pass the FMA peak. A\n"
      "cached step (transformed weights, kept while the parameters do not\n"
      "change) runs in the warm-up only, so it is not in the timings nor in\n"
      "the --per-step table.\n\n"
      "The peak (--peak): a loop of fused multiply-adds on the widest\n"
      "vectors the CPU has, as cnnc's host target uses them: 16-float\n"
      "AVX-512 into 16 independent accumulators, else 8-float AVX2 into 12\n"
      "(enough to hide the FMA latency on two FMA units), no memory\n"
      "traffic, 2 FLOPs per lane per FMA; a portable 4-lane multiply-add\n"
      "loop where the build or the CPU has neither. It runs about 0.1 s on one thread (single-core peak)\n"
      "and 0.1 s on one thread per core at once (all-core peak), best of 3\n"
      "tries each, and once more on N threads when 1 < --threads N < cores.\n"
      "% of peak uses the peak for the thread count the model runs with.\n"
      "Shared or throttled machines give noisy numbers: never compare\n"
      "timings across machines.\n";
}

static int fail(const std::string &msg) {
  std::cerr << "cnnc-bench: error: " << msg << "\n";
  return 1;
}

static std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

static double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// Parses a decimal integer >= \p min; false on anything else.
static bool parseInt(const std::string &s, long min, long &out) {
  if (s.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  long n = std::strtol(s.c_str(), &end, 10);
  if (*end || errno || n < min || n > 1000000000L)
    return false;
  out = n;
  return true;
}

namespace {
/// Host memory for one tensor of a descriptor, filled with seeded values.
struct Buffer {
  std::vector<double> storage; // 8-byte aligned, large enough for any dtype
  cnnc_tensor view{};

  Buffer(const cnnc_tensor_desc &d) {
    size_t es = d.dtype == CNNC_F64 || d.dtype == CNNC_I64   ? 8
                : d.dtype == CNNC_F32 || d.dtype == CNNC_I32 ? 4
                                                             : 1;
    size_t bytes = size_t(d.num_elements) * es;
    storage.assign((bytes + 7) / 8 + 1, 0.0);
    view.data = storage.data();
    view.dtype = d.dtype;
    view.rank = d.rank;
    for (int32_t i = 0; i < d.rank && i < CNNC_MAX_RANK; ++i)
      view.dims[i] = d.dims[i];
  }
  int64_t count() const {
    int64_t n = 1;
    for (int32_t i = 0; i < view.rank; ++i)
      n *= view.dims[i];
    return n;
  }
  /// Floats uniform in [-1, 1); integers and booleans stay zero.
  void fillRandom(std::mt19937_64 &rng) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    int64_t n = count();
    if (view.dtype == CNNC_F32) {
      float *p = static_cast<float *>(view.data);
      for (int64_t i = 0; i < n; ++i)
        p[i] = float(u(rng));
    } else if (view.dtype == CNNC_F64) {
      double *p = static_cast<double *>(view.data);
      for (int64_t i = 0; i < n; ++i)
        p[i] = u(rng);
    }
  }
};

struct Options {
  std::string modelPath, name;
  long threads = 0, warmup = 3, runs = 20;
  bool perStep = false, train = false, peak = false;
};

/// One profiled run's step times, and which steps ran.
struct StepTimes {
  std::vector<std::vector<double>> seconds; // [step][run]
  std::vector<bool> ran;
};
} // namespace

/// Parses argv into \p o; returns -1 to go on, else the exit code.
static int parseArgs(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      printHelp();
      return 0;
    }
    std::string key = a, val;
    bool hasVal = false;
    size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      key = a.substr(0, eq);
      val = a.substr(eq + 1);
      hasVal = true;
    }
    if (key == "--threads" || key == "--warmup" || key == "--runs" ||
        key == "--name") {
      if (!hasVal) {
        if (i + 1 >= argc)
          return fail(key + " needs a value");
        val = argv[++i];
      }
      if (key == "--name") {
        o.name = val;
        continue;
      }
      long *dst = key == "--threads" ? &o.threads
                  : key == "--warmup" ? &o.warmup
                                      : &o.runs;
      long min = key == "--warmup" ? 0 : 1;
      if (!parseInt(val, min, *dst))
        return fail(key + " needs an integer >= " + std::to_string(min) +
                    ", got '" + val + "'");
    } else if (key == "--per-step" || key == "--train" || key == "--peak") {
      if (hasVal)
        return fail(key + " takes no value");
      (key == "--per-step" ? o.perStep : key == "--train" ? o.train : o.peak) =
          true;
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option '" + a + "' (see --help)");
    } else if (o.modelPath.empty()) {
      o.modelPath = a;
    } else {
      return fail("more than one model ('" + o.modelPath + "' and '" + a +
                  "')");
    }
  }
  if (o.modelPath.empty())
    return fail("no model given (usage: cnnc-bench model.so [--runs R])");
  return -1;
}

/// The thread count a run uses: --threads, else Halide's default.
static int effectiveThreads(long threads) {
  if (threads > 0)
    return int(threads);
  if (const char *e = std::getenv("HL_NUM_THREADS")) {
    long n;
    if (parseInt(e, 1, n))
      return int(n);
  }
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

int benchMain(int argc, char **argv) {
  Options o;
  int rc = parseArgs(argc, argv, o);
  if (rc >= 0)
    return rc;

  auto loaded = LoadedModel::load(o.modelPath, o.name);
  if (!loaded.ok())
    return fail(loaded.status().message());
  const cnnc_model_api &api = loaded->api();
  if (o.train && !api.optimizer[0])
    return fail("'" + o.modelPath + "' is an inference model: --train needs " +
                "an artifact compiled with `cnnc --train`");
  if (o.train && (api.num_inputs != 1 || api.num_outputs != 1 ||
                  api.outputs[0].rank < 1 || api.inputs[0].rank < 1))
    return fail("--train needs a model with one input and one output");

  cnnc_ctx *ctx = nullptr;
  if (api.create(&ctx) != CNNC_OK)
    return fail(std::string("cannot create the model: ") +
                api.last_error(nullptr));
  struct Guard {
    const cnnc_model_api &api;
    cnnc_ctx *ctx;
    ~Guard() { api.destroy(ctx); }
  } guard{api, ctx};
  if (o.threads && api.set_num_threads(ctx, int(o.threads)) != CNNC_OK)
    return fail(api.last_error(ctx));
  int threads = effectiveThreads(o.threads);

  // Inputs, outputs and (for --train) labels.
  std::mt19937_64 rng(20240601);
  std::vector<Buffer> ins, outs;
  for (size_t i = 0; i < api.num_inputs; ++i) {
    ins.emplace_back(api.inputs[i]);
    ins.back().fillRandom(rng);
  }
  for (size_t i = 0; i < api.num_outputs; ++i)
    outs.emplace_back(api.outputs[i]);
  std::vector<cnnc_tensor> inViews, outViews;
  for (Buffer &b : ins)
    inViews.push_back(b.view);
  for (Buffer &b : outs)
    outViews.push_back(b.view);
  int64_t batch = 1, classes = 0;
  std::vector<int64_t> labels;
  cnnc_tensor labelView{};
  if (o.train) {
    batch = api.inputs[0].dims[0];
    classes = api.outputs[0].dims[api.outputs[0].rank - 1];
    std::uniform_int_distribution<int64_t> u(0, std::max<int64_t>(classes, 1) -
                                                    1);
    labels.resize(size_t(batch));
    for (int64_t &l : labels)
      l = u(rng);
    labelView.data = labels.data();
    labelView.dtype = CNNC_I64;
    labelView.rank = 1;
    labelView.dims[0] = batch;
  }

  auto runOnce = [&]() -> cnnc_status {
    if (o.train) {
      double loss;
      return api.train_step(ctx, &inViews[0], &labelView, &loss, nullptr);
    }
    return api.run(ctx, inViews.data(), inViews.size(), outViews.data(),
                   outViews.size());
  };

  // The peak first: the model's runs then see the same clock state.
  double peakSingle = 0, peakAll = 0, peakUsed = 0;
  int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  if (o.peak) {
    peakSingle = measureFmaPeak(1, 0.1);
    peakAll = cores > 1 ? measureFmaPeak(cores, 0.1) : peakSingle;
    peakUsed = threads <= 1        ? peakSingle
               : threads >= cores ? peakAll
                                  : measureFmaPeak(threads, 0.1);
  }

  for (long w = 0; w < o.warmup; ++w)
    if (runOnce() != CNNC_OK)
      return fail(api.last_error(ctx));

  // One profiled run finds the steps the function runs (the step tables of
  // a training artifact hold every function's steps; those not run stay 0).
  size_t ns = api.num_steps;
  StepTimes st;
  st.seconds.assign(ns, {});
  st.ran.assign(ns, false);
  if (api.set_profiling(ctx, 1) != CNNC_OK || runOnce() != CNNC_OK)
    return fail(api.last_error(ctx));
  for (size_t s = 0; s < ns; ++s)
    st.ran[s] = api.step_seconds(ctx, s) > 0;
  if (!o.perStep && api.set_profiling(ctx, 0) != CNNC_OK)
    return fail(api.last_error(ctx));

  std::vector<double> times;
  for (long r = 0; r < o.runs; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    cnnc_status s = runOnce();
    auto t1 = std::chrono::steady_clock::now();
    if (s != CNNC_OK)
      return fail(api.last_error(ctx));
    times.push_back(std::chrono::duration<double>(t1 - t0).count());
    if (o.perStep)
      for (size_t k = 0; k < ns; ++k)
        if (st.ran[k])
          st.seconds[k].push_back(api.step_seconds(ctx, k));
  }
  api.set_profiling(ctx, 0);

  double flops = 0;
  for (size_t s = 0; s < ns; ++s)
    if (st.ran[s] && api.step_flops(s) > 0)
      flops += double(api.step_flops(s));
  double med = median(times);
  double lo = *std::min_element(times.begin(), times.end());
  double hi = *std::max_element(times.begin(), times.end());

  std::cout << "model '" << api.name << "' (" << o.modelPath << "), "
            << (o.train ? "train_step (optimizer " + std::string(api.optimizer) +
                              ", batch " + std::to_string(batch) + ")"
                        : std::string("inference"))
            << ", " << threads << (threads == 1 ? " thread" : " threads")
            << ", " << o.warmup << " warm-up + " << o.runs << " timed runs\n";
  if (o.peak)
    std::cout << "peak (f32 FMA, measured): 1 core " << fmt("%.1f", peakSingle)
              << " GFLOP/s, " << cores << (cores == 1 ? " core " : " cores ")
              << fmt("%.1f", peakAll) << " GFLOP/s; with " << threads
              << (threads == 1 ? " thread " : " threads ")
              << fmt("%.1f", peakUsed) << " GFLOP/s\n";
  if (o.train)
    std::cout << "median " << fmt("%.4g", med * 1e3) << " ms per step, "
              << fmt("%.0f", double(batch) / med) << " images/s\n";
  else
    std::cout << "median " << fmt("%.4g", med * 1e3) << " ms\n";
  std::cout << "min " << fmt("%.4g", lo * 1e3) << " ms, max "
            << fmt("%.4g", hi * 1e3) << " ms\n";
  std::cout << fmt("%.4g", flops / 1e9) << " GFLOP per "
            << (o.train ? "step" : "run") << ", "
            << fmt("%.2f", flops / med / 1e9) << " GFLOP/s";
  if (o.peak && peakUsed > 0)
    std::cout << " (" << fmt("%.1f", 100 * flops / med / 1e9 / peakUsed)
              << "% of peak)";
  std::cout << "\n";

  if (o.perStep) {
    struct Row {
      size_t step;
      double sec;
    };
    std::vector<Row> rows;
    size_t width = 4;
    for (size_t s = 0; s < ns; ++s)
      if (st.ran[s]) {
        rows.push_back({s, median(st.seconds[s])});
        width = std::max(width, std::strlen(api.step_name(s)));
      }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row &a, const Row &b) { return a.sec > b.sec; });
    auto pad = [](std::string s, size_t w, bool left) {
      if (s.size() < w)
        s = left ? s + std::string(w - s.size(), ' ')
                 : std::string(w - s.size(), ' ') + s;
      return s;
    };
    std::cout << "\n"
              << pad("step", width, true) << "  " << pad("median ms", 10, false)
              << "  " << pad("% total", 7, false) << "  "
              << pad("GFLOP/s", 8, false);
    if (o.peak)
      std::cout << "  " << pad("% peak", 6, false);
    std::cout << "\n";
    for (const Row &r : rows) {
      int64_t f = api.step_flops(r.step);
      bool hasRate = f > 0 && r.sec > 0;
      double rate = hasRate ? double(f) / r.sec / 1e9 : 0;
      std::cout << pad(api.step_name(r.step), width, true) << "  "
                << pad(fmt("%.4f", r.sec * 1e3), 10, false) << "  "
                << pad(fmt("%.1f", med > 0 ? 100 * r.sec / med : 0), 7, false)
                << "  " << pad(hasRate ? fmt("%.2f", rate) : "-", 8, false);
      if (o.peak)
        std::cout << "  "
                  << pad(hasRate && peakUsed > 0
                             ? fmt("%.1f", 100 * rate / peakUsed)
                             : "-",
                         6, false);
      std::cout << "\n";
    }
  }
  return 0;
}

} // namespace cnnc
