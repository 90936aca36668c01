/*===- bench/train_throughput.c - training-step throughput of a cnnc model -===*
 *
 * Usage: train_throughput <model.so> [--threads N] [--warmup W] [--iters K]
 *                         [--seed S] [--profile]
 *
 * Loads a model compiled with `cnnc ... --train`, fills its input with
 * seeded uniform random values in [-1, 1) and its labels with seeded random
 * classes in [0, C), sets the thread count, runs W warm-up train_steps and
 * then K timed ones, and prints one line:
 *
 *   images_per_sec=<x> ms_per_step=<y> params=<p> loss=<l>
 *
 * ms_per_step is the median over the K steps of the per-step wall time
 * (CLOCK_MONOTONIC); images_per_sec = batch / median. params is the number
 * of trainable parameter elements (for checking an architecture against
 * another framework), loss the last step's loss (a sanity check only).
 * --profile then runs one more step with the runtime's per-step profiling
 * on and prints, to stderr, the kernels that took the most time.
 *
 * Build: cc -O2 -I<repo> bench/train_throughput.c -o train_throughput -ldl
 *===----------------------------------------------------------------------===*/
#define _POSIX_C_SOURCE 200809L
#include "runtime/cnnc_runtime.h"

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s <model.so> [--threads N] [--warmup W] [--iters K] "
          "[--seed S] [--profile]\n",
          argv0);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift64*: deterministic across libcs, unlike rand(). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}
static double rng_uniform(void) { /* [0, 1) */
  return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int parse_int(const char *s, long *out) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (!s[0] || *end) return 0;
  *out = v;
  return 1;
}

#define CHECK(call, what)                                                     \
  do {                                                                        \
    cnnc_status st_ = (call);                                                 \
    if (st_ != CNNC_OK) {                                                     \
      fprintf(stderr, "train_throughput: %s failed (status %d): %s\n", what, \
              (int)st_, api->last_error(ctx));                                \
      goto fail;                                                              \
    }                                                                         \
  } while (0)

int main(int argc, char **argv) {
  const char *path = NULL;
  long threads = 1, warmup = 5, iters = 20, seed = 1;
  int profile = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    long *dst = NULL;
    if (!strcmp(a, "--threads")) dst = &threads;
    else if (!strcmp(a, "--warmup")) dst = &warmup;
    else if (!strcmp(a, "--iters")) dst = &iters;
    else if (!strcmp(a, "--seed")) dst = &seed;
    else if (!strcmp(a, "--profile")) {
      profile = 1;
      continue;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(argv[0]);
      return 0;
    } else if (a[0] == '-') {
      fprintf(stderr, "train_throughput: unknown flag %s\n", a);
      usage(argv[0]);
      return 2;
    } else if (!path) {
      path = a;
      continue;
    } else {
      fprintf(stderr, "train_throughput: extra argument %s\n", a);
      return 2;
    }
    if (i + 1 >= argc || !parse_int(argv[i + 1], dst)) {
      fprintf(stderr, "train_throughput: %s needs an integer\n", a);
      return 2;
    }
    ++i;
  }
  if (!path || threads < 1 || warmup < 0 || iters < 1) {
    usage(argv[0]);
    return 2;
  }
  rng_state ^= (uint64_t)seed * 0xD1B54A32D192ED03ull;
  if (!rng_state) rng_state = 1;

  /* dlopen searches the library path for a bare name: make it a path. */
  char pathbuf[4096];
  if (!strchr(path, '/') && strlen(path) + 3 <= sizeof pathbuf) {
    snprintf(pathbuf, sizeof pathbuf, "./%s", path);
    path = pathbuf;
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "train_throughput: dlopen %s: %s\n", path, dlerror());
    return 1;
  }
  cnnc_model_api_fn get_api =
      (cnnc_model_api_fn)dlsym(h, CNNC_MODEL_API_SYMBOL);
  if (!get_api) {
    fprintf(stderr, "train_throughput: %s has no %s: %s\n", path,
            CNNC_MODEL_API_SYMBOL, dlerror());
    return 1;
  }
  const cnnc_model_api *api = get_api();
  if (!api) {
    fprintf(stderr, "train_throughput: %s returned NULL\n",
            CNNC_MODEL_API_SYMBOL);
    return 1;
  }
  if (api->abi_version != CNNC_ABI_VERSION) {
    fprintf(stderr,
            "train_throughput: model ABI version %u, this program was built "
            "for %d\n",
            api->abi_version, CNNC_ABI_VERSION);
    return 1;
  }
  if (!api->optimizer || !api->optimizer[0]) {
    fprintf(stderr,
            "train_throughput: %s was not compiled with --train\n", path);
    return 1;
  }
  if (api->num_inputs < 1 || api->num_outputs < 1) {
    fprintf(stderr, "train_throughput: model has no input or no output\n");
    return 1;
  }
  const cnnc_tensor_desc *in = &api->inputs[0];
  const cnnc_tensor_desc *out = &api->outputs[0];
  if (in->dtype != CNNC_F32 && in->dtype != CNNC_F64) {
    fprintf(stderr, "train_throughput: input dtype %d is not f32/f64\n",
            (int)in->dtype);
    return 1;
  }
  if (in->rank < 1 || out->rank != 2 || in->rank > CNNC_MAX_RANK) {
    fprintf(stderr,
            "train_throughput: expected input rank >= 1 and output [N, C], "
            "got ranks %d and %d\n",
            in->rank, out->rank);
    return 1;
  }
  const int64_t batch = in->dims[0];
  const int64_t classes = out->dims[1];
  if (batch < 1 || classes < 1 || out->dims[0] != batch) {
    fprintf(stderr, "train_throughput: bad batch %lld / classes %lld\n",
            (long long)batch, (long long)classes);
    return 1;
  }

  int64_t nparams = 0;
  for (size_t i = 0; i < api->num_params; ++i)
    if (api->params[i].trainable) nparams += api->params[i].num_elements;

  int rc = 1;
  cnnc_ctx *ctx = NULL;
  void *xdata = NULL;
  int64_t *ldata = NULL;
  double *times = NULL;

  CHECK(api->create(&ctx), "create");
  CHECK(api->set_num_threads(ctx, (int)threads), "set_num_threads");
  {
    cnnc_train_config cfg;
    CHECK(api->get_train_config(ctx, &cfg), "get_train_config");
    cfg.learning_rate = 0.01; /* the same as the PyTorch side */
    CHECK(api->set_train_config(ctx, &cfg), "set_train_config");
  }

  const size_t esize = in->dtype == CNNC_F32 ? sizeof(float) : sizeof(double);
  xdata = malloc((size_t)in->num_elements * esize);
  ldata = malloc((size_t)batch * sizeof(int64_t));
  times = malloc((size_t)iters * sizeof(double));
  if (!xdata || !ldata || !times) {
    fprintf(stderr, "train_throughput: out of memory\n");
    goto fail;
  }
  for (int64_t i = 0; i < in->num_elements; ++i) {
    double v = 2.0 * rng_uniform() - 1.0;
    if (in->dtype == CNNC_F32) ((float *)xdata)[i] = (float)v;
    else ((double *)xdata)[i] = v;
  }
  for (int64_t i = 0; i < batch; ++i)
    ldata[i] = (int64_t)(rng_next() % (uint64_t)classes);

  cnnc_tensor x;
  memset(&x, 0, sizeof x);
  x.data = xdata;
  x.dtype = in->dtype;
  x.rank = in->rank;
  for (int d = 0; d < in->rank; ++d) x.dims[d] = in->dims[d];
  cnnc_tensor labels;
  memset(&labels, 0, sizeof labels);
  labels.data = ldata;
  labels.dtype = CNNC_I64;
  labels.rank = 1;
  labels.dims[0] = batch;

  double loss = NAN;
  for (long i = 0; i < warmup; ++i)
    CHECK(api->train_step(ctx, &x, &labels, &loss, NULL), "train_step");
  for (long i = 0; i < iters; ++i) {
    double t0 = now_s();
    CHECK(api->train_step(ctx, &x, &labels, &loss, NULL), "train_step");
    times[i] = now_s() - t0;
  }
  qsort(times, (size_t)iters, sizeof(double), cmp_double);
  double med = iters % 2 ? times[iters / 2]
                         : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
  if (!(med > 0)) {
    fprintf(stderr, "train_throughput: non-positive median step time\n");
    goto fail;
  }
  if (!isfinite(loss)) {
    fprintf(stderr, "train_throughput: warning: last loss is %g\n", loss);
  }
  printf("images_per_sec=%.1f ms_per_step=%.4f params=%lld loss=%.6g\n",
         (double)batch / med, 1e3 * med, (long long)nparams, loss);
  fflush(stdout);

  if (profile) {
    CHECK(api->set_profiling(ctx, 1), "set_profiling");
    double t0 = now_s();
    CHECK(api->train_step(ctx, &x, &labels, &loss, NULL), "train_step");
    double total = now_s() - t0;
    CHECK(api->set_profiling(ctx, 0), "set_profiling");
    size_t n = api->num_steps, shown = 0;
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
      if (api->step_seconds(ctx, i) > 0) sum += api->step_seconds(ctx, i);
    fprintf(stderr, "profile: one train_step %.3f ms, kernels %.3f ms\n",
            1e3 * total, 1e3 * sum);
    /* Top kernels by time (selection by repeated max; n is small). */
    double last = INFINITY;
    while (shown < 15) {
      double best = 0;
      size_t bi = n;
      for (size_t i = 0; i < n; ++i) {
        double t = api->step_seconds(ctx, i);
        if (t > 0 && t < last && t > best) best = t, bi = i;
      }
      if (bi == n) break;
      int64_t fl = api->step_flops(bi);
      fprintf(stderr, "profile: %8.3f ms %5.1f%%  %-40s %10.3f GFLOP/s\n",
              1e3 * best, 100.0 * best / (sum > 0 ? sum : 1),
              api->step_name(bi), fl > 0 ? 1e-9 * (double)fl / best : 0.0);
      last = best;
      ++shown;
    }
  }
  rc = 0;

fail:
  if (ctx) api->destroy(ctx);
  free(xdata);
  free(ldata);
  free(times);
  /* No dlclose: Halide's runtime may still own threads in the library. */
  return rc;
}
