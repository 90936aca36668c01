/*===- runtime/cnnc_rt_model.h - the tables the compiler emits ------------===*
 *
 * Internal contract between codegen (which emits these tables as LLVM
 * constants in the glue module) and the runtime (which interprets them).
 * Not part of the public interface: an application sees cnnc_runtime.h.
 *
 * Every tensor the model touches has an entry. Its storage is one of:
 *   INPUT / OUTPUT  caller memory, bound at each run
 *   PARAM           the model's parameter block (copied from the embedded
 *                   weights or an external file at create; get/set_param)
 *   CONST           read-only data embedded in the library
 *   TEMP            the arena, at `offset` (planned by the compiler; two
 *                   temps may share bytes when their lifetimes do not overlap;
 *                   a cached step's results, at the top, share none)
 * A step calls one compiled Halide pipeline through its argv entry point
 * (`int fn(void **args)`, the pipeline compiled with Target::UserContext).
 * As Halide's argv convention has it, a scalar argument is passed by
 * pointer and a buffer as its halide_buffer_t*: args[0] points to the user
 * context (a cnnc_ctx * variable holding the running ctx), then one
 * halide_buffer_t* per tensor in `args`, in the pipeline's order. Halide's
 * errors reach the runtime's halide_error with that ctx.
 *
 * The buffers the runtime builds: Halide's dim 0 is the IR's last (innermost)
 * dim, min 0, dense row-major strides (stride 1 innermost); element types
 * f32 -> float(32), f64 -> float(64), i64 -> int(64), i32 -> int(32),
 * bool -> uint(8) (one byte per element: declare bool tensors UInt(8) in
 * the pipelines, not Bool()).
 *===----------------------------------------------------------------------===*/
#ifndef CNNC_RT_MODEL_H
#define CNNC_RT_MODEL_H

#include "cnnc_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cnnc_rt_storage {
  CNNC_RT_INPUT = 0,
  CNNC_RT_OUTPUT = 1,
  CNNC_RT_PARAM = 2,
  CNNC_RT_CONST = 3,
  CNNC_RT_TEMP = 4,
} cnnc_rt_storage;

typedef struct cnnc_rt_tensor {
  const char *name;
  int32_t dtype;   /* cnnc_dtype */
  int32_t rank;
  int64_t dims[CNNC_MAX_RANK];
  int32_t storage; /* cnnc_rt_storage */
  int32_t index;   /* INPUT/OUTPUT/PARAM: position in that list */
  int64_t offset;  /* PARAM: in the param block; CONST: in the weights blob;
                      TEMP: in the arena. Multiples of 64. */
  int64_t bytes;
} cnnc_rt_tensor;

typedef int (*cnnc_rt_kernel)(void **args);

/* A step with a null fn is a copy (the IR's assign): args = {target,
 * value}, two tensors of the same size; the runtime copies value's bytes
 * into target. */
typedef struct cnnc_rt_step {
  const char *name;     /* the group/node name, for profiles and errors */
  cnnc_rt_kernel fn;
  int32_t num_args;
  const int32_t *args;  /* tensor indices */
  int64_t flops;
  /* 1: its operands are parameters or constants and its function writes
   * none; its results (TEMPs that no other tensor shares) stay valid
   * until a parameter changes, so it runs only then (cnnc_ctx's
   * params_epoch). */
  int32_t cached;
} cnnc_rt_step;

/* One entry point: steps [first_step, first_step + num_steps) of the step
 * table, with its own INPUT/OUTPUT tensors (each tensor's `index` is its
 * position in its function's list). Function 0 is inference; the model's
 * own input/output lists repeat its lists. */
typedef struct cnnc_rt_function {
  const char *name;
  int32_t num_inputs, num_outputs;
  const int32_t *input_tensors, *output_tensors;
  int32_t first_step, num_steps;
} cnnc_rt_function;

typedef struct cnnc_rt_model {
  uint32_t abi_version;
  const char *name;
  const char *target;
  int32_t num_tensors;
  const cnnc_rt_tensor *tensors;
  int32_t num_steps;
  const cnnc_rt_step *steps;
  int32_t num_inputs, num_outputs, num_params;
  const int32_t *input_tensors, *output_tensors, *param_tensors;
  int64_t arena_bytes;      /* TEMP storage */
  int64_t param_bytes;      /* the parameter block */
  /* The embedded blob: the image of the parameter block (initial params,
   * each at its `offset`; param_bytes long), then the consts. CONST offsets
   * are always into this blob, so with --weights=external it must still
   * hold the consts: either the whole layout (its parameter part is then
   * ignored) or only the consts, with CONST offsets into that. It is null
   * only when there are no consts (and, embedded, no parameters). */
  const uint8_t *weights;
  int64_t weights_bytes;
  /* Null: parameters come from `weights`. Non-null (--weights=external):
   * they are read at create from this file (cnnc_weights_format.h), found
   * at $CNNC_WEIGHTS_<name>, else $CNNC_WEIGHTS, else this name if absolute,
   * else this name in the directory of the library holding the tables. */
  const char *weights_file;
  const int32_t *param_trainable;
  int32_t num_functions;
  const cnnc_rt_function *functions;
  /* The optimizer of a model compiled with --train ("" otherwise), whose
   * default hyperparameters the runtime starts from. */
  const char *optimizer;
  /* The GPU API the kernels run on: "cuda", "opencl", or "" (the CPU). */
  const char *device;
} cnnc_rt_model;

/* The glue module defines the tables of its model under this name. The
 * runtime is linked into every model (as bitcode, then internalized), so each
 * library's runtime sees its own model's tables. */
extern const cnnc_rt_model cnnc_rt_this_model;

/* The model's generic API (the glue exports it as NAME_api and, in shared
 * libraries, as cnnc_model_api). Built on the first call (thread-safe);
 * null only if that ran out of memory. */
const cnnc_model_api *cnnc_rt_get_api(void);

/* Bytes create_with_arena needs: the TEMP arena, then the parameter block,
 * each rounded up to 64. */
size_t cnnc_rt_arena_size(const cnnc_rt_model *m);

/* Runtime entry points the glue's typed exports forward to. */
cnnc_status cnnc_rt_create(const cnnc_rt_model *m, cnnc_ctx **ctx,
                           void *arena, size_t arena_size);
void cnnc_rt_destroy(cnnc_ctx *ctx);
cnnc_status cnnc_rt_run(cnnc_ctx *ctx, const cnnc_tensor *inputs,
                        size_t num_inputs, cnnc_tensor *outputs,
                        size_t num_outputs);
/* Runs function `fn` (an index into the model's functions). */
cnnc_status cnnc_rt_run_function(cnnc_ctx *ctx, int32_t fn,
                                 const cnnc_tensor *inputs, size_t num_inputs,
                                 cnnc_tensor *outputs, size_t num_outputs);
/* The same with the caller's device memory (device_alloc) as inputs and
 * outputs; GPU models only. */
cnnc_status cnnc_rt_run_function_device(cnnc_ctx *ctx, int32_t fn,
                                        const cnnc_tensor *inputs,
                                        size_t num_inputs, cnnc_tensor *outputs,
                                        size_t num_outputs);
/* The function named `name`, or -1. */
int32_t cnnc_rt_find_function(const cnnc_rt_model *m, const char *name);
/* Training (cnnc_rt_train.c); see cnnc_model_api. */
cnnc_status cnnc_rt_train_step(cnnc_ctx *ctx, const cnnc_tensor *x,
                               const cnnc_tensor *labels, double *loss,
                               cnnc_tensor *scores);
cnnc_status cnnc_rt_eval(cnnc_ctx *ctx, const cnnc_tensor *x,
                         const cnnc_tensor *labels, double *loss,
                         cnnc_tensor *scores);
cnnc_status cnnc_rt_forward_backward(cnnc_ctx *ctx, const cnnc_tensor *x,
                                     const cnnc_tensor *labels, double *loss,
                                     cnnc_tensor *scores);
cnnc_status cnnc_rt_apply_gradients(cnnc_ctx *ctx);
cnnc_status cnnc_rt_get_train_config(cnnc_ctx *ctx, cnnc_train_config *cfg);
cnnc_status cnnc_rt_set_train_config(cnnc_ctx *ctx,
                                     const cnnc_train_config *cfg);
int64_t cnnc_rt_train_steps_done(cnnc_ctx *ctx);
double cnnc_rt_learning_rate(cnnc_ctx *ctx);
/* The defaults of the model's optimizer (at create). */
void cnnc_rt_default_train_config(const char *optimizer,
                                  cnnc_train_config *cfg);
/* The typed entry point: raw pointers in input order, then output order. */
cnnc_status cnnc_rt_infer_ptrs(cnnc_ctx *ctx, void *const *ptrs);
cnnc_status cnnc_rt_set_num_threads(cnnc_ctx *ctx, int n);
const char *cnnc_rt_last_error(const cnnc_ctx *ctx);
cnnc_status cnnc_rt_get_param(cnnc_ctx *ctx, const char *name, void *dst,
                              size_t bytes);
cnnc_status cnnc_rt_set_param(cnnc_ctx *ctx, const char *name,
                              const void *src, size_t bytes);
cnnc_status cnnc_rt_load_params(cnnc_ctx *ctx, const char *path);
cnnc_status cnnc_rt_save_params(cnnc_ctx *ctx, const char *path);
cnnc_status cnnc_rt_set_profiling(cnnc_ctx *ctx, int on);
/* Seconds step i took in the last profiled run; -1 for a null ctx or a bad
 * index. */
double cnnc_rt_step_seconds(const cnnc_ctx *ctx, size_t i);
/* "" / -1 for a bad index. */
const char *cnnc_rt_step_name(const cnnc_rt_model *m, size_t i);
int64_t cnnc_rt_step_flops(const cnnc_rt_model *m, size_t i);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_RT_MODEL_H */
