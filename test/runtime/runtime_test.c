/*===- test/runtime/runtime_test.c - tests of the C runtime ---------------===*
 *
 * Usage: cnnc_runtime_test [path/to/libcnnc_rt_testmodel.so]
 * Runs every test, prints each failed check, exits 1 if any failed.
 * Built with CNNC_TEST_FAKE_THREADS it also defines
 * halide_set_custom_do_par_for (as Halide's runtime does in a model.so),
 * checks that the runtime installs its thread pool there, and tests the
 * pool through that hook.
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include "runtime/cnnc_weights_format.h"
#include "test_model.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
static int checks;

#define CHECK(cond)                                                           \
  do {                                                                        \
    ++checks;                                                                 \
    if (!(cond)) {                                                            \
      ++failures;                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                         \
  } while (0)

#define CHECK_STATUS(expr, want)                                              \
  do {                                                                        \
    ++checks;                                                                 \
    cnnc_status got_ = (expr);                                                \
    if (got_ != (want)) {                                                     \
      ++failures;                                                             \
      fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s)\n", __FILE__,  \
              __LINE__, #expr, (int)got_, (int)(want), #want);                \
    }                                                                         \
  } while (0)

/* The message must contain `part`. */
#define CHECK_MSG(msg, part)                                                  \
  do {                                                                        \
    ++checks;                                                                 \
    const char *m_ = (msg);                                                   \
    if (!m_ || !strstr(m_, (part))) {                                         \
      ++failures;                                                             \
      fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,        \
              __LINE__, m_ ? m_ : "(null)", (part));                          \
    }                                                                         \
  } while (0)

#define CHECK_MSG_EQ(msg, want)                                               \
  do {                                                                        \
    ++checks;                                                                 \
    const char *m_ = (msg);                                                   \
    if (!m_ || strcmp(m_, (want)) != 0) {                                     \
      ++failures;                                                             \
      fprintf(stderr, "%s:%d: message \"%s\", expected \"%s\"\n", __FILE__,   \
              __LINE__, m_ ? m_ : "(null)", (want));                          \
    }                                                                         \
  } while (0)

#ifdef CNNC_TEST_FAKE_THREADS
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
static int fake_hook_calls;
static halide_do_par_for_t fake_hook;
halide_do_par_for_t halide_set_custom_do_par_for(halide_do_par_for_t f) {
  halide_do_par_for_t old = fake_hook;
  ++fake_hook_calls;
  fake_hook = f;
  return old;
}
#endif

static char tmpdir[256];

static char *tmp_path(const char *name) {
  static char buf[8][512];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Reads a whole file; *size gets its length. Caller frees. */
static unsigned char *read_all(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(*size > 0 ? (size_t)*size : 1);
  if (buf && fread(buf, 1, (size_t)*size, f) != (size_t)*size) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  return buf;
}

static int write_all(const char *path, const unsigned char *buf, long size) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  int ok = fwrite(buf, 1, (size_t)size, f) == (size_t)size;
  return fclose(f) == 0 && ok;
}

static int copy_file(const char *from, const char *to) {
  long size;
  unsigned char *buf = read_all(from, &size);
  if (!buf)
    return 0;
  int ok = write_all(to, buf, size);
  free(buf);
  return ok;
}

/* An f32 tensor over data: [d0] (d1 = 0) or [d0, d1]. */
static cnnc_tensor tensor_f32(float *data, int64_t d0, int64_t d1) {
  cnnc_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.dtype = CNNC_F32;
  t.rank = d1 ? 2 : 1;
  t.dims[0] = d0;
  t.dims[1] = d1;
  return t;
}

static cnnc_tensor tensor2x3(float *data) { return tensor_f32(data, 2, 3); }

static const float DATA[6] = {0, 1, 2, 3, 4, 5};

/* out = data + w + k + 1 with k = {10,20,30}. */
static int output_is(const float *out, const float w[3]) {
  static const float k[3] = {10, 20, 30};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      if (out[i * 3 + j] != DATA[i * 3 + j] + w[j] + k[j] + 1.0f)
        return 0;
  return 1;
}

static cnnc_status run_once(const cnnc_model_api *api, cnnc_ctx *ctx,
                            float *out) {
  float in[6];
  memcpy(in, DATA, sizeof in);
  cnnc_tensor ti = tensor2x3(in), to = tensor2x3(out);
  return api->run(ctx, &ti, 1, &to, 1);
}

static const float W0[3] = {1, 2, 3};

/*===--------------------------------------------------------------------===*/

static void test_crc(void) {
  CHECK(cnnc_wf_crc32(0, "123456789", 9) == 0xCBF43926u);
  CHECK(cnnc_wf_crc32(cnnc_wf_crc32(0, "1234", 4), "56789", 5) ==
        0xCBF43926u);
  CHECK(cnnc_wf_crc32(0, "", 0) == 0);
}

static void test_api(const cnnc_model_api *api) {
  CHECK(api != NULL);
  if (!api)
    return;
  CHECK(api == cnnc_rt_get_api());
  CHECK(api->abi_version == CNNC_ABI_VERSION);
  CHECK_MSG_EQ(api->name, "test");
  CHECK_MSG_EQ(api->target, "host");
  CHECK_MSG_EQ(api->device, ""); /* a CPU model */
  CHECK(api->num_inputs == 1 && api->num_outputs == 1 && api->num_params == 2);
  CHECK_MSG_EQ(api->inputs[0].name, "data");
  CHECK(api->inputs[0].dtype == CNNC_F32 && api->inputs[0].rank == 2);
  CHECK(api->inputs[0].dims[0] == 2 && api->inputs[0].dims[1] == 3);
  CHECK(api->inputs[0].num_elements == 6);
  CHECK_MSG_EQ(api->outputs[0].name, "out");
  CHECK_MSG_EQ(api->params[0].name, "w");
  CHECK(api->params[0].trainable == 1 && api->params[1].trainable == 0);
  CHECK(api->params[1].dtype == CNNC_I32 && api->params[1].num_elements == 2);
  /* 64 bytes of arena, then 72 of parameters rounded up to 128. */
  CHECK(api->arena_size == 64 + 128);
  CHECK(api->num_steps == 3);
  CHECK_MSG_EQ(api->step_name(0), "add_w");
  CHECK_MSG_EQ(api->step_name(2), "check");
  CHECK_MSG_EQ(api->step_name(3), "");
  CHECK(api->step_flops(1) == 12);
  CHECK(api->step_flops(99) == -1);
}

static void test_create_run(const cnnc_model_api *api) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  CHECK(ctx != NULL);
  if (!ctx)
    return;
  CHECK_MSG_EQ(api->last_error(ctx), "");
  float out[6] = {0};
  int calls = test_kernel_calls;
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(test_kernel_calls == calls + 3);
  CHECK(output_is(out, W0));
  /* Twice, same answer. */
  memset(out, 0, sizeof out);
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(output_is(out, W0));

  /* The typed entry point. */
  float in[6];
  memcpy(in, DATA, sizeof in);
  memset(out, 0, sizeof out);
  void *ptrs[2] = {in, out};
  CHECK_STATUS(cnnc_rt_infer_ptrs(ctx, ptrs), CNNC_OK);
  CHECK(output_is(out, W0));
  void *null_ptrs[2] = {in, NULL};
  CHECK_STATUS(cnnc_rt_infer_ptrs(ctx, null_ptrs), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG_EQ(api->last_error(ctx), "output 'out': data is null");
  CHECK_STATUS(cnnc_rt_infer_ptrs(ctx, NULL), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(cnnc_rt_infer_ptrs(NULL, ptrs), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG(api->last_error(NULL), "ctx is null");

  /* Two contexts are independent. */
  cnnc_ctx *ctx2 = NULL;
  CHECK_STATUS(api->create(&ctx2), CNNC_OK);
  float w2[3] = {100, 200, 300};
  CHECK_STATUS(api->set_param(ctx2, "w", w2, sizeof w2), CNNC_OK);
  CHECK_STATUS(run_once(api, ctx2, out), CNNC_OK);
  CHECK(output_is(out, w2));
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(output_is(out, W0));
  api->destroy(ctx2);
  api->destroy(ctx);
  api->destroy(NULL); /* a no-op */
}

static void test_shape_mismatch(const cnnc_model_api *api) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  if (!ctx)
    return;
  float in[8] = {0}, out[8] = {0};
  cnnc_tensor ti = tensor2x3(in), to = tensor2x3(out);
  ti.dims[1] = 4;
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 1), CNNC_ERR_SHAPE_MISMATCH);
  CHECK_MSG_EQ(api->last_error(ctx),
               "input 'data': expected f32[2,3], got f32[2,4]");
  ti = tensor2x3(in);
  ti.dtype = CNNC_F64;
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 1), CNNC_ERR_SHAPE_MISMATCH);
  CHECK_MSG_EQ(api->last_error(ctx),
               "input 'data': expected f32[2,3], got f64[2,3]");
  ti = tensor2x3(in);
  ti.rank = 3;
  ti.dims[2] = 1;
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 1), CNNC_ERR_SHAPE_MISMATCH);
  CHECK_MSG_EQ(api->last_error(ctx),
               "input 'data': expected f32[2,3], got f32[2,3,1]");
  ti = tensor2x3(in);
  to.rank = 1;
  to.dims[0] = 6;
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 1), CNNC_ERR_SHAPE_MISMATCH);
  CHECK_MSG_EQ(api->last_error(ctx),
               "output 'out': expected f32[2,3], got f32[6]");
  /* A garbage rank or dtype is reported, not read past. */
  to = tensor2x3(out);
  ti.rank = 1000;
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 1), CNNC_ERR_SHAPE_MISMATCH);
  CHECK_MSG(api->last_error(ctx), "got f32[rank 1000]");
  ti = tensor2x3(in);
  ti.dtype = (cnnc_dtype)42;
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 1), CNNC_ERR_SHAPE_MISMATCH);
  CHECK_MSG(api->last_error(ctx), "got dtype(42)[2,3]");
  /* Still works after all that. */
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(output_is(out, W0));
  api->destroy(ctx);
}

static void test_bad_arguments(const cnnc_model_api *api) {
  CHECK_STATUS(api->create(NULL), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG(api->last_error(NULL), "ctx is null");
  float in[6] = {0}, out[6] = {0};
  cnnc_tensor ti = tensor2x3(in), to = tensor2x3(out);
  CHECK_STATUS(api->run(NULL, &ti, 1, &to, 1), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG_EQ(api->last_error(NULL), "run: ctx is null");

  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  if (!ctx)
    return;
  CHECK_STATUS(api->run(ctx, NULL, 1, &to, 1), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG(api->last_error(ctx), "inputs array is null");
  CHECK_STATUS(api->run(ctx, &ti, 1, NULL, 1), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG(api->last_error(ctx), "outputs array is null");
  CHECK_STATUS(api->run(ctx, &ti, 2, &to, 1), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG_EQ(api->last_error(ctx), "run: model 'test' takes 1 inputs, got 2");
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 0), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG_EQ(api->last_error(ctx), "run: model 'test' has 1 outputs, got 0");
  ti.data = NULL;
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 1), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG_EQ(api->last_error(ctx), "input 'data': data is null");
  /* Misaligned for its f32 elements. */
  char raw[64];
  ti.data = raw + 1;
  CHECK_STATUS(api->run(ctx, &ti, 1, &to, 1), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG(api->last_error(ctx), "not aligned to its 4-byte elements");

  CHECK_STATUS(api->set_num_threads(ctx, 0), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG(api->last_error(ctx), "need at least 1");
  CHECK_STATUS(api->set_num_threads(ctx, -3), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->set_num_threads(NULL, 2), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->set_num_threads(ctx, 2), CNNC_OK);
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(output_is(out, W0));

  CHECK_STATUS(api->get_param(NULL, "w", out, 12), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->get_param(ctx, NULL, out, 12), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->get_param(ctx, "w", NULL, 12), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->save_params(ctx, NULL), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->save_params(ctx, ""), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->load_params(ctx, NULL), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->load_params(NULL, "x"), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->save_params(NULL, "x"), CNNC_ERR_BAD_ARGUMENT);
  CHECK_STATUS(api->set_profiling(NULL, 1), CNNC_ERR_BAD_ARGUMENT);
  CHECK(api->step_seconds(NULL, 0) == -1.0);
  api->destroy(ctx);
}

static void test_kernel_error(const cnnc_model_api *api) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  if (!ctx)
    return;
  float out[6];
  int32_t count[2] = {5, 0};
  CHECK_STATUS(api->set_param(ctx, "count", count, sizeof count), CNNC_OK);
  CHECK_STATUS(run_once(api, ctx, out), CNNC_ERR_KERNEL);
  CHECK_MSG_EQ(api->last_error(ctx),
               "step 'check' failed (Halide error -7): check: count is 5");
  /* halide_error with a null user context, on the calling thread. */
  count[0] = 0;
  count[1] = 9;
  CHECK_STATUS(api->set_param(ctx, "count", count, sizeof count), CNNC_OK);
  CHECK_STATUS(run_once(api, ctx, out), CNNC_ERR_KERNEL);
  CHECK_MSG_EQ(api->last_error(ctx), "step 'check' failed (Halide error -8): "
                                     "check without context: 9");
  count[1] = 0;
  CHECK_STATUS(api->set_param(ctx, "count", count, sizeof count), CNNC_OK);
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(output_is(out, W0));
  api->destroy(ctx);
}

static void test_params(const cnnc_model_api *api) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  if (!ctx)
    return;
  float w[3] = {0};
  CHECK_STATUS(api->get_param(ctx, "w", w, sizeof w), CNNC_OK);
  CHECK(w[0] == 1 && w[1] == 2 && w[2] == 3);
  int32_t count[2] = {7, 7};
  CHECK_STATUS(api->get_param(ctx, "count", count, sizeof count), CNNC_OK);
  CHECK(count[0] == 0 && count[1] == 0);
  CHECK_STATUS(api->get_param(ctx, "w", w, 8), CNNC_ERR_SHAPE_MISMATCH);
  CHECK_MSG_EQ(api->last_error(ctx),
               "get_param: parameter 'w' is f32[3], 12 bytes; got 8 bytes");
  CHECK_STATUS(api->set_param(ctx, "w", w, 16), CNNC_ERR_SHAPE_MISMATCH);
  CHECK_STATUS(api->get_param(ctx, "nope", w, sizeof w), CNNC_ERR_NOT_FOUND);
  CHECK_MSG_EQ(api->last_error(ctx),
               "get_param: model 'test' has no parameter 'nope'");
  CHECK_STATUS(api->set_param(ctx, "data", w, sizeof w), CNNC_ERR_NOT_FOUND);
  float w2[3] = {-1, 0.5f, 8};
  CHECK_STATUS(api->set_param(ctx, "w", w2, sizeof w2), CNNC_OK);
  CHECK_STATUS(api->get_param(ctx, "w", w, sizeof w), CNNC_OK);
  CHECK(memcmp(w, w2, sizeof w) == 0);
  float out[6];
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(output_is(out, w2));
  /* The embedded weights are not changed: a new ctx starts from them. */
  cnnc_ctx *fresh = NULL;
  CHECK_STATUS(api->create(&fresh), CNNC_OK);
  CHECK_STATUS(api->get_param(fresh, "w", w, sizeof w), CNNC_OK);
  CHECK(memcmp(w, W0, sizeof w) == 0);
  api->destroy(fresh);
  api->destroy(ctx);
}

static void test_profiling(const cnnc_model_api *api) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  if (!ctx)
    return;
  float out[6];
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(api->step_seconds(ctx, 0) == 0.0);
  CHECK_STATUS(api->set_profiling(ctx, 1), CNNC_OK);
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  for (size_t i = 0; i < api->num_steps; ++i)
    CHECK(api->step_seconds(ctx, i) >= 0.0 && api->step_seconds(ctx, i) < 1.0);
  CHECK(api->step_seconds(ctx, api->num_steps) == -1.0);
  CHECK_STATUS(api->set_profiling(ctx, 0), CNNC_OK);
  api->destroy(ctx);
}

static void test_save_load(const cnnc_model_api *api) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  if (!ctx)
    return;
  const char *path = tmp_path("ckpt.bin");
  float w2[3] = {4, 5, 6};
  int32_t c2[2] = {0, 0};
  CHECK_STATUS(api->set_param(ctx, "w", w2, sizeof w2), CNNC_OK);
  CHECK_STATUS(api->save_params(ctx, path), CNNC_OK);
  CHECK(file_exists(path));
  CHECK(!file_exists(tmp_path("ckpt.bin.tmp")));

  /* The layout of cnnc_weights_format.h, byte for byte. */
  long size = 0;
  unsigned char *buf = read_all(path, &size);
  CHECK(buf != NULL);
  if (!buf) {
    api->destroy(ctx);
    return;
  }
  /* magic, count, w: 4+1+4+4+8+8+12, count: 4+5+4+4+8+8+8, crc */
  CHECK(size == 8 + 4 + (4 + 1 + 4 + 4 + 8 + 8 + 12) +
                    (4 + 5 + 4 + 4 + 8 + 8 + 8) + 4);
  CHECK(memcmp(buf, "CNNCPRM1", 8) == 0);
  CHECK(buf[8] == 2 && buf[9] == 0 && buf[10] == 0 && buf[11] == 0);
  CHECK(buf[12] == 1 && buf[16] == 'w');
  uint32_t crc = cnnc_wf_crc32(0, buf, (size_t)size - 4);
  CHECK(buf[size - 4] == (crc & 0xFF) && buf[size - 1] == (crc >> 24));

  /* Round trip. */
  float zero[3] = {0, 0, 0};
  CHECK_STATUS(api->set_param(ctx, "w", zero, sizeof zero), CNNC_OK);
  CHECK_STATUS(api->load_params(ctx, path), CNNC_OK);
  float w[3];
  CHECK_STATUS(api->get_param(ctx, "w", w, sizeof w), CNNC_OK);
  CHECK(memcmp(w, w2, sizeof w) == 0);
  int32_t c[2] = {1, 1};
  CHECK_STATUS(api->get_param(ctx, "count", c, sizeof c), CNNC_OK);
  CHECK(memcmp(c, c2, sizeof c) == 0);

  /* A flipped byte in the data: rejected, parameters untouched. */
  float sentinel[3] = {-9, -9, -9};
  CHECK_STATUS(api->set_param(ctx, "w", sentinel, sizeof sentinel), CNNC_OK);
  const char *bad = tmp_path("flipped.bin");
  buf[30] ^= 0x10;
  CHECK(write_all(bad, buf, size));
  CHECK_STATUS(api->load_params(ctx, bad), CNNC_ERR_CORRUPT);
  CHECK_MSG(api->last_error(ctx), "checksum mismatch");
  CHECK_MSG(api->last_error(ctx), "flipped.bin");
  CHECK_STATUS(api->get_param(ctx, "w", w, sizeof w), CNNC_OK);
  CHECK(memcmp(w, sentinel, sizeof w) == 0);
  buf[30] ^= 0x10;
  /* A flipped byte in the checksum itself. */
  buf[size - 1] ^= 0x01;
  CHECK(write_all(bad, buf, size));
  CHECK_STATUS(api->load_params(ctx, bad), CNNC_ERR_CORRUPT);
  CHECK_MSG(api->last_error(ctx), "checksum mismatch");
  buf[size - 1] ^= 0x01;
  /* Truncated. */
  CHECK(write_all(bad, buf, size - 7));
  CHECK_STATUS(api->load_params(ctx, bad), CNNC_ERR_CORRUPT);
  CHECK(write_all(bad, buf, 10));
  CHECK_STATUS(api->load_params(ctx, bad), CNNC_ERR_CORRUPT);
  CHECK_MSG(api->last_error(ctx), "truncated");
  CHECK(write_all(bad, buf, 0));
  CHECK_STATUS(api->load_params(ctx, bad), CNNC_ERR_CORRUPT);
  CHECK_MSG(api->last_error(ctx), "not a cnnc parameter file");
  /* Not ours at all. */
  CHECK(write_all(bad, (const unsigned char *)"GARBAGE!GARBAGE!GARBAGE!", 24));
  CHECK_STATUS(api->load_params(ctx, bad), CNNC_ERR_CORRUPT);
  CHECK_MSG(api->last_error(ctx), "bad magic");
  CHECK_STATUS(api->load_params(ctx, tmp_path("missing.bin")),
               CNNC_ERR_NOT_FOUND);
  CHECK_MSG(api->last_error(ctx), "missing.bin");
  CHECK_STATUS(api->get_param(ctx, "w", w, sizeof w), CNNC_OK);
  CHECK(memcmp(w, sentinel, sizeof w) == 0);
  free(buf);

  /* Files of other models, well-formed with valid checksums. */
  const cnnc_rt_model *others[3] = {&test_other_model, &test_renamed_model,
                                    &test_one_param_model};
  const char *why[3] = {
      "parameter 'w': model 'test' expects f32[3], the file has f32[4]",
      "parameter 'v' is not in model 'test'",
      "it holds 1 parameters, model 'test' has 2"};
  for (int i = 0; i < 3; ++i) {
    cnnc_ctx *o = NULL;
    CHECK_STATUS(cnnc_rt_create(others[i], &o, NULL, 0), CNNC_OK);
    if (!o)
      continue;
    const char *opath = tmp_path("other.bin");
    CHECK_STATUS(cnnc_rt_save_params(o, opath), CNNC_OK);
    CHECK_STATUS(api->load_params(ctx, opath), CNNC_ERR_CORRUPT);
    CHECK_MSG(api->last_error(ctx), why[i]);
    /* And the other way round. */
    CHECK_STATUS(cnnc_rt_load_params(o, path), CNNC_ERR_CORRUPT);
    cnnc_rt_destroy(o);
  }
  CHECK_STATUS(api->get_param(ctx, "w", w, sizeof w), CNNC_OK);
  CHECK(memcmp(w, sentinel, sizeof w) == 0);
  api->destroy(ctx);
}

static void test_atomic_save(const cnnc_model_api *api) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  if (!ctx)
    return;
  const char *path = tmp_path("atomic.bin");
  CHECK_STATUS(api->save_params(ctx, path), CNNC_OK);
  long size0 = 0, size1 = 0;
  unsigned char *before = read_all(path, &size0);
  float w2[3] = {7, 8, 9};
  CHECK_STATUS(api->set_param(ctx, "w", w2, sizeof w2), CNNC_OK);

  /* The temporary cannot be created (a directory is in its way): the save
   * fails and the old file is untouched. */
  const char *tmp = tmp_path("atomic.bin.tmp");
  CHECK(mkdir(tmp, 0700) == 0);
  CHECK_STATUS(api->save_params(ctx, path), CNNC_ERR_IO);
  CHECK_MSG(api->last_error(ctx), "atomic.bin.tmp");
  unsigned char *after = read_all(path, &size1);
  CHECK(before && after && size0 == size1 && memcmp(before, after, size0) == 0);
  free(after);
  rmdir(tmp);

  /* The rename fails (the target is a non-empty directory): no .tmp is
   * left behind and the directory is untouched. */
  const char *dir = tmp_path("adir");
  CHECK(mkdir(dir, 0700) == 0);
  char inner[600];
  snprintf(inner, sizeof inner, "%s/keep", dir);
  CHECK(write_all(inner, (const unsigned char *)"x", 1));
  CHECK_STATUS(api->save_params(ctx, dir), CNNC_ERR_IO);
  CHECK_MSG(api->last_error(ctx), "rename");
  CHECK(!file_exists(tmp_path("adir.tmp")));
  CHECK(file_exists(inner));
  remove(inner);
  rmdir(dir);

  /* A directory that does not exist. */
  CHECK_STATUS(api->save_params(ctx, tmp_path("no/such/dir/x.bin")),
               CNNC_ERR_NOT_FOUND);

  /* An unwritable directory (only meaningful when not root). */
  if (geteuid() != 0) {
    const char *ro = tmp_path("ro");
    CHECK(mkdir(ro, 0700) == 0);
    char ropath[600];
    snprintf(ropath, sizeof ropath, "%s/ckpt.bin", ro);
    CHECK_STATUS(api->save_params(ctx, ropath), CNNC_OK);
    chmod(ro, 0500);
    CHECK_STATUS(api->save_params(ctx, ropath), CNNC_ERR_IO);
    chmod(ro, 0700);
    remove(ropath);
    rmdir(ro);
  }

  /* A successful save replaces the file. */
  CHECK_STATUS(api->save_params(ctx, path), CNNC_OK);
  CHECK(!file_exists(tmp));
  after = read_all(path, &size1);
  CHECK(after && size0 == size1 && memcmp(before, after, size0) != 0);
  free(after);
  free(before);
  remove(path);
  api->destroy(ctx);
}

static void test_arena(const cnnc_model_api *api) {
  size_t n = api->arena_size;
  unsigned char *mem = aligned_alloc(64, n + 128);
  CHECK(mem != NULL);
  if (!mem)
    return;
  memset(mem, 0xAB, n + 128);
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create_with_arena(&ctx, mem, n), CNNC_OK);
  if (ctx) {
    float out[6];
    CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
    CHECK(output_is(out, W0));
    /* An inference model reads its embedded weights in place: the
     * parameter block (after the TEMP arena) is not written... */
    CHECK(mem[64] == 0xAB && mem[64 + 127] == 0xAB);
    float w[3] = {0};
    CHECK_STATUS(api->get_param(ctx, "w", w, sizeof w), CNNC_OK);
    CHECK(memcmp(w, W0, sizeof w) == 0);
    /* ... until a parameter is written: then every parameter is copied
     * there, and the runs read that copy. */
    int32_t count[2] = {0, 0};
    CHECK_STATUS(api->set_param(ctx, "count", count, sizeof count), CNNC_OK);
    CHECK(memcmp(mem + 64, W0, sizeof W0) == 0);
    float w2[3] = {-4, 0.25f, 16};
    CHECK_STATUS(api->set_param(ctx, "w", w2, sizeof w2), CNNC_OK);
    CHECK(memcmp(mem + 64, w2, sizeof w2) == 0);
    CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
    CHECK(output_is(out, w2));
    /* Nothing past arena_size is touched. */
    CHECK(mem[n] == 0xAB && mem[n + 127] == 0xAB);
    api->destroy(ctx);
  }
  ctx = (cnnc_ctx *)1;
  CHECK_STATUS(api->create_with_arena(&ctx, mem, n - 1), CNNC_ERR_BAD_ARGUMENT);
  CHECK(ctx == NULL);
  CHECK_MSG_EQ(api->last_error(NULL), "create_with_arena: model 'test' needs "
                                      "an arena of 192 bytes, got 191");
  CHECK_STATUS(api->create_with_arena(&ctx, mem + 8, n), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG(api->last_error(NULL), "is not 64-byte aligned");
  CHECK_STATUS(api->create_with_arena(&ctx, NULL, n), CNNC_ERR_BAD_ARGUMENT);
  CHECK_MSG(api->last_error(NULL), "arena is null");
  free(mem);
}

/* out = data + 2 w, u = 2 w from a cached step. */
static int cached_output_is(const float *out, const float w[3]) {
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      if (out[i * 3 + j] != DATA[i * 3 + j] + 2 * w[j])
        return 0;
  return 1;
}

/* A cached step runs at the first run and again only after a parameter
 * changed: set_param, load_params, or a function with a copy step. */
static void test_cached_steps(void) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(cnnc_rt_create(&test_cached_model, &ctx, NULL, 0), CNNC_OK);
  if (!ctx)
    return;
  float in[6], out[6];
  memcpy(in, DATA, sizeof in);
  cnnc_tensor ti = tensor2x3(in), to = tensor2x3(out);
  test_cached_calls = 0;
  for (int r = 0; r < 3; ++r) {
    CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
    CHECK(cached_output_is(out, W0));
  }
  CHECK(test_cached_calls == 1);
  float w1[3] = {-1, 0.5f, 8};
  CHECK_STATUS(cnnc_rt_set_param(ctx, "w", w1, sizeof w1), CNNC_OK);
  CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
  CHECK(cached_output_is(out, w1));
  CHECK(test_cached_calls == 2);
  /* A function that writes w (its copy step). */
  float w2[3] = {4, 5, 6};
  cnnc_tensor tw = tensor_f32(w2, 3, 0);
  CHECK_STATUS(cnnc_rt_run_function(ctx, 1, &tw, 1, NULL, 0), CNNC_OK);
  CHECK(test_cached_calls == 2);
  CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
  CHECK(cached_output_is(out, w2));
  CHECK(test_cached_calls == 3);
  /* load_params: the saved w1. */
  CHECK_STATUS(cnnc_rt_set_param(ctx, "w", w1, sizeof w1), CNNC_OK);
  const char *path = tmp_path("cached.bin");
  CHECK_STATUS(cnnc_rt_save_params(ctx, path), CNNC_OK);
  CHECK_STATUS(cnnc_rt_set_param(ctx, "w", w2, sizeof w2), CNNC_OK);
  CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
  CHECK(cached_output_is(out, w2));
  CHECK_STATUS(cnnc_rt_load_params(ctx, path), CNNC_OK);
  CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
  CHECK(cached_output_is(out, w1));
  CHECK(test_cached_calls == 5);
  /* Profiled, a skipped step takes no time. */
  CHECK_STATUS(cnnc_rt_set_profiling(ctx, 1), CNNC_OK);
  CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
  CHECK(cnnc_rt_step_seconds(ctx, 0) == 0.0 && test_cached_calls == 5);
  remove(path);
  cnnc_rt_destroy(ctx);
}

void *halide_malloc(void *user_context, size_t size);
void halide_free(void *user_context, void *ptr);

/* Halide's scratch memory (halide_malloc, overridden by the runtime): a
 * block a ctx's run freed serves that ctx's next request of a size it
 * holds (at most twice as big); aligned to 128 bytes; a null context gets
 * fresh memory each time; destroy frees the kept blocks (the valgrind test
 * checks that nothing leaks). */
static void test_scratch_memory(const cnnc_model_api *api) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  if (!ctx)
    return;
  void *a = halide_malloc(ctx, 100000);
  CHECK(a && (uintptr_t)a % 128 == 0);
  memset(a, 1, 100000);
  halide_free(ctx, a);
  void *b = halide_malloc(ctx, 90000);
  CHECK(b == a);
  void *c = halide_malloc(ctx, 100000); /* a is taken: a new block */
  CHECK(c && c != a && (uintptr_t)c % 128 == 0);
  halide_free(ctx, b);
  void *d = halide_malloc(ctx, 40000); /* a is more than twice as big */
  CHECK(d && d != a);
  void *e = halide_malloc(ctx, 100000);
  CHECK(e == a);
  halide_free(ctx, c);
  halide_free(ctx, d);
  halide_free(ctx, e);
  void *f = halide_malloc(NULL, 1000);
  CHECK(f && (uintptr_t)f % 128 == 0);
  halide_free(NULL, f);
  halide_free(ctx, NULL);
  api->destroy(ctx);
}

static void test_malformed_model(void) {
  cnnc_ctx *ctx = (cnnc_ctx *)1;
  CHECK_STATUS(cnnc_rt_create(&test_bad_model, &ctx, NULL, 0),
               CNNC_ERR_BAD_ARGUMENT);
  CHECK(ctx == NULL);
  CHECK_MSG(cnnc_rt_last_error(NULL), "tensor 'big' (TEMP) at offset 64");
  CHECK_STATUS(cnnc_rt_create(NULL, &ctx, NULL, 0), CNNC_ERR_BAD_ARGUMENT);
}

static void test_external(const cnnc_model_api *api) {
  /* A weights file with w = {4,5,6}. */
  cnnc_ctx *src = NULL;
  CHECK_STATUS(api->create(&src), CNNC_OK);
  if (!src)
    return;
  float w2[3] = {4, 5, 6};
  CHECK_STATUS(api->set_param(src, "w", w2, sizeof w2), CNNC_OK);
  const char *wpath = tmp_path("ext.weights");
  CHECK_STATUS(api->save_params(src, wpath), CNNC_OK);

  /* Not next to the program, no variable: a clear error. */
  unsetenv("CNNC_WEIGHTS");
  unsetenv("CNNC_WEIGHTS_test_ext");
  cnnc_ctx *ctx = (cnnc_ctx *)1;
  CHECK_STATUS(cnnc_rt_create(&test_external_model, &ctx, NULL, 0),
               CNNC_ERR_NOT_FOUND);
  CHECK(ctx == NULL);
  CHECK_MSG(cnnc_rt_last_error(NULL), "test_model.weights");
  CHECK_MSG(cnnc_rt_last_error(NULL), "CNNC_WEIGHTS");

  setenv("CNNC_WEIGHTS", wpath, 1);
  CHECK_STATUS(cnnc_rt_create(&test_external_model, &ctx, NULL, 0), CNNC_OK);
  if (ctx) {
    float out[6];
    CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
    CHECK(output_is(out, w2));
    cnnc_rt_destroy(ctx);
  }

  /* The per-model variable wins. */
  const char *bad = tmp_path("ext_bad.weights");
  long size;
  unsigned char *buf = read_all(wpath, &size);
  if (buf) {
    buf[size / 2] ^= 0xFF;
    CHECK(write_all(bad, buf, size));
    free(buf);
  }
  setenv("CNNC_WEIGHTS_test_ext", bad, 1);
  CHECK_STATUS(cnnc_rt_create(&test_external_model, &ctx, NULL, 0),
               CNNC_ERR_CORRUPT);
  CHECK(ctx == NULL);
  CHECK_MSG(cnnc_rt_last_error(NULL), "CNNC_WEIGHTS_test_ext");
  CHECK_MSG(cnnc_rt_last_error(NULL), "checksum mismatch");
  unsetenv("CNNC_WEIGHTS_test_ext");

  setenv("CNNC_WEIGHTS", tmp_path("nothing.weights"), 1);
  CHECK_STATUS(cnnc_rt_create(&test_external_model, &ctx, NULL, 0),
               CNNC_ERR_NOT_FOUND);
  CHECK_MSG(cnnc_rt_last_error(NULL), "nothing.weights");
  unsetenv("CNNC_WEIGHTS");
  api->destroy(src);
}

/* The test model as a shared library with --weights=external, loaded as
 * cnnc-run would: dlopen, cnnc_model_api. The weights file is looked up
 * next to the library. The library is copied into the test's own directory
 * so that concurrent runs do not share its weights file. */
static void test_shared_library(const cnnc_model_api *api, const char *so) {
  const char *copy = tmp_path("libcnnc_rt_testmodel.so");
  CHECK(copy_file(so, copy));
  void *h = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return;
  }
  cnnc_model_api_fn get = (cnnc_model_api_fn)dlsym(h, CNNC_MODEL_API_SYMBOL);
  CHECK(get != NULL);
  /* Only cnnc_model_api is exported. */
  CHECK(dlsym(h, "cnnc_rt_create") == NULL);
  const cnnc_model_api *lib = get ? get() : NULL;
  CHECK(lib != NULL && lib != api);
  if (!lib) {
    dlclose(h);
    return;
  }
  CHECK_MSG_EQ(lib->name, "test_so");
  unsetenv("CNNC_WEIGHTS");
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(lib->create(&ctx), CNNC_ERR_NOT_FOUND);
  CHECK_MSG(lib->last_error(NULL), tmp_path("test_model.weights"));

  cnnc_ctx *src = NULL;
  CHECK_STATUS(api->create(&src), CNNC_OK);
  float w2[3] = {-1, -2, -3};
  CHECK_STATUS(api->set_param(src, "w", w2, sizeof w2), CNNC_OK);
  CHECK_STATUS(api->save_params(src, tmp_path("test_model.weights")), CNNC_OK);
  api->destroy(src);

  CHECK_STATUS(lib->create(&ctx), CNNC_OK);
  if (ctx) {
    float out[6];
    CHECK_STATUS(run_once(lib, ctx, out), CNNC_OK);
    CHECK(output_is(out, w2));
    /* Kernel errors inside the library reach its last_error. */
    int32_t count[2] = {3, 0};
    CHECK_STATUS(lib->set_param(ctx, "count", count, sizeof count), CNNC_OK);
    CHECK_STATUS(run_once(lib, ctx, out), CNNC_ERR_KERNEL);
    CHECK_MSG(lib->last_error(ctx), "check: count is 3");
    lib->destroy(ctx);
  }
  remove(tmp_path("test_model.weights"));
  dlclose(h);
  remove(copy);
}

#ifdef CNNC_TEST_FAKE_THREADS
/* A parallel loop's record: how often each task ran and on which thread. */
#define POOL_TASKS 64
typedef struct {
  atomic_int runs[POOL_TASKS + 8];
  pthread_t who[POOL_TASKS + 8];
  int sleep_us;     /* each task sleeps this long */
  int fail_at;      /* this task returns -5 (-1: none) */
  void *nested_ctx; /* each task runs a loop of its own with it, if set */
  atomic_int nested_wrong;
} pool_record;

static int record_task(void *uc, int i, uint8_t *closure) {
  pool_record *r = (pool_record *)closure;
  atomic_fetch_add(&r->runs[i], 1);
  r->who[i] = pthread_self();
  if (r->sleep_us) {
    struct timespec ts = {0, r->sleep_us * 1000L};
    nanosleep(&ts, NULL);
  }
  if (r->nested_ctx) {
    pool_record inner;
    memset(&inner, 0, sizeof inner);
    inner.fail_at = -1;
    if (fake_hook(r->nested_ctx, record_task, 0, 8, (uint8_t *)&inner) != 0)
      atomic_fetch_add(&r->nested_wrong, 1);
    for (int k = 0; k < 8; ++k)
      if (atomic_load(&inner.runs[k]) != 1 ||
          !pthread_equal(inner.who[k], pthread_self()))
        atomic_fetch_add(&r->nested_wrong, 1);
  }
  (void)uc;
  return i == r->fail_at ? -5 : 0;
}

/* Runs a loop of n tasks from `min` on ctx's threads; returns the number of
 * distinct threads that ran them, -1 if a task ran other than once. */
static int run_loop(cnnc_ctx *ctx, pool_record *r, int min, int n,
                    int *result) {
  *result = fake_hook(ctx, record_task, min, n, (uint8_t *)r);
  pthread_t seen[POOL_TASKS];
  int distinct = 0;
  for (int i = 0; i < POOL_TASKS + 8; ++i) {
    int want = i >= min && i < min + n;
    if (atomic_load(&r->runs[i]) != want)
      return -1;
    if (!want)
      continue;
    int k = 0;
    while (k < distinct && !pthread_equal(seen[k], r->who[i]))
      ++k;
    if (k == distinct)
      seen[distinct++] = r->who[i];
  }
  return distinct;
}

typedef struct {
  cnnc_ctx *ctx;
  int ok;
} submitter_arg;

static void *submitter(void *p) {
  submitter_arg *a = (submitter_arg *)p;
  a->ok = 1;
  for (int round = 0; round < 50; ++round) {
    static _Thread_local pool_record r;
    memset(&r, 0, sizeof r);
    r.fail_at = -1;
    int rc, d = run_loop(a->ctx, &r, 0, POOL_TASKS, &rc);
    if (d < 1 || rc != 0)
      a->ok = 0;
  }
  return NULL;
}

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#endif

static void test_threads(const cnnc_model_api *api) {
#ifdef CNNC_TEST_FAKE_THREADS
  cnnc_ctx *ctx = NULL, *one = NULL;
  CHECK_STATUS(api->create(&ctx), CNNC_OK);
  CHECK_STATUS(api->create(&one), CNNC_OK);
  if (!ctx || !one)
    return;
  float out[6];
  /* The first run points Halide's parallel loops at the pool, once. */
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK_STATUS(run_once(api, ctx, out), CNNC_OK);
  CHECK(fake_hook_calls == 1 && fake_hook != NULL);
  if (!fake_hook)
    return;
  CHECK_STATUS(api->set_num_threads(ctx, 3), CNNC_OK);
  CHECK_STATUS(api->set_num_threads(one, 1), CNNC_OK);

  /* Every task once; tasks that sleep 1 ms (64 ms in all on one thread)
   * are shared by more than one thread, and by no more than 3. */
  pool_record r;
  memset(&r, 0, sizeof r);
  r.sleep_us = 1000;
  r.fail_at = -1;
  int rc, d = run_loop(ctx, &r, 0, POOL_TASKS, &rc);
  CHECK(rc == 0);
  CHECK(d >= 2 && d <= 3);
  /* With one thread, all on the caller's thread. */
  memset(&r, 0, sizeof r);
  r.fail_at = -1;
  d = run_loop(one, &r, 0, POOL_TASKS, &rc);
  CHECK(d == 1 && rc == 0 && pthread_equal(r.who[0], pthread_self()));
  /* Task numbers from min; none for an empty loop. */
  memset(&r, 0, sizeof r);
  r.fail_at = -1;
  d = run_loop(ctx, &r, 5, 7, &rc);
  CHECK(d >= 1 && rc == 0);
  memset(&r, 0, sizeof r);
  d = run_loop(ctx, &r, 3, 0, &rc);
  CHECK(d == 0 && rc == 0);
  /* A failing task's result comes back; the other tasks still ran. */
  memset(&r, 0, sizeof r);
  r.fail_at = 17;
  d = run_loop(ctx, &r, 0, POOL_TASKS, &rc);
  CHECK(d >= 1 && rc == -5);
  /* A loop inside a task runs on that task's thread. */
  memset(&r, 0, sizeof r);
  r.fail_at = -1;
  r.nested_ctx = ctx;
  d = run_loop(ctx, &r, 0, 16, &rc);
  CHECK(d >= 1 && rc == 0 && atomic_load(&r.nested_wrong) == 0);
  /* Two threads submitting loops at once (two ctxs running together). */
  submitter_arg a = {ctx, 0}, b = {ctx, 0};
  pthread_t ta, tb;
  CHECK(pthread_create(&ta, NULL, submitter, &a) == 0);
  CHECK(pthread_create(&tb, NULL, submitter, &b) == 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK(a.ok && b.ok);
  /* Between runs the workers go to sleep: 100 ms idle costs next to no
   * CPU time (a spinning worker would take all of it). */
  struct timespec settle = {0, 20 * 1000000L}, idle = {0, 100 * 1000000L};
  nanosleep(&settle, NULL);
  double c0 = cpu_seconds();
  nanosleep(&idle, NULL);
  CHECK(cpu_seconds() - c0 < 0.02);
  api->destroy(one);
  api->destroy(ctx);
#else
  (void)api;
#endif
}

int64_t cnnc_rt_params_paged_out(const cnnc_ctx *ctx); /* internal */

/* out = data + pack + shared, pack = {1, 2, 3} + shared. */
static int paged_output_is(const float *out, const float shared[3]) {
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      if (out[i * 3 + j] != DATA[i * 3 + j] + (float)(j + 1) + 2 * shared[j])
        return 0;
  return 1;
}

/* An inference model reads its embedded weights in place; after the cached
 * step that alone reads a parameter, that parameter's whole pages go back
 * to the kernel, and reading it again still gives the library's values. */
static void test_paged_params(void) {
  cnnc_ctx *ctx = NULL;
  CHECK_STATUS(cnnc_rt_create(&test_paged_model, &ctx, NULL, 0), CNNC_OK);
  if (!ctx)
    return;
  CHECK(cnnc_rt_params_paged_out(ctx) == 0);
  float in[6], out[6];
  memcpy(in, DATA, sizeof in);
  cnnc_tensor ti = tensor2x3(in), to = tensor2x3(out);
  static const float shared0[3] = {10, 20, 30};
  CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
  CHECK(paged_output_is(out, shared0));
  /* big: 16 KiB from a 64 KiB boundary; shared (read by "add") stays. */
  long page = sysconf(_SC_PAGESIZE);
  int64_t whole = page > 0 ? 16384 / page * page : 0;
  CHECK(whole > 0 && cnnc_rt_params_paged_out(ctx) == whole);
  /* The cached step does not run again, nor is anything paged out again. */
  CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
  CHECK(paged_output_is(out, shared0));
  CHECK(cnnc_rt_params_paged_out(ctx) == whole);
  /* Read back from the library. */
  static float big[4096];
  CHECK_STATUS(cnnc_rt_get_param(ctx, "big", big, sizeof big), CNNC_OK);
  CHECK(memcmp(big, test_paged_blob, sizeof big) == 0);
  CHECK(big[0] == 1 && big[1000] == 2 && big[2000] == 3 && big[4095] == 0);
  /* A write copies the parameters into the ctx's block: the cached step
   * runs again on that copy, which is never paged out. */
  static float shared1[2048] = {1, -1, 0.5f};
  CHECK_STATUS(cnnc_rt_set_param(ctx, "shared", shared1, sizeof shared1),
               CNNC_OK);
  CHECK_STATUS(cnnc_rt_run(ctx, &ti, 1, &to, 1), CNNC_OK);
  CHECK(paged_output_is(out, shared1));
  CHECK(cnnc_rt_params_paged_out(ctx) == whole);
  CHECK_STATUS(cnnc_rt_get_param(ctx, "big", big, sizeof big), CNNC_OK);
  CHECK(big[0] == 1 && big[1000] == 2 && big[2000] == 3);
  cnnc_rt_destroy(ctx);
  CHECK(cnnc_rt_params_paged_out(NULL) == -1);
}

int main(int argc, char **argv) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/cnnc_rt_test.XXXXXX",
           base && *base ? base : "/tmp");
  if (!mkdtemp(tmpdir)) {
    fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
    return 2;
  }
  const cnnc_model_api *api = cnnc_rt_get_api();
  test_crc();
  test_api(api);
  if (api) {
    test_create_run(api);
    test_shape_mismatch(api);
    test_bad_arguments(api);
    test_kernel_error(api);
    test_params(api);
    test_profiling(api);
    test_save_load(api);
    test_atomic_save(api);
    test_arena(api);
    test_external(api);
    test_threads(api);
    test_scratch_memory(api);
    if (argc > 1)
      test_shared_library(api, argv[1]);
  }
  test_malformed_model();
  test_cached_steps();
  test_paged_params();
  remove(tmp_path("ckpt.bin"));
  remove(tmp_path("flipped.bin"));
  remove(tmp_path("other.bin"));
  remove(tmp_path("ext.weights"));
  remove(tmp_path("ext_bad.weights"));
  if (rmdir(tmpdir) != 0)
    fprintf(stderr, "note: %s not removed: %s\n", tmpdir, strerror(errno));
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
