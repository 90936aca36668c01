/*===- runtime/cnnc_rt_internal.h - shared by the runtime's .c files ------===*
 *
 * Not installed, not embedded in model.h. Plain C11 plus POSIX.
 *===----------------------------------------------------------------------===*/
#ifndef CNNC_RT_INTERNAL_H
#define CNNC_RT_INTERNAL_H

#include "cnnc_rt_model.h"

#include <HalideRuntime.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#define CNNC_RT_ALIGN 64
#define CNNC_RT_MSG_BYTES 1024
/* "cnnc" in ASCII: halide_error checks it before it trusts a user context. */
#define CNNC_CTX_MAGIC 0x636e6e63u

/* Device memory a caller got from device_alloc (a list per ctx). */
typedef struct cnnc_rt_alloc {
  halide_buffer_t buf; /* 1-D bytes; buf.device is the native handle */
  halide_dimension_t dim;
  size_t bytes;
  struct cnnc_rt_alloc *next;
} cnnc_rt_alloc;

/* The most freed scratch blocks a ctx keeps (see cnnc_ctx::scratch_free). */
#define CNNC_RT_SCRATCH_SLOTS 64

struct cnnc_ctx {
  uint32_t magic;
  /* Points to this ctx: a Halide argv entry point takes a pointer to each
   * scalar argument, the user context included, so args[0] = &self. */
  cnnc_ctx *self;
  const cnnc_rt_model *m;
  uint8_t *owned;  /* the model-owned block (TEMP + params), or null */
  uint8_t *arena;  /* TEMP storage base (arena_bytes) */
  uint8_t *params; /* the parameter block (param_bytes) */
  /* Where the parameters' bytes are now: `params`, or, for a model whose
   * functions write no parameter (inference) and whose weights are
   * embedded, the embedded blob itself (read-only) until set_param or
   * load_params writes one (cnnc_rt_params_writable): inference keeps no
   * second copy of the weights. */
  const uint8_t *params_at;
  /* Bytes of the blob's parameter pages handed back to the kernel after the
   * cached steps that read them (cnnc_rt_core.c, page_out_cold_params). */
  int64_t params_paged_out;
  /* One Halide buffer per tensor; its dims in dims[t * CNNC_MAX_RANK ...]. */
  halide_buffer_t *bufs;
  halide_dimension_t *dims;
  void **argv;           /* 1 + the most args of any step */
  double *step_seconds;  /* num_steps */
  /* Cached steps (cnnc_rt_step::cached): params_epoch counts the changes
   * of the parameters (1 at create; set_param, load_params and every run
   * of a function with copy steps add one), step_epoch[s] the count when
   * step s last ran; it runs again only when they differ. */
  uint64_t params_epoch;
  uint64_t *step_epoch;  /* num_steps */
  int profiling;
  cnnc_train_config train; /* hyperparameters of the training functions */
  union { float f32[CNNC_HP_COUNT]; double f64[CNNC_HP_COUNT]; } hyper;
  union { float f32; double f64; } loss;
  /* Scores of the training functions when the caller passes none: as
   * large as the largest second output of any function. */
  uint8_t *scratch;
  int num_threads;       /* 0: the pool's default (cnnc_rt_pool.c) */
  int device_ready;      /* GPU models: the driver is loaded */
  cnnc_rt_alloc *allocs; /* device_alloc's allocations */
  /* While run_function_device binds a tensor to caller memory: the
   * tensor's own device allocation (num_tensors each). */
  uint64_t *saved_device;
  const struct halide_device_interface_t **saved_interface;
  /* Halide's own scratch memory (halide_malloc: a conv's sums, its padded
   * or repacked operands) that a run freed, kept for the next run, which
   * asks for the same sizes: without it every run maps fresh pages and
   * faults them in. Freed by cnnc_rt_destroy. Guarded by kernel_mu. */
  void *scratch_free[CNNC_RT_SCRATCH_SLOTS];
  int num_scratch_free;
  /* Written by halide_error, possibly from Halide's worker threads. */
  pthread_mutex_t kernel_mu;
  int kernel_msg_set;
  char kernel_msg[CNNC_RT_MSG_BYTES];
  char err[CNNC_RT_MSG_BYTES];
};

/* Records a failure on ctx (or, for a null ctx, in this thread's buffer) and
 * returns `st`. */
cnnc_status cnnc_rt_fail(cnnc_ctx *ctx, cnnc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
cnnc_status cnnc_rt_vfail(cnnc_ctx *ctx, cnnc_status st, const char *fmt,
                          va_list ap);

/* Bytes per element of a cnnc_dtype; 0 if the value is not a dtype. */
size_t cnnc_rt_dtype_size(int32_t dtype);
const char *cnnc_rt_dtype_name(int32_t dtype);
/* Writes "f32[1,3,28,28]" into buf (always terminated). */
void cnnc_rt_format_shape(char *buf, size_t size, int32_t dtype, int32_t rank,
                          const int64_t *dims);

static inline int64_t cnnc_rt_align_up(int64_t v) {
  return (v + (CNNC_RT_ALIGN - 1)) & ~(int64_t)(CNNC_RT_ALIGN - 1);
}

/* The parameter named `name`, or -1. */
int32_t cnnc_rt_find_param(const cnnc_rt_model *m, const char *name);

/* Before a write to the parameters: copies them from the embedded blob into
 * the parameter block if they are still read from the blob (params_at). */
void cnnc_rt_params_writable(cnnc_ctx *ctx);
/* ctx->params_paged_out (for tests); -1 for a null ctx. */
int64_t cnnc_rt_params_paged_out(const cnnc_ctx *ctx);

/* Reads a parameter file (cnnc_weights_format.h) into ctx's parameter block;
 * `what` names the file's role in messages ("weights file", "checkpoint").
 * All or nothing: on failure the parameters are unchanged. */
cnnc_status cnnc_rt_read_params(cnnc_ctx *ctx, const char *path,
                                const char *what);
/* At create, for --weights=external: finds the weights file and reads it. */
cnnc_status cnnc_rt_load_external_weights(cnnc_ctx *ctx);

/* The thread pool of the kernels' parallel loops (cnnc_rt_pool.c).
 * cnnc_rt_pool_begin(ctx) before a run of ctx's kernels points Halide's
 * halide_do_par_for at the pool (once) and, for a CPU model with more than
 * one thread, keeps the workers spinning until cnnc_rt_pool_end(what begin
 * returned). */
int cnnc_rt_pool_begin(const cnnc_ctx *ctx);
void cnnc_rt_pool_end(int began);
/* HL_NUM_THREADS, else the online cores (at most 256). */
int cnnc_rt_pool_default_threads(void);
/* Runs f(user_context, i, closure) for i in [min, min + extent) on up to
 * the thread count of user_context (a cnnc_ctx, else the default); a
 * nonzero result of a task, else 0. */
int cnnc_rt_pool_do_par_for(void *user_context, halide_task_t f, int min,
                            int extent, uint8_t *closure);
/* The workers started so far (for tests). */
int cnnc_rt_pool_workers(void);

/* GPU models (cnnc_rt_device.c). All are no-ops (or CNNC_OK) for a model
 * whose m->device is "". */
int cnnc_rt_on_device(const cnnc_ctx *ctx);
/* Loads the driver at the first run; fails naming what is missing. */
cnnc_status cnnc_rt_device_start(cnnc_ctx *ctx);
/* Tensor t's host bytes were written: the device copy is stale. */
void cnnc_rt_device_host_written(cnnc_ctx *ctx, int32_t t);
/* Makes tensor t's host bytes current (copies from the device if newer). */
cnnc_status cnnc_rt_device_to_host(cnnc_ctx *ctx, int32_t t);
cnnc_status cnnc_rt_device_params_to_host(cnnc_ctx *ctx);
/* dst = src (same size), wherever src's current bytes are. */
cnnc_status cnnc_rt_device_copy(cnnc_ctx *ctx, int32_t dst, int32_t src);
/* Frees every device allocation of ctx (at destroy). */
void cnnc_rt_device_release(cnnc_ctx *ctx);
/* The caller's device memory (cnnc_model_api: device_alloc ...). */
cnnc_status cnnc_rt_device_alloc(cnnc_ctx *ctx, size_t bytes, void **mem);
cnnc_status cnnc_rt_device_free(cnnc_ctx *ctx, void *mem);
cnnc_status cnnc_rt_device_upload(cnnc_ctx *ctx, void *mem, const void *host,
                                  size_t bytes);
cnnc_status cnnc_rt_device_download(cnnc_ctx *ctx, void *host, void *mem,
                                    size_t bytes);
/* Binds tensor t to device_alloc memory `mem` for one run, and back. */
cnnc_status cnnc_rt_device_bind(cnnc_ctx *ctx, int32_t t, void *mem,
                                const char *what);
void cnnc_rt_device_unbind(cnnc_ctx *ctx, int32_t t);

#endif /* CNNC_RT_INTERNAL_H */
