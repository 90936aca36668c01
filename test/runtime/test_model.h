/*===- test/runtime/test_model.h - the hand-written test models -----------===*/
#ifndef CNNC_TEST_RUNTIME_TEST_MODEL_H
#define CNNC_TEST_RUNTIME_TEST_MODEL_H

#include "runtime/cnnc_rt_model.h"

#include <HalideRuntime.h>

/* Kernel invocations so far (all steps). */
extern int test_kernel_calls;

/* cnnc_rt_this_model ("test"): embedded weights w = {1,2,3}, count = {0,0},
 * const k = {10,20,30}; out = data + w + k + 1. */
extern const cnnc_rt_model test_external_model; /* "test_ext" */
extern const cnnc_rt_model test_other_model;    /* w is f32[4] */
extern const cnnc_rt_model test_renamed_model;  /* v instead of w */
extern const cnnc_rt_model test_one_param_model; /* only w */
extern const cnnc_rt_model test_bad_model;      /* a temp beyond the arena */
/* u = 2 w in a cached step, out = data + u; "write" copies into w. */
extern const cnnc_rt_model test_cached_model;
extern int test_cached_calls; /* runs of its cached step */
/* Inference: v = shared[0..2], u = big[1000 j] + shared[j] in a cached
 * step, out = data + u + v; its blob, from a 64 KiB boundary: big = 4096 floats (1, 2,
 * 3 at 0, 1000, 2000, else 0), then shared = 2048 floats ({10, 20, 30},
 * then 0). */
extern const cnnc_rt_model test_paged_model;
extern const float *const test_paged_blob;

#endif
