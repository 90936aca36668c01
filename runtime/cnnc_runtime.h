/*===- runtime/cnnc_runtime.h - the C interface of every compiled model ---===*
 *
 * Plain C11. The generated model.h embeds this text, so an application needs
 * nothing from cnnc at build time but model.h and model.so (or model.a).
 *
 * A model compiled with --name=NAME exports, besides the generic functions
 * reached through NAME_api():
 *   cnnc_status NAME_create(NAME_ctx **ctx);
 *   void        NAME_destroy(NAME_ctx *ctx);
 *   cnnc_status NAME_infer(NAME_ctx *ctx, <one pointer per input>,
 *                          <one pointer per output>);
 * A shared library also exports cnnc_model_api(), equal to NAME_api(), so
 * that generic tools (cnnc-run, cnnc-bench) can load any model with dlopen.
 *
 * Nothing here aborts, exits or throws: every failure is a negative
 * cnnc_status, and cnnc_last_error-style functions return the message.
 *===----------------------------------------------------------------------===*/
#ifndef CNNC_RUNTIME_H
#define CNNC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CNNC_ABI_VERSION 4
#define CNNC_MAX_RANK 8

typedef enum cnnc_status {
  CNNC_OK = 0,
  CNNC_ERR_BAD_ARGUMENT = -1,   /* null pointer, unknown name, bad value */
  CNNC_ERR_SHAPE_MISMATCH = -2, /* a tensor of the wrong dtype or shape */
  CNNC_ERR_OUT_OF_MEMORY = -3,
  CNNC_ERR_NOT_FOUND = -4,      /* a file or a name that does not exist */
  CNNC_ERR_IO = -5,             /* reading or writing a file failed */
  CNNC_ERR_KERNEL = -6,         /* a compiled kernel reported an error */
  CNNC_ERR_NO_DEVICE = -7,      /* the GPU driver or device is missing */
  CNNC_ERR_UNSUPPORTED = -8,    /* e.g. train_step on an inference model */
  CNNC_ERR_CORRUPT = -9,        /* a weights file or checkpoint is damaged */
} cnnc_status;

typedef enum cnnc_dtype {
  CNNC_F32 = 0,
  CNNC_F64 = 1,
  CNNC_I64 = 2,
  CNNC_I32 = 3,
  CNNC_BOOL = 4,
} cnnc_dtype;

/* Training hyperparameters. A training function of a model compiled with
 * --train takes them as one input vector `hyper` (f32 or f64, the model's
 * float type) of CNNC_HP_COUNT entries, filled by the runtime from its
 * cnnc_train_config (the learning rate after the schedule) at every step.
 * This enum is the one definition of the layout: the compiler's optimizer
 * ops read the same indices. */
typedef enum cnnc_hyper {
  CNNC_HP_LR = 0,           /* learning rate of this step */
  CNNC_HP_MOMENTUM = 1,     /* momentum, Nesterov: mu; Adam: beta1 */
  CNNC_HP_BETA2 = 2,        /* Adam: beta2; RMSProp, Adadelta: rho */
  CNNC_HP_EPS = 3,          /* Adam, Adagrad, RMSProp, Adadelta */
  CNNC_HP_WEIGHT_DECAY = 4, /* L2 weight decay (on weights, not biases) */
  CNNC_HP_SEED = 5,         /* dropout: the run's seed (mod 2^24) */
  CNNC_HP_COUNT = 8
} cnnc_hyper;

/* Learning-rate schedules; t counts steps from 0 (the step being run). */
typedef enum cnnc_lr_schedule {
  CNNC_LR_CONSTANT = 0,    /* lr */
  CNNC_LR_STEP = 1,        /* lr * decay^floor(t / decay_steps) */
  CNNC_LR_EXPONENTIAL = 2, /* lr * decay^(t / decay_steps) */
  CNNC_LR_INV_T = 3,       /* lr / (1 + decay * t) */
  CNNC_LR_SQRT = 4,        /* lr * sqrt(1 - t / total_steps), 0 after */
  CNNC_LR_COSINE = 5,      /* min_lr + (lr - min_lr) (1 + cos(pi t / total)) / 2 */
} cnnc_lr_schedule;

/* What a training step uses besides the data; runtime arguments, so a
 * caller may change them between steps. create sets the defaults of the
 * model's optimizer (sgd 0.01; momentum, nesterov 0.01, mu 0.9; adagrad
 * 0.01; rmsprop 0.001, rho 0.9; adam 0.001, 0.9, 0.999; adadelta 1.0, rho
 * 0.95, eps 1e-6; eps 1e-8 otherwise; no decay; constant schedule). */
typedef struct cnnc_train_config {
  double learning_rate;
  double momentum;     /* momentum, nesterov: mu; adam: beta1 */
  double beta2;        /* adam: beta2; rmsprop, adadelta: rho */
  double eps;
  double weight_decay; /* L2, on parameters of rank >= 2 */
  cnnc_lr_schedule schedule;
  double decay;        /* STEP, EXPONENTIAL, INV_T */
  int64_t decay_steps; /* STEP, EXPONENTIAL */
  int64_t total_steps; /* SQRT, COSINE */
  double min_lr;       /* COSINE */
  uint64_t seed;       /* dropout masks: seed and step number */
} cnnc_train_config;

/* A view of caller memory: dense, row-major (C order). */
typedef struct cnnc_tensor {
  void *data;
  cnnc_dtype dtype;
  int32_t rank;
  int64_t dims[CNNC_MAX_RANK];
} cnnc_tensor;

/* What a model says about one of its inputs, outputs or parameters. */
typedef struct cnnc_tensor_desc {
  const char *name;
  cnnc_dtype dtype;
  int32_t rank;
  const int64_t *dims;
  int64_t num_elements;
  int32_t trainable; /* parameters: 1 if training updates it */
} cnnc_tensor_desc;

typedef struct cnnc_ctx cnnc_ctx;

/* The generic interface of one model. Pointers are never null. */
typedef struct cnnc_model_api {
  uint32_t abi_version; /* CNNC_ABI_VERSION */
  const char *name;     /* the --name prefix */
  const char *target;   /* the Halide target string it was compiled for */

  size_t num_inputs, num_outputs, num_params;
  const cnnc_tensor_desc *inputs, *outputs, *params;

  /* Bytes of working memory (activations and transformed weights kept
   * between runs; plus parameters) the model needs, for
   * create_with_arena; the arena must be 64-byte aligned and is the
   * ctx's until destroy. An inference model with embedded weights reads
   * them from the library and writes its parameter part only once
   * set_param or load_params changes a parameter. */
  size_t arena_size;

  cnnc_status (*create)(cnnc_ctx **ctx);
  cnnc_status (*create_with_arena)(cnnc_ctx **ctx, void *arena, size_t size);
  void (*destroy)(cnnc_ctx *ctx);
  /* Runs inference. Each tensor must match the model's dtype and dims. */
  cnnc_status (*run)(cnnc_ctx *ctx, const cnnc_tensor *inputs,
                     size_t num_inputs, cnnc_tensor *outputs,
                     size_t num_outputs);
  /* Threads for this ctx's runs (>= 1; default HL_NUM_THREADS, else the
   * cores). The model's thread pool is shared by its ctxs: each run's
   * parallel loops use up to its ctx's count; a loop submitted while
   * another ctx's loop runs on the pool runs on its own thread. */
  cnnc_status (*set_num_threads)(cnnc_ctx *ctx, int num_threads);
  /* The message of the last failure on ctx ("" if none); ctx may be null,
   * for failures of create and of calls given a null ctx (kept per thread).
   * A ctx is used by one thread at a time. */
  const char *(*last_error)(const cnnc_ctx *ctx);
  /* Copies a parameter out of / into the model; size must match exactly. */
  cnnc_status (*get_param)(cnnc_ctx *ctx, const char *name, void *dst,
                           size_t bytes);
  cnnc_status (*set_param)(cnnc_ctx *ctx, const char *name, const void *src,
                           size_t bytes);
  /* Loads all parameters from a weights file written by cnnc
   * (--weights=external) or by save_params. */
  cnnc_status (*load_params)(cnnc_ctx *ctx, const char *path);
  cnnc_status (*save_params)(cnnc_ctx *ctx, const char *path);
  /* Per-step timing for cnnc-bench: number of steps, and for step i its
   * name, FLOPs, and the seconds the last profiled run spent in it (steps
   * are timed only while profiling is on; a bad i gives "", -1, -1). */
  size_t num_steps;
  const char *(*step_name)(size_t i);
  int64_t (*step_flops)(size_t i);
  cnnc_status (*set_profiling)(cnnc_ctx *ctx, int on);
  double (*step_seconds)(const cnnc_ctx *ctx, size_t i);

  /* Entry points ("functions"): 0 is inference (named after the graph); a
   * model compiled with --train also has eval, train_step,
   * forward_backward and apply_gradients. run_function runs one by name
   * with shape checks. */
  size_t num_functions;
  const char *const *function_names;
  cnnc_status (*run_function)(cnnc_ctx *ctx, const char *name,
                              const cnnc_tensor *inputs, size_t num_inputs,
                              cnnc_tensor *outputs, size_t num_outputs);

  /* Training. On a model compiled without --train these fail with
   * CNNC_ERR_UNSUPPORTED. x is the model's input, labels i64 [N]; loss
   * receives the batch's mean loss; scores (may be null) the model's
   * output. train_step = forward, loss, backward and the optimizer update;
   * eval runs in inference mode (batch_norm's running statistics, no
   * dropout); forward_backward stores the gradients in the parameters
   * "grad.<name>" (read them with get_param) and apply_gradients updates
   * from them. Checkpoints are save_params/load_params: they hold the
   * parameters, the optimizer state and the step count. */
  const char *optimizer; /* "" without --train */
  cnnc_status (*train_step)(cnnc_ctx *ctx, const cnnc_tensor *x,
                            const cnnc_tensor *labels, double *loss,
                            cnnc_tensor *scores);
  cnnc_status (*eval)(cnnc_ctx *ctx, const cnnc_tensor *x,
                      const cnnc_tensor *labels, double *loss,
                      cnnc_tensor *scores);
  cnnc_status (*forward_backward)(cnnc_ctx *ctx, const cnnc_tensor *x,
                                  const cnnc_tensor *labels, double *loss,
                                  cnnc_tensor *scores);
  cnnc_status (*apply_gradients)(cnnc_ctx *ctx);
  cnnc_status (*get_train_config)(cnnc_ctx *ctx, cnnc_train_config *cfg);
  cnnc_status (*set_train_config)(cnnc_ctx *ctx, const cnnc_train_config *cfg);
  /* Steps taken (train_step or apply_gradients), from the checkpointed
   * parameter "train.step"; -1 without --train. */
  int64_t (*train_steps_done)(cnnc_ctx *ctx);
  /* The learning rate the next step will use (after the schedule). */
  double (*learning_rate)(cnnc_ctx *ctx);

  /* GPUs. `device` is the API the kernels run on: "cuda" (--target with
   * -cuda), "opencl" (-opencl), or "" (the CPU). A GPU model keeps its
   * parameters, activations, gradients and optimizer state on the device
   * for the life of the ctx; the entry points above take host memory and
   * copy inputs in and outputs back. The driver is loaded at the first
   * run; without one, runs fail saying so. */
  const char *device;
  /* Device memory, for data that should not cross to the host at each run
   * (a data set uploaded once, outputs another step reads on the device).
   * device_alloc returns a handle to memory in the model's own device
   * context (Halide's device handle: for CUDA the CUdeviceptr itself, for
   * OpenCL an opaque pointer); upload and download copy a whole
   * allocation; destroy frees what is left.
   * run_function_device is run_function with such memory as each tensor's
   * `data` (dtype and dims as usual, at least the tensor's bytes): nothing
   * is copied, and the outputs stay on the device. All of them fail with
   * CNNC_ERR_UNSUPPORTED on a CPU model. */
  cnnc_status (*device_alloc)(cnnc_ctx *ctx, size_t bytes, void **mem);
  cnnc_status (*device_free)(cnnc_ctx *ctx, void *mem);
  cnnc_status (*device_upload)(cnnc_ctx *ctx, void *mem, const void *host,
                               size_t bytes);
  cnnc_status (*device_download)(cnnc_ctx *ctx, void *host, void *mem,
                                 size_t bytes);
  cnnc_status (*run_function_device)(cnnc_ctx *ctx, const char *name,
                                     const cnnc_tensor *inputs,
                                     size_t num_inputs, cnnc_tensor *outputs,
                                     size_t num_outputs);
} cnnc_model_api;

/* Exported by shared-library models: the model's API. The symbol is named
 * like the struct type, so C code cannot declare it under that name: look it
 * up with dlsym(handle, CNNC_MODEL_API_SYMBOL) and call it as a
 * cnnc_model_api_fn. */
typedef const cnnc_model_api *(*cnnc_model_api_fn)(void);
#define CNNC_MODEL_API_SYMBOL "cnnc_model_api"

#ifdef __cplusplus
}
#endif
#endif /* CNNC_RUNTIME_H */
