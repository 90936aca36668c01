/*===- test/runtime/halide_runtime_test.c - the runtime with real Halide --===*
 *
 * The runtime calling a pipeline compiled by Halide (halide_pipe_gen.cpp)
 * through its argv entry point, linked with Halide's own runtime, as in a
 * model.so: the buffers the runtime builds must pass Halide's checks, the
 * user context must reach Halide's error path, the runtime's halide_error
 * must win over Halide's weak one, and the pipeline's parallel loop must
 * run on the runtime's thread pool (Halide's own is left alone).
 *===----------------------------------------------------------------------===*/
#include "runtime/cnnc_rt_model.h"

#include <HalideRuntime.h>
#include <stdio.h>
#include <string.h>

int rt_pipe_argv(void **args);
int cnnc_rt_pool_workers(void); /* runtime/cnnc_rt_internal.h */

static int failures;
#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      ++failures;                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                         \
  } while (0)

static const int32_t ARGS[] = {0, 1, 2, 3};
static const cnnc_rt_step STEPS[] = {{"rt_pipe", rt_pipe_argv, 4, ARGS, 12, 0}};
static const int32_t INPUTS[] = {0}, OUTPUTS[] = {3}, PARAMS[] = {1};
static const int32_t TRAINABLE[] = {1};
static const cnnc_rt_function FUNCTIONS[] = {
    {"infer", 1, 1, INPUTS, OUTPUTS, 0, 1}};
/* Blob: w = {1,2,3} (the parameter block image), then flag = 1 at 64. */
static const uint8_t BLOB[65] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
                                 0, 0, 0x40, 0x40, [64] = 1};

#define TENSORS(INNER)                                                        \
  {                                                                           \
    {"in", CNNC_F32, 2, {2, INNER}, CNNC_RT_INPUT, 0, 0, 8 * INNER},          \
    {"w", CNNC_F32, 1, {3}, CNNC_RT_PARAM, 0, 0, 12},                         \
    {"flag", CNNC_BOOL, 1, {1}, CNNC_RT_CONST, -1, 64, 1},                    \
    {"out", CNNC_F32, 2, {2, INNER}, CNNC_RT_OUTPUT, 0, 0, 8 * INNER},        \
  }
static const cnnc_rt_tensor GOOD[] = TENSORS(3);
/* What a codegen bug would look like: the table disagrees with the kernel. */
static const cnnc_rt_tensor WRONG[] = TENSORS(4);

#define MODEL(NAME, T)                                                        \
  {                                                                           \
    CNNC_ABI_VERSION, NAME, "host", 4, T, 1, STEPS, 1, 1, 1, INPUTS, OUTPUTS, \
        PARAMS, 0, 12, BLOB, 65, NULL, TRAINABLE, 1, FUNCTIONS, "", ""        \
  }
const cnnc_rt_model cnnc_rt_this_model = MODEL("halide_test", GOOD);
static const cnnc_rt_model wrong_model = MODEL("wrong", WRONG);

int main(void) {
  const cnnc_model_api *api = cnnc_rt_get_api();
  cnnc_ctx *ctx = NULL;
  CHECK(api && api->create(&ctx) == CNNC_OK);
  if (!ctx)
    return 1;
  int before = halide_set_num_threads(5);
  CHECK(api->set_num_threads(ctx, 2) == CNNC_OK);
  CHECK(api->set_profiling(ctx, 1) == CNNC_OK);
  float in[6] = {0, 1, 2, 3, 4, 5}, out[6] = {0};
  cnnc_tensor ti = {in, CNNC_F32, 2, {2, 3}}, to = {out, CNNC_F32, 2, {2, 3}};
  cnnc_status st = api->run(ctx, &ti, 1, &to, 1);
  CHECK(st == CNNC_OK);
  if (st != CNNC_OK)
    fprintf(stderr, "run: %s\n", api->last_error(ctx));
  const float want[6] = {2, 4, 6, 5, 7, 9};
  CHECK(memcmp(out, want, sizeof want) == 0);
  CHECK(api->step_seconds(ctx, 0) >= 0.0);
  /* The loop over out's 2 rows, on 2 threads, started a worker of the
   * runtime's pool: Halide's halide_do_par_for went there. */
  CHECK(cnnc_rt_pool_workers() == 1);
  /* Halide's own thread count is not the runtime's business. */
  CHECK(halide_set_num_threads(before) == 5);
  api->destroy(ctx);

  ctx = NULL;
  CHECK(cnnc_rt_create(&wrong_model, &ctx, NULL, 0) == CNNC_OK);
  if (!ctx)
    return 1;
  float in4[8] = {0}, out4[8] = {0};
  cnnc_tensor t4 = {in4, CNNC_F32, 2, {2, 4}}, o4 = {out4, CNNC_F32, 2, {2, 4}};
  st = cnnc_rt_run(ctx, &t4, 1, &o4, 1);
  const char *msg = cnnc_rt_last_error(ctx);
  CHECK(st == CNNC_ERR_KERNEL);
  CHECK(strncmp(msg, "step 'rt_pipe' failed (Halide error -", 37) == 0);
  CHECK(strstr(msg, "beyond the max") || strstr(msg, "constrained"));
  CHECK(msg[strlen(msg) - 1] != '\n');
  printf("kernel error: %s\n", msg);
  cnnc_rt_destroy(ctx);
  printf("%s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
