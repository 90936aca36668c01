/*===- bench/ab_infer.c - two cnnc models' inference, alternating in one process
 *
 * Usage: ab_infer <a.so> <b.so> [--runs N] [--threads T]
 *
 * Loads two models compiled by cnnc (any two, usually one network built two
 * ways: before and after a change), fills each one's inputs with the same
 * seeded values (floats uniform in [-1, 1), integers zero), runs 3 warm-up
 * inferences of each and then N rounds, each timing one run of a and one of
 * b (CLOCK_MONOTONIC), each after an untimed run of the same model, the
 * order swapped every other round. Prints:
 *
 *   a min <ms> median <ms> | b min <ms> median <ms> | b/a min <x> median <x>
 *
 * Why: on a shared machine the speed of separate processes drifts by
 * 15-25% over minutes, more than most changes are worth; two models
 * interleaved run by run in one process see the same drift. Both models
 * carry their own Halide runtime and thread pool (dlopen RTLD_LOCAL); with
 * T > 1 each ctx applies its own thread count for its runs.
 *
 * Build: cc -O2 -I<repo> bench/ab_infer.c -o ab_infer -ldl
 *===----------------------------------------------------------------------===*/
#define _POSIX_C_SOURCE 200809L
#include "runtime/cnnc_runtime.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TENSORS 16

typedef struct {
  const char *path;
  const cnnc_model_api *api;
  cnnc_ctx *ctx;
  cnnc_tensor in[MAX_TENSORS], out[MAX_TENSORS];
} model;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static size_t dtype_size(cnnc_dtype t) {
  switch (t) {
  case CNNC_F64:
  case CNNC_I64:
    return 8;
  case CNNC_BOOL:
    return 1;
  default:
    return 4;
  }
}

/* Binds t to fresh memory for desc; floats uniform in [-1, 1) from seed. */
static int bind(cnnc_tensor *t, const cnnc_tensor_desc *d, uint64_t *seed) {
  size_t n = (size_t)d->num_elements, es = dtype_size(d->dtype);
  t->data = calloc(n ? n : 1, es);
  if (!t->data)
    return -1;
  t->dtype = d->dtype;
  t->rank = d->rank;
  memcpy(t->dims, d->dims, sizeof(int64_t) * (size_t)d->rank);
  for (size_t i = 0; i < n && (d->dtype == CNNC_F32 || d->dtype == CNNC_F64); ++i) {
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(*seed >> 11) / 9007199254740992.0 * 2.0 - 1.0;
    if (d->dtype == CNNC_F32)
      ((float *)t->data)[i] = (float)u;
    else
      ((double *)t->data)[i] = u;
  }
  return 0;
}

static int load(model *m, int threads) {
  /* dlopen searches the library path for a name without a '/'. */
  char local[4096];
  const char *path = m->path;
  if (!strchr(path, '/') && strlen(path) + 3 <= sizeof local) {
    snprintf(local, sizeof local, "./%s", path);
    path = local;
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "ab_infer: cannot load '%s': %s\n", m->path, dlerror());
    return -1;
  }
  const cnnc_model_api *(*get)(void) =
      (const cnnc_model_api *(*)(void))dlsym(h, "cnnc_model_api");
  if (!get) {
    fprintf(stderr, "ab_infer: '%s' exports no cnnc_model_api\n", m->path);
    return -1;
  }
  m->api = get();
  if (m->api->abi_version != CNNC_ABI_VERSION) {
    fprintf(stderr, "ab_infer: '%s' has ABI version %u, this tool %d\n",
            m->path, m->api->abi_version, CNNC_ABI_VERSION);
    return -1;
  }
  if (m->api->num_inputs > MAX_TENSORS || m->api->num_outputs > MAX_TENSORS) {
    fprintf(stderr, "ab_infer: '%s' has more than %d inputs or outputs\n",
            m->path, MAX_TENSORS);
    return -1;
  }
  if (m->api->create(&m->ctx) != CNNC_OK) {
    fprintf(stderr, "ab_infer: '%s': create: %s\n", m->path,
            m->api->last_error(NULL));
    return -1;
  }
  if (threads > 0 && m->api->set_num_threads(m->ctx, threads) != CNNC_OK) {
    fprintf(stderr, "ab_infer: '%s': set_num_threads: %s\n", m->path,
            m->api->last_error(m->ctx));
    return -1;
  }
  uint64_t seed = 1;
  for (size_t i = 0; i < m->api->num_inputs; ++i)
    if (bind(&m->in[i], &m->api->inputs[i], &seed))
      return -1;
  for (size_t i = 0; i < m->api->num_outputs; ++i)
    if (bind(&m->out[i], &m->api->outputs[i], &seed))
      return -1;
  return 0;
}

static double run(model *m) {
  double t = now_ms();
  if (m->api->run(m->ctx, m->in, m->api->num_inputs, m->out,
                  m->api->num_outputs) != CNNC_OK) {
    fprintf(stderr, "ab_infer: '%s': run: %s\n", m->path,
            m->api->last_error(m->ctx));
    exit(1);
  }
  return now_ms() - t;
}

int main(int argc, char **argv) {
  model m[2];
  memset(m, 0, sizeof m);
  int runs = 40, threads = 0, paths = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (argv[i][0] != '-' && paths < 2)
      m[paths++].path = argv[i];
    else {
      fprintf(stderr, "ab_infer: unexpected argument '%s'\n", argv[i]);
      paths = -1;
      break;
    }
  }
  if (paths != 2 || runs < 1 || threads < 0) {
    fprintf(stderr, "usage: %s <a.so> <b.so> [--runs N >= 1] [--threads T >= 1]\n",
            argv[0]);
    return 2;
  }
  if (load(&m[0], threads) || load(&m[1], threads))
    return 1;
  for (int i = 0; i < 3; ++i) {
    run(&m[0]);
    run(&m[1]);
  }
  double *t[2] = {malloc(sizeof(double) * (size_t)runs),
                  malloc(sizeof(double) * (size_t)runs)};
  if (!t[0] || !t[1])
    return 1;
  for (int i = 0; i < runs; ++i) {
    int first = i & 1;
    /* Each timed run right after an untimed one of the same model: the
     * other library's pool workers spin for 200 us after its run, which
     * would slow the first part of this one. */
    run(&m[first]);
    t[first][i] = run(&m[first]);
    run(&m[1 - first]);
    t[1 - first][i] = run(&m[1 - first]);
  }
  qsort(t[0], (size_t)runs, sizeof(double), cmp_double);
  qsort(t[1], (size_t)runs, sizeof(double), cmp_double);
  double a_min = t[0][0], a_med = t[0][runs / 2], b_min = t[1][0],
         b_med = t[1][runs / 2];
  printf("a min %.3f median %.3f | b min %.3f median %.3f | b/a min %.3f "
         "median %.3f\n",
         a_min, a_med, b_min, b_med, b_min / a_min, b_med / a_med);
  for (int k = 0; k < 2; ++k) {
    m[k].api->destroy(m[k].ctx);
    free(t[k]);
  }
  return 0;
}
