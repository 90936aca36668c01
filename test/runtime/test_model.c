/*===- test/runtime/test_model.c - hand-written model tables for the runtime -===*
 *
 * What the compiler's glue module would emit, written by hand: tensors,
 * steps and a weights blob, with three small "kernels" in C that have the
 * argv signature of Halide pipelines and check the buffers they are given.
 *
 *   tmp = data + w          (step "add_w", w broadcast over the last dim)
 *   out = tmp + k + 1       (step "add_k",  k a CONST)
 *   check(count, out)       (step "check": fails when count[0] != 0, calling
 *                            halide_error with the user context; when
 *                            count[1] != 0, with a null user context)
 *
 * Built twice: into the test program (cnnc_rt_this_model has embedded
 * weights) and, with TEST_MODEL_EXTERNAL, into a shared library whose
 * cnnc_rt_this_model reads its parameters from "test_model.weights".
 *===----------------------------------------------------------------------===*/
#include "test_model.h"

#include <stdio.h>
#include <string.h>

/* Checks that a buffer is what the runtime must build: Halide dim 0 is the
 * innermost (the IR's last dim), dense strides, min 0, the dtype's type. */
static int check_buf(void *uc, const char *what, const halide_buffer_t *b,
                     uint8_t code, uint8_t bits, int rank,
                     const int64_t *ir_dims) {
  char msg[256];
  if (!b || !b->host) {
    snprintf(msg, sizeof msg, "%s: no buffer or no host\n", what);
    halide_error(uc, msg);
    return -1;
  }
  if (b->type.code != code || b->type.bits != bits || b->type.lanes != 1 ||
      b->dimensions != rank) {
    snprintf(msg, sizeof msg, "%s: type %d/%d/%d rank %d\n", what,
             b->type.code, b->type.bits, b->type.lanes, b->dimensions);
    halide_error(uc, msg);
    return -1;
  }
  int32_t stride = 1;
  for (int i = 0; i < rank; ++i) {
    const halide_dimension_t *d = &b->dim[i];
    if (d->min != 0 || d->extent != ir_dims[rank - 1 - i] ||
        d->stride != stride) {
      snprintf(msg, sizeof msg, "%s: dim %d is min %d extent %d stride %d\n",
               what, i, d->min, d->extent, d->stride);
      halide_error(uc, msg);
      return -1;
    }
    stride *= d->extent;
  }
  return 0;
}

static const int64_t DIMS_2x3[] = {2, 3};
static const int64_t DIMS_3[] = {3};
static const int64_t DIMS_2[] = {2};

int test_kernel_calls;

static int k_add_w(void **args) {
  void *uc = *(void **)args[0]; /* scalars by pointer */
  halide_buffer_t *x = args[1], *w = args[2], *y = args[3];
  ++test_kernel_calls;
  if (check_buf(uc, "add_w data", x, halide_type_float, 32, 2, DIMS_2x3) ||
      check_buf(uc, "add_w w", w, halide_type_float, 32, 1, DIMS_3) ||
      check_buf(uc, "add_w tmp", y, halide_type_float, 32, 2, DIMS_2x3))
    return -1;
  const float *xp = (const float *)x->host, *wp = (const float *)w->host;
  float *yp = (float *)y->host;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      yp[i * 3 + j] = xp[i * 3 + j] + wp[j];
  return 0;
}

static int k_add_k(void **args) {
  void *uc = *(void **)args[0]; /* scalars by pointer */
  halide_buffer_t *x = args[1], *k = args[2], *y = args[3];
  ++test_kernel_calls;
  if (check_buf(uc, "add_k tmp", x, halide_type_float, 32, 2, DIMS_2x3) ||
      check_buf(uc, "add_k k", k, halide_type_float, 32, 1, DIMS_3) ||
      check_buf(uc, "add_k out", y, halide_type_float, 32, 2, DIMS_2x3))
    return -1;
  const float *xp = (const float *)x->host, *kp = (const float *)k->host;
  float *yp = (float *)y->host;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      yp[i * 3 + j] = xp[i * 3 + j] + kp[j] + 1.0f;
  return 0;
}

static int k_check(void **args) {
  void *uc = *(void **)args[0]; /* scalars by pointer */
  halide_buffer_t *c = args[1], *o = args[2];
  ++test_kernel_calls;
  if (check_buf(uc, "check count", c, halide_type_int, 32, 1, DIMS_2) ||
      check_buf(uc, "check out", o, halide_type_float, 32, 2, DIMS_2x3))
    return -1;
  const int32_t *cp = (const int32_t *)c->host;
  char msg[128];
  if (cp[0] != 0) {
    snprintf(msg, sizeof msg, "check: count is %d\n", (int)cp[0]);
    halide_error(uc, msg);
    return -7;
  }
  if (cp[1] != 0) {
    snprintf(msg, sizeof msg, "check without context: %d\n", (int)cp[1]);
    halide_error(NULL, msg);
    return -8;
  }
  return 0;
}

/* Tensor indices. */
enum { T_DATA, T_W, T_COUNT, T_K, T_TMP, T_OUT, NUM_T };

static const int32_t ARGS_ADD_W[] = {T_DATA, T_W, T_TMP};
static const int32_t ARGS_ADD_K[] = {T_TMP, T_K, T_OUT};
static const int32_t ARGS_CHECK[] = {T_COUNT, T_OUT};
static const cnnc_rt_step STEPS[] = {
    {"add_w", k_add_w, 3, ARGS_ADD_W, 6, 0},
    {"add_k", k_add_k, 3, ARGS_ADD_K, 12, 0},
    {"check", k_check, 2, ARGS_CHECK, 0, 0},
};
static const int32_t INPUTS[] = {T_DATA};
static const int32_t OUTPUTS[] = {T_OUT};
static const int32_t PARAMS[] = {T_W, T_COUNT};
static const int32_t TRAINABLE[] = {1, 0};
static const cnnc_rt_function FUNCTIONS[] = {
    {"infer", 1, 1, INPUTS, OUTPUTS, 0, 3}};

#define TENSORS(K_OFFSET)                                                     \
  {                                                                           \
    {"data", CNNC_F32, 2, {2, 3}, CNNC_RT_INPUT, 0, 0, 24},                   \
    {"w", CNNC_F32, 1, {3}, CNNC_RT_PARAM, 0, 0, 12},                         \
    {"count", CNNC_I32, 1, {2}, CNNC_RT_PARAM, 1, 64, 8},                     \
    {"k", CNNC_F32, 1, {3}, CNNC_RT_CONST, -1, K_OFFSET, 12},                 \
    {"tmp", CNNC_F32, 2, {2, 3}, CNNC_RT_TEMP, -1, 0, 24},                    \
    {"out", CNNC_F32, 2, {2, 3}, CNNC_RT_OUTPUT, 0, 0, 24},                   \
  }

/* Embedded: the parameter block image (w at 0, count at 64), then k. */
static const float BLOB_W[3] = {1, 2, 3};
static const float BLOB_K[3] = {10, 20, 30};
static uint8_t blob_embedded[128 + 12];
static uint8_t blob_consts[12];
#ifndef TEST_MODEL_EXTERNAL
static const cnnc_rt_tensor TENSORS_EMBEDDED[NUM_T] = TENSORS(128);
#endif
static const cnnc_rt_tensor TENSORS_EXTERNAL[NUM_T] = TENSORS(0);

/* The blobs are filled by a constructor so that the floats are spelled as
 * floats; the compiler emits them as byte constants. */
__attribute__((constructor)) static void fill_blobs(void) {
  memcpy(blob_embedded, BLOB_W, sizeof BLOB_W);
  memcpy(blob_embedded + 128, BLOB_K, sizeof BLOB_K);
  memcpy(blob_consts, BLOB_K, sizeof BLOB_K);
}

#define MODEL(NAME, TENSORS_, WEIGHTS, WBYTES, WFILE)                          \
  {                                                                           \
    CNNC_ABI_VERSION, NAME, "host", NUM_T, TENSORS_, 3, STEPS, 1, 1, 2,       \
        INPUTS, OUTPUTS, PARAMS, 64, 72, WEIGHTS, WBYTES, WFILE, TRAINABLE,   \
        1, FUNCTIONS, "", ""                                                  \
  }

#ifdef TEST_MODEL_EXTERNAL
const cnnc_rt_model cnnc_rt_this_model =
    MODEL("test_so", TENSORS_EXTERNAL, blob_consts, 12, "test_model.weights");

/* What the glue exports from a shared library. The symbol shares its name
 * with the struct type, so C spells it with an asm label. */
__attribute__((visibility("default"))) const cnnc_model_api *
test_model_api_export(void) __asm__(CNNC_MODEL_API_SYMBOL);
const cnnc_model_api *test_model_api_export(void) {
  return cnnc_rt_get_api();
}
#else
const cnnc_rt_model cnnc_rt_this_model =
    MODEL("test", TENSORS_EMBEDDED, blob_embedded, 140, NULL);
const cnnc_rt_model test_external_model =
    MODEL("test_ext", TENSORS_EXTERNAL, blob_consts, 12, "test_model.weights");

/* Same step structure, another parameter shape: w is f32[4]. */
static const int32_t OTHER_PARAMS[] = {0, 1};
static const cnnc_rt_tensor OTHER_TENSORS[] = {
    {"w", CNNC_F32, 1, {4}, CNNC_RT_PARAM, 0, 0, 16},
    {"count", CNNC_I32, 1, {2}, CNNC_RT_PARAM, 1, 64, 8},
};
static const cnnc_rt_tensor RENAMED_TENSORS[] = {
    {"v", CNNC_F32, 1, {3}, CNNC_RT_PARAM, 0, 0, 12},
    {"count", CNNC_I32, 1, {2}, CNNC_RT_PARAM, 1, 64, 8},
};
static const cnnc_rt_tensor ONE_TENSOR[] = {
    {"w", CNNC_F32, 1, {3}, CNNC_RT_PARAM, 0, 0, 12},
};
static const uint8_t ZEROS[128];
/* The function table of the models with no steps. */
static const cnnc_rt_function NO_STEPS[] = {{"infer", 0, 0, NULL, NULL, 0, 0}};
const cnnc_rt_model test_other_model = {
    CNNC_ABI_VERSION, "other", "host", 2, OTHER_TENSORS, 0, NULL, 0, 0, 2,
    NULL, NULL, OTHER_PARAMS, 0, 72, ZEROS, 72, NULL, TRAINABLE, 1, NO_STEPS, "", ""};
const cnnc_rt_model test_renamed_model = {
    CNNC_ABI_VERSION, "renamed", "host", 2, RENAMED_TENSORS, 0, NULL, 0, 0, 2,
    NULL, NULL, OTHER_PARAMS, 0, 72, ZEROS, 72, NULL, TRAINABLE, 1, NO_STEPS, "", ""};
const cnnc_rt_model test_one_param_model = {
    CNNC_ABI_VERSION, "one", "host", 1, ONE_TENSOR, 0, NULL, 0, 0, 1,
    NULL, NULL, OTHER_PARAMS, 0, 12, ZEROS, 12, NULL, TRAINABLE, 1, NO_STEPS, "", ""};

/* Cached steps: u = 2 w (cached: its operand is a parameter), out = data
 * + u; function "write" copies its input into w (a copy step: it writes a
 * parameter). test_cached_calls counts the runs of the cached kernel. */
int test_cached_calls;

static int k_double_w(void **args) {
  halide_buffer_t *w = args[1], *u = args[2];
  ++test_cached_calls;
  for (int j = 0; j < 3; ++j)
    ((float *)u->host)[j] = 2 * ((const float *)w->host)[j];
  return 0;
}

static int k_add_u(void **args) {
  halide_buffer_t *x = args[1], *u = args[2], *y = args[3];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      ((float *)y->host)[i * 3 + j] =
          ((const float *)x->host)[i * 3 + j] + ((const float *)u->host)[j];
  return 0;
}

enum { C_DATA, C_W, C_U, C_OUT, C_NEW_W, C_NUM_T };
static const cnnc_rt_tensor CACHED_TENSORS[C_NUM_T] = {
    {"data", CNNC_F32, 2, {2, 3}, CNNC_RT_INPUT, 0, 0, 24},
    {"w", CNNC_F32, 1, {3}, CNNC_RT_PARAM, 0, 0, 12},
    {"u", CNNC_F32, 1, {3}, CNNC_RT_TEMP, -1, 0, 12},
    {"out", CNNC_F32, 2, {2, 3}, CNNC_RT_OUTPUT, 0, 0, 24},
    {"new_w", CNNC_F32, 1, {3}, CNNC_RT_INPUT, 0, 0, 12},
};
static const int32_t ARGS_DOUBLE[] = {C_W, C_U};
static const int32_t ARGS_ADD_U[] = {C_DATA, C_U, C_OUT};
static const int32_t ARGS_WRITE[] = {C_W, C_NEW_W};
static const cnnc_rt_step CACHED_STEPS[] = {
    {"double_w", k_double_w, 2, ARGS_DOUBLE, 3, 1},
    {"add_u", k_add_u, 3, ARGS_ADD_U, 6, 0},
    {"assign w", NULL, 2, ARGS_WRITE, 0, 0},
};
static const int32_t CACHED_INPUTS[] = {C_DATA}, CACHED_OUTPUTS[] = {C_OUT},
                     CACHED_PARAMS[] = {C_W}, WRITE_INPUTS[] = {C_NEW_W};
static const cnnc_rt_function CACHED_FUNCTIONS[] = {
    {"infer", 1, 1, CACHED_INPUTS, CACHED_OUTPUTS, 0, 2},
    {"write", 1, 0, WRITE_INPUTS, NULL, 2, 1}};
const cnnc_rt_model test_cached_model = {
    CNNC_ABI_VERSION, "cached", "host", C_NUM_T, CACHED_TENSORS, 3,
    CACHED_STEPS, 1, 1, 1, CACHED_INPUTS, CACHED_OUTPUTS, CACHED_PARAMS, 64,
    64, blob_embedded, 140, NULL, TRAINABLE, 2, CACHED_FUNCTIONS, "", ""};

/* A codegen bug: the temp runs past the arena. */
static const cnnc_rt_tensor BAD_TENSORS[] = {
    {"big", CNNC_F32, 1, {32}, CNNC_RT_TEMP, -1, 64, 128},
};
const cnnc_rt_model test_bad_model = {
    CNNC_ABI_VERSION, "bad", "host", 1, BAD_TENSORS, 0, NULL, 0, 0, 0,
    NULL, NULL, NULL, 128, 0, NULL, 0, NULL, NULL, 1, NO_STEPS, "", ""};

/* An inference model whose big parameter only a cached step reads: take
 * v[j] = shared[j], pack (cached) u[j] = big[1000 j] + shared[j], then
 * add: out = data + u + v. big (4096 floats, 16 KiB from a page boundary
 * of the blob) is cold after pack; shared (2048 floats: 8 KiB) is not, for
 * take (before pack) reads it every run. */
static const float PAGED_BLOB[4096 + 2048] __attribute__((aligned(65536))) = {
    [0] = 1, [1000] = 2, [2000] = 3, [4096] = 10, [4097] = 20, [4098] = 30};

static int k_pack(void **args) {
  halide_buffer_t *big = args[1], *shared = args[2], *u = args[3];
  for (int j = 0; j < 3; ++j)
    ((float *)u->host)[j] = ((const float *)big->host)[1000 * j] +
                            ((const float *)shared->host)[j];
  return 0;
}

static int k_take(void **args) {
  halide_buffer_t *shared = args[1], *v = args[2];
  memcpy(v->host, shared->host, 3 * sizeof(float));
  return 0;
}

static int k_add_u_v(void **args) {
  halide_buffer_t *x = args[1], *u = args[2], *v = args[3], *y = args[4];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      ((float *)y->host)[i * 3 + j] = ((const float *)x->host)[i * 3 + j] +
                                      ((const float *)u->host)[j] +
                                      ((const float *)v->host)[j];
  return 0;
}

enum { P_DATA, P_BIG, P_SHARED, P_U, P_V, P_OUT, P_NUM_T };
static const cnnc_rt_tensor PAGED_TENSORS[P_NUM_T] = {
    {"data", CNNC_F32, 2, {2, 3}, CNNC_RT_INPUT, 0, 0, 24},
    {"big", CNNC_F32, 1, {4096}, CNNC_RT_PARAM, 0, 0, 16384},
    {"shared", CNNC_F32, 1, {2048}, CNNC_RT_PARAM, 1, 16384, 8192},
    {"u", CNNC_F32, 1, {3}, CNNC_RT_TEMP, -1, 0, 12},
    {"v", CNNC_F32, 1, {3}, CNNC_RT_TEMP, -1, 64, 12},
    {"out", CNNC_F32, 2, {2, 3}, CNNC_RT_OUTPUT, 0, 0, 24},
};
static const int32_t ARGS_TAKE[] = {P_SHARED, P_V};
static const int32_t ARGS_PACK[] = {P_BIG, P_SHARED, P_U};
static const int32_t ARGS_ADD_UV[] = {P_DATA, P_U, P_V, P_OUT};
static const cnnc_rt_step PAGED_STEPS[] = {
    {"take", k_take, 2, ARGS_TAKE, 0, 0},
    {"pack", k_pack, 3, ARGS_PACK, 3, 1},
    {"add", k_add_u_v, 4, ARGS_ADD_UV, 12, 0},
};
static const int32_t PAGED_INPUTS[] = {P_DATA}, PAGED_OUTPUTS[] = {P_OUT},
                     PAGED_PARAMS[] = {P_BIG, P_SHARED};
static const cnnc_rt_function PAGED_FUNCTIONS[] = {
    {"infer", 1, 1, PAGED_INPUTS, PAGED_OUTPUTS, 0, 3}};
const float *const test_paged_blob = PAGED_BLOB;
const cnnc_rt_model test_paged_model = {
    CNNC_ABI_VERSION, "paged", "host", P_NUM_T, PAGED_TENSORS, 3,
    PAGED_STEPS, 1, 1, 2, PAGED_INPUTS, PAGED_OUTPUTS, PAGED_PARAMS, 128,
    16384 + 8192, (const uint8_t *)PAGED_BLOB, sizeof PAGED_BLOB, NULL,
    TRAINABLE, 1, PAGED_FUNCTIONS, "", ""};
#endif
