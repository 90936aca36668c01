/*===- scripts/gpu_check/harness.c - run a cnnc model from raw files -------===*
 *
 * A model runner with no dependency but the C library, so that it runs on a
 * GPU machine that has neither Halide nor LLVM nor protobuf (the model
 * libraries themselves need only libc, libm, libpthread and libdl):
 *
 *   harness run   LIB [--repeat N] [--threads T] IN... -- OUT...
 *       binds raw input files (in the model's input order), runs inference,
 *       writes raw outputs; with --repeat, also runs N more times and
 *       prints "first run X ms; median Y ms (min, max) over N".
 *   harness device LIB IN... -- OUT...
 *       the same through the model's device memory: device_alloc for every
 *       input and output, device_upload, run_function_device (inference),
 *       device_download (GPU models).
 *   harness train LIB X LABELS STEPS PARAMS_OUT [--lr R]
 *       STEPS train_steps on one batch; prints each loss; writes every
 *       trainable parameter, in model order, raw, to PARAMS_OUT; prints
 *       the median step time.
 *
 * Exit status 0 on success; errors name the model's last_error.
 *===----------------------------------------------------------------------===*/
#include "cnnc_runtime.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static size_t dtype_size(cnnc_dtype t) {
  switch (t) {
  case CNNC_F64: case CNNC_I64: return 8;
  case CNNC_F32: case CNNC_I32: return 4;
  default: return 1;
  }
}

static size_t desc_bytes(const cnnc_tensor_desc *d) {
  return (size_t)d->num_elements * dtype_size(d->dtype);
}

static cnnc_tensor tensor_of(const cnnc_tensor_desc *d, void *data) {
  cnnc_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.dtype = d->dtype;
  t.rank = d->rank;
  for (int i = 0; i < d->rank; ++i)
    t.dims[i] = d->dims[i];
  return t;
}

static void *read_file(const char *path, size_t want) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "harness: cannot open '%s'\n", path);
    exit(1);
  }
  void *buf = aligned_alloc(64, (want + 63) / 64 * 64 + 64);
  size_t got = fread(buf, 1, want + 1, f);
  fclose(f);
  if (got != want) {
    fprintf(stderr, "harness: '%s' has %zu bytes, the model wants %zu\n", path,
            got, want);
    exit(1);
  }
  return buf;
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "harness: cannot write '%s'\n", path);
    exit(1);
  }
}

static const cnnc_model_api *load(const char *lib) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "harness: %s\n", dlerror());
    exit(1);
  }
  cnnc_model_api_fn fn = (cnnc_model_api_fn)dlsym(h, CNNC_MODEL_API_SYMBOL);
  if (!fn || !fn() || fn()->abi_version != CNNC_ABI_VERSION) {
    fprintf(stderr, "harness: '%s' is not a cnnc model of ABI %d\n", lib,
            CNNC_ABI_VERSION);
    exit(1);
  }
  return fn();
}

#define CHECK(api, ctx, call)                                                \
  do {                                                                       \
    if ((call) != CNNC_OK) {                                                 \
      fprintf(stderr, "harness: %s\n", (api)->last_error(ctx));              \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

static int run(int argc, char **argv) {
  const cnnc_model_api *api = load(argv[2]);
  int repeat = 0, threads = 0, i = 3;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i += 2) {
    if (i + 1 >= argc)
      break;
    if (strcmp(argv[i], "--repeat") == 0)
      repeat = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--threads") == 0)
      threads = atoi(argv[i + 1]);
  }
  size_t ni = api->num_inputs, no = api->num_outputs;
  if (argc - i != (int)(ni + no + 1) || strcmp(argv[i + ni], "--") != 0) {
    fprintf(stderr, "harness: model '%s' takes %zu inputs and %zu outputs\n",
            api->name, ni, no);
    return 1;
  }
  cnnc_tensor *in = calloc(ni + 1, sizeof *in), *out = calloc(no + 1, sizeof *out);
  for (size_t k = 0; k < ni; ++k)
    in[k] = tensor_of(&api->inputs[k],
                      read_file(argv[i + k], desc_bytes(&api->inputs[k])));
  for (size_t k = 0; k < no; ++k)
    out[k] = tensor_of(&api->outputs[k],
                       aligned_alloc(64, (desc_bytes(&api->outputs[k]) + 63) / 64 * 64 + 64));
  cnnc_ctx *ctx = NULL;
  CHECK(api, NULL, api->create(&ctx));
  if (threads > 0)
    CHECK(api, ctx, api->set_num_threads(ctx, threads));
  double t0 = now_ms();
  CHECK(api, ctx, api->run(ctx, in, ni, out, no));
  double first = now_ms() - t0;
  for (size_t k = 0; k < no; ++k)
    write_file(argv[i + ni + 1 + k], out[k].data, desc_bytes(&api->outputs[k]));
  if (repeat > 0) {
    double *t = calloc((size_t)repeat, sizeof *t);
    for (int r = 0; r < repeat; ++r) {
      double s = now_ms();
      CHECK(api, ctx, api->run(ctx, in, ni, out, no));
      t[r] = now_ms() - s;
    }
    qsort(t, (size_t)repeat, sizeof *t, cmp_double);
    printf("first run %.3f ms; median %.3f ms (min %.3f, max %.3f) over %d\n",
           first, t[repeat / 2], t[0], t[repeat - 1], repeat);
    free(t);
  }
  api->destroy(ctx);
  return 0;
}

static int device(int argc, char **argv) {
  const cnnc_model_api *api = load(argv[2]);
  size_t ni = api->num_inputs, no = api->num_outputs;
  if (argc != (int)(3 + ni + 1 + no) || strcmp(argv[3 + ni], "--") != 0) {
    fprintf(stderr, "harness: model '%s' takes %zu inputs and %zu outputs\n",
            api->name, ni, no);
    return 1;
  }
  cnnc_ctx *ctx = NULL;
  CHECK(api, NULL, api->create(&ctx));
  cnnc_tensor *in = calloc(ni + 1, sizeof *in), *out = calloc(no + 1, sizeof *out);
  for (size_t k = 0; k < ni + no; ++k) {
    const cnnc_tensor_desc *d = k < ni ? &api->inputs[k] : &api->outputs[k - ni];
    void *mem = NULL;
    CHECK(api, ctx, api->device_alloc(ctx, desc_bytes(d), &mem));
    if (k < ni) {
      void *host = read_file(argv[3 + k], desc_bytes(d));
      CHECK(api, ctx, api->device_upload(ctx, mem, host, desc_bytes(d)));
      free(host);
      in[k] = tensor_of(d, mem);
    } else {
      out[k - ni] = tensor_of(d, mem);
    }
  }
  CHECK(api, ctx, api->run_function_device(ctx, api->function_names[0], in, ni, out, no));
  for (size_t k = 0; k < no; ++k) {
    size_t b = desc_bytes(&api->outputs[k]);
    void *host = malloc(b + 1);
    CHECK(api, ctx, api->device_download(ctx, host, out[k].data, b));
    write_file(argv[4 + ni + k], host, b);
    free(host);
  }
  CHECK(api, ctx, api->device_free(ctx, in[0].data));
  printf("device memory: %zu inputs uploaded, %zu outputs downloaded\n", ni, no);
  api->destroy(ctx); /* frees the rest */
  return 0;
}

static int train(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: harness train LIB X LABELS STEPS PARAMS_OUT [--lr R]\n");
    return 2;
  }
  const cnnc_model_api *api = load(argv[2]);
  if (!api->optimizer[0]) {
    fprintf(stderr, "harness: '%s' was not compiled with --train\n", argv[2]);
    return 1;
  }
  int steps = atoi(argv[5]);
  const cnnc_tensor_desc *xd = &api->inputs[0];
  cnnc_tensor x = tensor_of(xd, read_file(argv[3], desc_bytes(xd)));
  cnnc_tensor_desc ld;
  int64_t n = xd->dims[0];
  memset(&ld, 0, sizeof ld);
  ld.dtype = CNNC_I64;
  ld.rank = 1;
  ld.dims = &n;
  ld.num_elements = n;
  cnnc_tensor labels = tensor_of(&ld, read_file(argv[4], (size_t)n * 8));
  cnnc_ctx *ctx = NULL;
  CHECK(api, NULL, api->create(&ctx));
  if (argc > 8 && strcmp(argv[7], "--lr") == 0) {
    cnnc_train_config cfg;
    CHECK(api, ctx, api->get_train_config(ctx, &cfg));
    cfg.learning_rate = atof(argv[8]);
    CHECK(api, ctx, api->set_train_config(ctx, &cfg));
  }
  double *t = calloc((size_t)steps + 1, sizeof *t);
  for (int s = 0; s < steps; ++s) {
    double loss, t0 = now_ms();
    CHECK(api, ctx, api->train_step(ctx, &x, &labels, &loss, NULL));
    t[s] = now_ms() - t0;
    printf("step %d loss %.6f\n", s + 1, loss);
  }
  qsort(t, (size_t)steps, sizeof *t, cmp_double);
  printf("train_step median %.3f ms over %d steps\n",
         t[steps / 2], steps);
  FILE *f = fopen(argv[6], "wb");
  if (!f) {
    fprintf(stderr, "harness: cannot write '%s'\n", argv[6]);
    return 1;
  }
  for (size_t p = 0; p < api->num_params; ++p) {
    if (!api->params[p].trainable)
      continue;
    size_t b = desc_bytes(&api->params[p]);
    void *buf = malloc(b + 1);
    CHECK(api, ctx, api->get_param(ctx, api->params[p].name, buf, b));
    fwrite(buf, 1, b, f);
    free(buf);
  }
  fclose(f);
  api->destroy(ctx);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "run") == 0)
    return run(argc, argv);
  if (argc >= 3 && strcmp(argv[1], "train") == 0)
    return train(argc, argv);
  if (argc >= 3 && strcmp(argv[1], "device") == 0)
    return device(argc, argv);
  fprintf(stderr, "usage: harness run LIB [--repeat N] [--threads T] IN... -- OUT...\n"
                  "       harness device LIB IN... -- OUT...\n"
                  "       harness train LIB X LABELS STEPS PARAMS_OUT [--lr R]\n");
  return 2;
}
