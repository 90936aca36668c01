/*===- runtime/cnnc_rt_core.c - create, run, errors, threads, profiling ---===*
 *
 * Plain C11 + POSIX. Never aborts or exits: every failure is a negative
 * cnnc_status with a message for cnnc_rt_last_error.
 *
 * Threads: a ctx is used by one thread at a time; distinct ctxs may run
 * concurrently. The kernels' parallel loops run on the runtime's thread
 * pool (cnnc_rt_pool.c), with the ctx's thread count (set_num_threads;
 * default HL_NUM_THREADS, else the cores) for the duration of each run.
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include "cnnc_rt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Linux 5.4's madvise(MADV_PAGEOUT); older kernels refuse it (EINVAL). */
#ifdef MADV_PAGEOUT
#define CNNC_RT_MADV_PAGEOUT MADV_PAGEOUT
#else
#define CNNC_RT_MADV_PAGEOUT 21
#endif

static _Thread_local char tls_err[CNNC_RT_MSG_BYTES];
/* halide_error with a null user context, on this thread. */
static _Thread_local char tls_kernel_msg[CNNC_RT_MSG_BYTES];

/*===--------------------------------------------------------------------===*
 * Errors
 *===--------------------------------------------------------------------===*/

cnnc_status cnnc_rt_vfail(cnnc_ctx *ctx, cnnc_status st, const char *fmt,
                          va_list ap) {
  char *buf = ctx ? ctx->err : tls_err;
  vsnprintf(buf, CNNC_RT_MSG_BYTES, fmt, ap);
  return st;
}

cnnc_status cnnc_rt_fail(cnnc_ctx *ctx, cnnc_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cnnc_rt_vfail(ctx, st, fmt, ap);
  va_end(ap);
  return st;
}

const char *cnnc_rt_last_error(const cnnc_ctx *ctx) {
  return ctx ? ctx->err : tls_err;
}

/*===--------------------------------------------------------------------===*
 * Halide's scratch memory
 *===--------------------------------------------------------------------===*/

/* Every block: a header holding its capacity, then the memory Halide gets,
 * aligned to the header's size (Halide wants 32 bytes, AVX-512 64). */
#define SCRATCH_HEADER ((size_t)128)

static size_t scratch_capacity(void *base) { return *(size_t *)base; }

/* Overrides the weak default of Halide's runtime. Inside a run the user
 * context is the ctx: a block that a run of this ctx freed is reused when
 * it holds the size and is at most twice it (the smallest such). */
void *halide_malloc(void *user_context, size_t size) {
  cnnc_ctx *ctx = (cnnc_ctx *)user_context;
  if (ctx && ctx->magic == CNNC_CTX_MAGIC) {
    pthread_mutex_lock(&ctx->kernel_mu);
    int best = -1;
    for (int i = 0; i < ctx->num_scratch_free; ++i) {
      size_t cap = scratch_capacity(ctx->scratch_free[i]);
      if (cap >= size && cap / 2 <= size &&
          (best < 0 || cap < scratch_capacity(ctx->scratch_free[best])))
        best = i;
    }
    if (best >= 0) {
      void *base = ctx->scratch_free[best];
      ctx->scratch_free[best] = ctx->scratch_free[--ctx->num_scratch_free];
      pthread_mutex_unlock(&ctx->kernel_mu);
      return (char *)base + SCRATCH_HEADER;
    }
    pthread_mutex_unlock(&ctx->kernel_mu);
  }
  size_t cap = (size + SCRATCH_HEADER - 1) & ~(SCRATCH_HEADER - 1);
  void *base = NULL;
  if (cap < size || posix_memalign(&base, SCRATCH_HEADER, SCRATCH_HEADER + cap))
    return NULL;
  *(size_t *)base = cap;
  return (char *)base + SCRATCH_HEADER;
}

/* Keeps a block freed inside a run for the ctx's next run (while it has a
 * free slot); frees it otherwise. */
void halide_free(void *user_context, void *ptr) {
  if (!ptr)
    return;
  void *base = (char *)ptr - SCRATCH_HEADER;
  cnnc_ctx *ctx = (cnnc_ctx *)user_context;
  if (ctx && ctx->magic == CNNC_CTX_MAGIC) {
    pthread_mutex_lock(&ctx->kernel_mu);
    if (ctx->num_scratch_free < CNNC_RT_SCRATCH_SLOTS) {
      ctx->scratch_free[ctx->num_scratch_free++] = base;
      base = NULL;
    }
    pthread_mutex_unlock(&ctx->kernel_mu);
  }
  free(base);
}

/* Overrides the weak default of Halide's runtime: Halide formats the message
 * and calls this with the pipeline's user context, which the runtime sets
 * to the running cnnc_ctx. The first message of a step is kept. */
void halide_error(void *user_context, const char *msg) {
  cnnc_ctx *ctx = (cnnc_ctx *)user_context;
  if (!msg)
    msg = "(null message)";
  if (ctx && ctx->magic == CNNC_CTX_MAGIC) {
    pthread_mutex_lock(&ctx->kernel_mu);
    if (!ctx->kernel_msg_set) {
      snprintf(ctx->kernel_msg, sizeof ctx->kernel_msg, "%s", msg);
      ctx->kernel_msg_set = 1;
    }
    pthread_mutex_unlock(&ctx->kernel_mu);
  } else {
    snprintf(tls_kernel_msg, sizeof tls_kernel_msg, "%s", msg);
  }
}

/*===--------------------------------------------------------------------===*
 * Dtypes and shapes
 *===--------------------------------------------------------------------===*/

size_t cnnc_rt_dtype_size(int32_t dtype) {
  switch (dtype) {
  case CNNC_F32: return 4;
  case CNNC_F64: return 8;
  case CNNC_I64: return 8;
  case CNNC_I32: return 4;
  case CNNC_BOOL: return 1;
  default: return 0;
  }
}

const char *cnnc_rt_dtype_name(int32_t dtype) {
  switch (dtype) {
  case CNNC_F32: return "f32";
  case CNNC_F64: return "f64";
  case CNNC_I64: return "i64";
  case CNNC_I32: return "i32";
  case CNNC_BOOL: return "bool";
  default: return "?";
  }
}

void cnnc_rt_format_shape(char *buf, size_t size, int32_t dtype, int32_t rank,
                          const int64_t *dims) {
  size_t n = 0;
  int w;
  if (size == 0)
    return;
  buf[0] = '\0';
  if (cnnc_rt_dtype_size(dtype))
    w = snprintf(buf, size, "%s[", cnnc_rt_dtype_name(dtype));
  else
    w = snprintf(buf, size, "dtype(%d)[", (int)dtype);
  if (w < 0)
    return;
  n = (size_t)w;
  if (rank < 0 || rank > CNNC_MAX_RANK) {
    if (n < size)
      snprintf(buf + n, size - n, "rank %d]", (int)rank);
    return;
  }
  for (int32_t i = 0; i < rank && n < size; ++i) {
    w = snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (w < 0)
      return;
    n += (size_t)w;
  }
  if (n < size)
    snprintf(buf + n, size - n, "]");
}

static struct halide_type_t halide_type_of(int32_t dtype) {
  struct halide_type_t t;
  t.lanes = 1;
  switch (dtype) {
  case CNNC_F32: t.code = halide_type_float; t.bits = 32; break;
  case CNNC_F64: t.code = halide_type_float; t.bits = 64; break;
  case CNNC_I64: t.code = halide_type_int; t.bits = 64; break;
  case CNNC_I32: t.code = halide_type_int; t.bits = 32; break;
  default: t.code = halide_type_uint; t.bits = 8; break; /* bool */
  }
  return t;
}

static const char *storage_name(int32_t s) {
  switch (s) {
  case CNNC_RT_INPUT: return "INPUT";
  case CNNC_RT_OUTPUT: return "OUTPUT";
  case CNNC_RT_PARAM: return "PARAM";
  case CNNC_RT_CONST: return "CONST";
  case CNNC_RT_TEMP: return "TEMP";
  default: return "?";
  }
}

static const char *tname(const cnnc_rt_tensor *t) {
  return t->name ? t->name : "(unnamed)";
}

/*===--------------------------------------------------------------------===*
 * The model's tables: checked once at create, so that a codegen bug is a
 * message instead of a wild write.
 *===--------------------------------------------------------------------===*/

static cnnc_status check_list(const cnnc_rt_model *m, const char *what,
                              int32_t count, const int32_t *list,
                              int32_t storage) {
  if (count < 0 || (count > 0 && !list))
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                        "model '%s': bad %s list", m->name, what);
  for (int32_t i = 0; i < count; ++i) {
    int32_t ti = list[i];
    if (ti < 0 || ti >= m->num_tensors)
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': %s %d is tensor %d, out of range",
                          m->name, what, (int)i, (int)ti);
    const cnnc_rt_tensor *t = &m->tensors[ti];
    if (t->storage != storage || t->index != i)
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': %s %d is tensor '%s' with storage %s "
                          "and index %d",
                          m->name, what, (int)i, tname(t),
                          storage_name(t->storage), (int)t->index);
  }
  return CNNC_OK;
}

static cnnc_status check_model(const cnnc_rt_model *m) {
  if (m->abi_version != CNNC_ABI_VERSION)
    return cnnc_rt_fail(NULL, CNNC_ERR_UNSUPPORTED,
                        "model ABI version %u, runtime expects %d",
                        (unsigned)m->abi_version, CNNC_ABI_VERSION);
  if (!m->name || !m->target || m->num_tensors < 0 ||
      (m->num_tensors > 0 && !m->tensors) || m->num_steps < 0 ||
      (m->num_steps > 0 && !m->steps) || m->arena_bytes < 0 ||
      m->param_bytes < 0 || m->weights_bytes < 0 ||
      (m->weights_bytes > 0 && !m->weights) ||
      (m->num_params > 0 && !m->param_trainable))
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                        "model '%s': malformed model tables",
                        m->name ? m->name : "(unnamed)");
  for (int32_t i = 0; i < m->num_tensors; ++i) {
    const cnnc_rt_tensor *t = &m->tensors[i];
    size_t es = cnnc_rt_dtype_size(t->dtype);
    if (!t->name || !es || t->rank < 0 || t->rank > CNNC_MAX_RANK)
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': tensor %d ('%s') has a bad dtype %d or "
                          "rank %d",
                          m->name, (int)i, tname(t), (int)t->dtype,
                          (int)t->rank);
    int64_t elems = 1;
    for (int32_t d = 0; d < t->rank; ++d) {
      int64_t e = t->dims[d];
      /* Halide's extents and strides are int32. */
      if (e < 0 || e > INT32_MAX || (e > 0 && elems > INT32_MAX / e))
        return cnnc_rt_fail(NULL, CNNC_ERR_UNSUPPORTED,
                            "model '%s': tensor '%s' has dims beyond Halide's "
                            "32-bit extents and strides",
                            m->name, tname(t));
      elems *= e;
    }
    if (t->bytes != elems * (int64_t)es)
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': tensor '%s' says %lld bytes, its shape "
                          "needs %lld",
                          m->name, tname(t), (long long)t->bytes,
                          (long long)(elems * (int64_t)es));
    int64_t limit = -1;
    const char *where = NULL;
    switch (t->storage) {
    case CNNC_RT_INPUT: case CNNC_RT_OUTPUT: break;
    case CNNC_RT_PARAM: limit = m->param_bytes; where = "parameter block"; break;
    case CNNC_RT_CONST: limit = m->weights_bytes; where = "weights blob"; break;
    case CNNC_RT_TEMP: limit = m->arena_bytes; where = "arena"; break;
    default:
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': tensor '%s' has a bad storage kind %d",
                          m->name, tname(t), (int)t->storage);
    }
    if (where && (t->offset < 0 || t->offset > limit - t->bytes))
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': tensor '%s' (%s) at offset %lld, %lld "
                          "bytes, does not fit the %s of %lld bytes",
                          m->name, tname(t), storage_name(t->storage),
                          (long long)t->offset, (long long)t->bytes, where,
                          (long long)limit);
  }
  cnnc_status st;
  if ((st = check_list(m, "input", m->num_inputs, m->input_tensors,
                       CNNC_RT_INPUT)) ||
      (st = check_list(m, "output", m->num_outputs, m->output_tensors,
                       CNNC_RT_OUTPUT)) ||
      (st = check_list(m, "param", m->num_params, m->param_tensors,
                       CNNC_RT_PARAM)))
    return st;
  for (int32_t s = 0; s < m->num_steps; ++s) {
    const cnnc_rt_step *step = &m->steps[s];
    if (!step->name || step->num_args < 0 ||
        (step->num_args > 0 && !step->args) ||
        (!step->fn && step->num_args != 2))
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': step %d ('%s') is malformed", m->name,
                          (int)s, step->name ? step->name : "(unnamed)");
    for (int32_t a = 0; a < step->num_args; ++a)
      if (step->args[a] < 0 || step->args[a] >= m->num_tensors)
        return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                            "model '%s': step '%s' argument %d is tensor %d, "
                            "out of range",
                            m->name, step->name, (int)a, (int)step->args[a]);
    if (step->cached != 0 && (step->cached != 1 || !step->fn))
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': step '%s' says cached = %d (0 or 1, "
                          "and a copy step is never cached)",
                          m->name, step->name, (int)step->cached);
    if (!step->fn &&
        m->tensors[step->args[0]].bytes != m->tensors[step->args[1]].bytes)
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': copy step '%s' between tensors of "
                          "different sizes",
                          m->name, step->name);
  }
  if (m->num_functions < 1 || !m->functions || !m->optimizer)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                        "model '%s': no function table", m->name);
  for (int32_t f = 0; f < m->num_functions; ++f) {
    const cnnc_rt_function *fn = &m->functions[f];
    if (!fn->name || fn->first_step < 0 || fn->num_steps < 0 ||
        fn->first_step > m->num_steps - fn->num_steps)
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s': function %d is malformed", m->name,
                          (int)f);
    if ((st = check_list(m, "function input", fn->num_inputs,
                         fn->input_tensors, CNNC_RT_INPUT)) ||
        (st = check_list(m, "function output", fn->num_outputs,
                         fn->output_tensors, CNNC_RT_OUTPUT)))
      return st;
  }
  return CNNC_OK;
}

/*===--------------------------------------------------------------------===*
 * Create and destroy
 *===--------------------------------------------------------------------===*/

size_t cnnc_rt_arena_size(const cnnc_rt_model *m) {
  if (!m || m->arena_bytes < 0 || m->param_bytes < 0)
    return 0;
  return (size_t)(cnnc_rt_align_up(m->arena_bytes) +
                  cnnc_rt_align_up(m->param_bytes));
}

void cnnc_rt_destroy(cnnc_ctx *ctx) {
  if (!ctx)
    return;
  if (cnnc_rt_on_device(ctx))
    cnnc_rt_device_release(ctx);
  for (int i = 0; i < ctx->num_scratch_free; ++i)
    free(ctx->scratch_free[i]);
  ctx->num_scratch_free = 0;
  pthread_mutex_destroy(&ctx->kernel_mu);
  ctx->magic = 0;
  free(ctx->owned);
  free(ctx->bufs);
  free(ctx->dims);
  free(ctx->argv);
  free(ctx->step_seconds);
  free(ctx->step_epoch);
  free(ctx->scratch);
  free(ctx->saved_device);
  free(ctx->saved_interface);
  free(ctx);
}

/* Whether any function of m writes a parameter (a copy step: training). */
static int writes_params(const cnnc_rt_model *m) {
  for (int32_t s = 0; s < m->num_steps; ++s)
    if (!m->steps[s].fn)
      return 1;
  return 0;
}

/* Points the PARAM tensors' buffers at ctx->params_at. */
static void point_params(cnnc_ctx *ctx) {
  const cnnc_rt_model *m = ctx->m;
  for (int32_t t = 0; t < m->num_tensors; ++t)
    if (m->tensors[t].storage == CNNC_RT_PARAM)
      ctx->bufs[t].host =
          (uint8_t *)(uintptr_t)(ctx->params_at + m->tensors[t].offset);
}

/* Whether step s reads tensor t. */
static int step_reads(const cnnc_rt_step *s, int32_t t) {
  for (int32_t a = 0; a < s->num_args; ++a)
    if (s->args[a] == t)
      return 1;
  return 0;
}

/* After cached step s of function fn ran on the embedded blob's parameters
 * (params_at): the blob's pages of each parameter s reads that no uncached
 * step of any function reads, and no later cached step of fn, go back to
 * the kernel (MADV_PAGEOUT). The blob is the library's read-only data, so
 * its pages are clean: the kernel drops them and reads them again from the
 * library should get_param or a later cached step ask. The weights that
 * pack-weights' cached steps put in new layouts are then held once, in
 * those layouts (a weight-heavy model's peak RSS, bench/RESULTS.md).
 * Only pages wholly inside the parameter's bytes; on an anonymous page
 * (no swap) the advice does nothing. */
static void page_out_cold_params(cnnc_ctx *ctx, int32_t fn, int32_t s) {
  const cnnc_rt_model *m = ctx->m;
  const cnnc_rt_function *f = &m->functions[fn];
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0)
    return;
  for (int32_t a = 0; a < m->steps[s].num_args; ++a) {
    int32_t t = m->steps[s].args[a];
    if (m->tensors[t].storage != CNNC_RT_PARAM)
      continue;
    int cold = 1;
    for (int32_t o = 0; o < m->num_steps && cold; ++o)
      if (!m->steps[o].cached && step_reads(&m->steps[o], t))
        cold = 0;
    for (int32_t o = s + 1; o < f->first_step + f->num_steps && cold; ++o)
      if (step_reads(&m->steps[o], t))
        cold = 0;
    if (!cold)
      continue;
    uintptr_t begin = (uintptr_t)(ctx->params_at + m->tensors[t].offset);
    uintptr_t end = begin + (uintptr_t)m->tensors[t].bytes;
    begin = (begin + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    end &= ~((uintptr_t)page - 1);
    if (end > begin) {
      (void)madvise((void *)begin, end - begin, CNNC_RT_MADV_PAGEOUT);
      ctx->params_paged_out += (int64_t)(end - begin);
    }
  }
}

int64_t cnnc_rt_params_paged_out(const cnnc_ctx *ctx) {
  return ctx ? ctx->params_paged_out : -1;
}

void cnnc_rt_params_writable(cnnc_ctx *ctx) {
  if (ctx->params_at == ctx->params)
    return;
  memcpy(ctx->params, ctx->params_at, (size_t)ctx->m->param_bytes);
  ctx->params_at = ctx->params;
  point_params(ctx);
}

cnnc_status cnnc_rt_create(const cnnc_rt_model *m, cnnc_ctx **out, void *arena,
                           size_t arena_size) {
  if (!out)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "create: ctx is null");
  *out = NULL;
  if (!m)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "create: model is null");
  cnnc_status st = check_model(m);
  if (st != CNNC_OK)
    return st;

  size_t need = cnnc_rt_arena_size(m);
  if (arena) {
    if ((uintptr_t)arena % CNNC_RT_ALIGN != 0)
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "create_with_arena: the arena at %p is not %d-byte "
                          "aligned",
                          arena, CNNC_RT_ALIGN);
    if (arena_size < need)
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "create_with_arena: model '%s' needs an arena of "
                          "%zu bytes, got %zu",
                          m->name, need, arena_size);
  }

  cnnc_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_OUT_OF_MEMORY,
                        "create: out of memory for the context");
  if (pthread_mutex_init(&ctx->kernel_mu, NULL) != 0) {
    free(ctx);
    return cnnc_rt_fail(NULL, CNNC_ERR_OUT_OF_MEMORY,
                        "create: cannot initialise a mutex");
  }
  ctx->magic = CNNC_CTX_MAGIC;
  ctx->self = ctx;
  ctx->m = m;
  cnnc_rt_default_train_config(m->optimizer, &ctx->train);

  int32_t max_args = 0;
  for (int32_t s = 0; s < m->num_steps; ++s)
    if (m->steps[s].num_args > max_args)
      max_args = m->steps[s].num_args;
  size_t nt = (size_t)m->num_tensors;
  ctx->bufs = calloc(nt ? nt : 1, sizeof *ctx->bufs);
  ctx->dims = calloc(nt ? nt * CNNC_MAX_RANK : 1, sizeof *ctx->dims);
  ctx->argv = calloc((size_t)max_args + 1, sizeof *ctx->argv);
  ctx->step_seconds = calloc(m->num_steps ? (size_t)m->num_steps : 1,
                             sizeof *ctx->step_seconds);
  ctx->step_epoch = calloc(m->num_steps ? (size_t)m->num_steps : 1,
                           sizeof *ctx->step_epoch);
  ctx->params_epoch = 1;
  int64_t scratch = 0;
  for (int32_t f = 0; f < m->num_functions; ++f)
    if (m->functions[f].num_outputs > 1) {
      int64_t b = m->tensors[m->functions[f].output_tensors[1]].bytes;
      scratch = b > scratch ? b : scratch;
    }
  ctx->scratch = calloc(scratch > 0 ? (size_t)scratch : 1, 1);
  ctx->saved_device = calloc(nt ? nt : 1, sizeof *ctx->saved_device);
  ctx->saved_interface = calloc(nt ? nt : 1, sizeof *ctx->saved_interface);
  if (arena) {
    ctx->arena = arena;
  } else if (need > 0) {
    /* aligned_alloc wants a multiple of the alignment; `need` is one. */
    ctx->owned = aligned_alloc(CNNC_RT_ALIGN, need);
    ctx->arena = ctx->owned;
  }
  if (!ctx->bufs || !ctx->dims || !ctx->argv || !ctx->step_seconds ||
      !ctx->step_epoch ||
      !ctx->scratch || !ctx->saved_device || !ctx->saved_interface ||
      (!arena && need > 0 && !ctx->owned)) {
    cnnc_rt_destroy(ctx);
    return cnnc_rt_fail(NULL, CNNC_ERR_OUT_OF_MEMORY,
                        "create: out of memory (model '%s' needs %zu bytes "
                        "of arena and parameters)",
                        m->name, need);
  }
  ctx->params = ctx->arena ? ctx->arena + cnnc_rt_align_up(m->arena_bytes)
                           : NULL;
  ctx->params_at = ctx->params;

  /* One Halide buffer per tensor. Halide's dim 0 is the innermost, the
   * IR's last dim; dense row-major strides. */
  for (size_t t = 0; t < nt; ++t) {
    const cnnc_rt_tensor *ten = &m->tensors[t];
    halide_buffer_t *b = &ctx->bufs[t];
    halide_dimension_t *d = &ctx->dims[t * CNNC_MAX_RANK];
    int32_t stride = 1;
    for (int32_t i = 0; i < ten->rank; ++i) {
      int32_t extent = (int32_t)ten->dims[ten->rank - 1 - i];
      d[i].min = 0;
      d[i].extent = extent;
      d[i].stride = stride;
      d[i].flags = 0;
      stride *= extent > 0 ? extent : 1;
    }
    b->type = halide_type_of(ten->dtype);
    b->dimensions = ten->rank;
    b->dim = d;
    switch (ten->storage) {
    case CNNC_RT_PARAM: break; /* below */
    case CNNC_RT_CONST: b->host = (uint8_t *)(uintptr_t)(m->weights + ten->offset); break;
    case CNNC_RT_TEMP: b->host = ctx->arena + ten->offset; break;
    default: b->host = NULL; break; /* bound at each run */
    }
  }

  /* Initial parameters. The blob starts with the image of the parameter
   * block (each PARAM's blob offset is its block offset). */
  if (m->param_bytes > 0) {
    if (m->weights_file) {
      st = cnnc_rt_load_external_weights(ctx);
      if (st != CNNC_OK) {
        cnnc_rt_fail(NULL, st, "%s", ctx->err);
        cnnc_rt_destroy(ctx);
        return st;
      }
    } else if (m->weights && m->weights_bytes >= m->param_bytes) {
      if (writes_params(m))
        memcpy(ctx->params, m->weights, (size_t)m->param_bytes);
      else
        ctx->params_at = m->weights; /* copied at the first write */
    } else if (m->num_params > 0) {
      cnnc_rt_destroy(ctx);
      return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                          "model '%s' has %d parameters but neither embedded "
                          "weights nor a weights file",
                          m->name, (int)m->num_params);
    }
  }
  point_params(ctx);
  /* On a GPU the parameters and constants reach the device at first use. */
  for (int32_t t = 0; t < m->num_tensors; ++t)
    if (m->tensors[t].storage == CNNC_RT_PARAM ||
        m->tensors[t].storage == CNNC_RT_CONST)
      cnnc_rt_device_host_written(ctx, t);
  *out = ctx;
  return CNNC_OK;
}

/*===--------------------------------------------------------------------===*
 * Run
 *===--------------------------------------------------------------------===*/

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static cnnc_status check_tensor(cnnc_ctx *ctx, const char *kind,
                                const cnnc_rt_tensor *t, const cnnc_tensor *g) {
  if (!g->data)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT, "%s '%s': data is null",
                        kind, t->name);
  int same = g->dtype == (cnnc_dtype)t->dtype && g->rank == t->rank;
  for (int32_t i = 0; same && i < t->rank; ++i)
    same = g->dims[i] == t->dims[i];
  if (!same) {
    char want[256], got[256];
    cnnc_rt_format_shape(want, sizeof want, t->dtype, t->rank, t->dims);
    cnnc_rt_format_shape(got, sizeof got, (int32_t)g->dtype, g->rank, g->dims);
    return cnnc_rt_fail(ctx, CNNC_ERR_SHAPE_MISMATCH,
                        "%s '%s': expected %s, got %s", kind, t->name, want,
                        got);
  }
  size_t es = cnnc_rt_dtype_size(t->dtype);
  if ((uintptr_t)g->data % es != 0)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "%s '%s': data at %p is not aligned to its %zu-byte "
                        "elements",
                        kind, t->name, g->data, es);
  return CNNC_OK;
}

/* Runs the steps of function fn; the INPUT/OUTPUT buffers' hosts are
 * already bound (`bound`: the caller's device memory instead, and the
 * outputs stay there). */
static cnnc_status run_steps(cnnc_ctx *ctx, int32_t fn, int bound) {
  const cnnc_rt_model *m = ctx->m;
  const cnnc_rt_function *f = &m->functions[fn];
  int device = cnnc_rt_on_device(ctx);
  if (device) {
    cnnc_status st = cnnc_rt_device_start(ctx);
    if (st != CNNC_OK)
      return st;
    /* New host data in the inputs; the outputs' old contents are dead. */
    for (int32_t i = 0; i < f->num_inputs && !bound; ++i)
      ctx->bufs[f->input_tensors[i]].flags = halide_buffer_flag_host_dirty;
    for (int32_t i = 0; i < f->num_outputs && !bound; ++i)
      ctx->bufs[f->output_tensors[i]].flags = 0;
  }
  int pool_began = cnnc_rt_pool_begin(ctx);

  cnnc_status st = CNNC_OK;
  int wrote_params = 0;
  tls_kernel_msg[0] = '\0';
  for (int32_t s = f->first_step; s < f->first_step + f->num_steps; ++s) {
    const cnnc_rt_step *step = &m->steps[s];
    if (step->cached && ctx->step_epoch[s] == ctx->params_epoch) {
      if (ctx->profiling)
        ctx->step_seconds[s] = 0.0; /* its results are still valid */
      continue;
    }
    if (!step->fn) { /* assign: a copy (check_model checked the sizes) */
      wrote_params = 1;
      if (device) {
        if ((st = cnnc_rt_device_copy(ctx, step->args[0], step->args[1])))
          break;
        continue;
      }
      memcpy(ctx->bufs[step->args[0]].host, ctx->bufs[step->args[1]].host,
             (size_t)m->tensors[step->args[0]].bytes);
      continue;
    }
    ctx->argv[0] = &ctx->self;
    for (int32_t a = 0; a < step->num_args; ++a) {
      halide_buffer_t *b = &ctx->bufs[step->args[a]];
      if (!device) { /* a CPU model's buffers never have device state */
        b->flags = 0;
        b->device = 0;
        b->device_interface = NULL;
      }
      ctx->argv[a + 1] = b;
    }
    ctx->kernel_msg_set = 0;
    ctx->kernel_msg[0] = '\0';
    double t0 = ctx->profiling ? now_seconds() : 0.0;
    int rc = step->fn(ctx->argv);
    if (ctx->profiling)
      ctx->step_seconds[s] = now_seconds() - t0;
    if (rc != 0) {
      const char *msg = ctx->kernel_msg_set ? ctx->kernel_msg
                        : tls_kernel_msg[0] ? tls_kernel_msg
                                            : "(no message)";
      /* Halide's messages end with a newline. */
      size_t n = strlen(msg);
      while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        --n;
      st = cnnc_rt_fail(ctx, CNNC_ERR_KERNEL,
                        "step '%s' failed (Halide error %d): %.*s", step->name,
                        rc, (int)n, msg);
      break;
    }
    if (step->cached) {
      ctx->step_epoch[s] = ctx->params_epoch;
      if (ctx->params_at != ctx->params)
        page_out_cold_params(ctx, fn, s);
    }
  }
  if (wrote_params)
    ++ctx->params_epoch;
  /* The outputs back on the host (unless they are the caller's device
   * memory). */
  for (int32_t i = 0; device && !bound && st == CNNC_OK && i < f->num_outputs;
       ++i)
    st = cnnc_rt_device_to_host(ctx, f->output_tensors[i]);
  cnnc_rt_pool_end(pool_began);
  return st;
}

int32_t cnnc_rt_find_function(const cnnc_rt_model *m, const char *name) {
  if (!m || !name)
    return -1;
  for (int32_t f = 0; f < m->num_functions; ++f)
    if (strcmp(m->functions[f].name, name) == 0)
      return f;
  return -1;
}

static cnnc_status run_function(cnnc_ctx *ctx, int32_t fn,
                                const cnnc_tensor *inputs, size_t num_inputs,
                                cnnc_tensor *outputs, size_t num_outputs,
                                int device_mem) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "run: ctx is null");
  const cnnc_rt_model *m = ctx->m;
  if (fn < 0 || fn >= m->num_functions)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "run: model '%s' has no function %d", m->name, (int)fn);
  const cnnc_rt_function *f = &m->functions[fn];
  /* Messages name the function; inference is the generic API's `run`. */
  const char *what = fn == 0 ? "run" : f->name;
  if (num_inputs != (size_t)f->num_inputs)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "%s: model '%s' takes %d inputs, got %zu", what,
                        m->name, (int)f->num_inputs, num_inputs);
  if (num_outputs != (size_t)f->num_outputs)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "%s: model '%s' has %d outputs, got %zu", what,
                        m->name, (int)f->num_outputs, num_outputs);
  if ((num_inputs && !inputs) || (num_outputs && !outputs))
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT, "%s: %s array is null",
                        what,
                        (num_inputs && !inputs) ? "the inputs" : "the outputs");
  cnnc_status st;
  for (size_t i = 0; i < num_inputs; ++i)
    if ((st = check_tensor(ctx, "input", &m->tensors[f->input_tensors[i]],
                           &inputs[i])))
      return st;
  for (size_t i = 0; i < num_outputs; ++i)
    if ((st = check_tensor(ctx, "output", &m->tensors[f->output_tensors[i]],
                           &outputs[i])))
      return st;
  if (!device_mem) {
    for (size_t i = 0; i < num_inputs; ++i)
      ctx->bufs[f->input_tensors[i]].host = inputs[i].data;
    for (size_t i = 0; i < num_outputs; ++i)
      ctx->bufs[f->output_tensors[i]].host = outputs[i].data;
    return run_steps(ctx, fn, 0);
  }
  /* Device memory: bind each tensor to it for this run, then unbind. */
  size_t n = num_inputs + num_outputs, bound = 0;
  for (; bound < n; ++bound) {
    int in = bound < num_inputs;
    int32_t t = in ? f->input_tensors[bound]
                   : f->output_tensors[bound - num_inputs];
    void *mem = in ? inputs[bound].data : outputs[bound - num_inputs].data;
    if ((st = cnnc_rt_device_bind(ctx, t, mem, in ? "input" : "output")))
      break;
  }
  if (bound == n)
    st = run_steps(ctx, fn, 1);
  for (size_t i = 0; i < bound; ++i)
    cnnc_rt_device_unbind(ctx, i < num_inputs
                                   ? f->input_tensors[i]
                                   : f->output_tensors[i - num_inputs]);
  return st;
}

cnnc_status cnnc_rt_run_function(cnnc_ctx *ctx, int32_t fn,
                                 const cnnc_tensor *inputs, size_t num_inputs,
                                 cnnc_tensor *outputs, size_t num_outputs) {
  return run_function(ctx, fn, inputs, num_inputs, outputs, num_outputs, 0);
}

cnnc_status cnnc_rt_run_function_device(cnnc_ctx *ctx, int32_t fn,
                                        const cnnc_tensor *inputs,
                                        size_t num_inputs, cnnc_tensor *outputs,
                                        size_t num_outputs) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                        "run_function_device: ctx is null");
  if (!cnnc_rt_on_device(ctx))
    return cnnc_rt_fail(ctx, CNNC_ERR_UNSUPPORTED,
                        "run_function_device: model '%s' runs on the CPU "
                        "(target '%s'); device memory needs a model compiled "
                        "for a GPU",
                        ctx->m->name, ctx->m->target);
  cnnc_status st = cnnc_rt_device_start(ctx);
  return st ? st
            : run_function(ctx, fn, inputs, num_inputs, outputs, num_outputs,
                           1);
}


cnnc_status cnnc_rt_run(cnnc_ctx *ctx, const cnnc_tensor *inputs,
                        size_t num_inputs, cnnc_tensor *outputs,
                        size_t num_outputs) {
  return cnnc_rt_run_function(ctx, 0, inputs, num_inputs, outputs,
                              num_outputs);
}

cnnc_status cnnc_rt_infer_ptrs(cnnc_ctx *ctx, void *const *ptrs) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "infer: ctx is null");
  const cnnc_rt_model *m = ctx->m;
  int32_t n = m->num_inputs + m->num_outputs;
  if (n > 0 && !ptrs)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "infer: the pointer array is null");
  for (int32_t i = 0; i < n; ++i) {
    int is_in = i < m->num_inputs;
    int32_t ti = is_in ? m->input_tensors[i]
                       : m->output_tensors[i - m->num_inputs];
    const cnnc_rt_tensor *t = &m->tensors[ti];
    if (!ptrs[i])
      return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT, "%s '%s': data is null",
                          is_in ? "input" : "output", t->name);
    size_t es = cnnc_rt_dtype_size(t->dtype);
    if ((uintptr_t)ptrs[i] % es != 0)
      return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                          "%s '%s': data at %p is not aligned to its %zu-byte "
                          "elements",
                          is_in ? "input" : "output", t->name, ptrs[i], es);
  }
  for (int32_t i = 0; i < n; ++i) {
    int32_t ti = i < m->num_inputs ? m->input_tensors[i]
                                   : m->output_tensors[i - m->num_inputs];
    ctx->bufs[ti].host = ptrs[i];
  }
  return run_steps(ctx, 0, 0);
}

/*===--------------------------------------------------------------------===*
 * Threads and profiling
 *===--------------------------------------------------------------------===*/

cnnc_status cnnc_rt_set_num_threads(cnnc_ctx *ctx, int n) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                        "set_num_threads: ctx is null");
  if (n < 1)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "set_num_threads: %d threads; need at least 1", n);
  ctx->num_threads = n;
  return CNNC_OK;
}

cnnc_status cnnc_rt_set_profiling(cnnc_ctx *ctx, int on) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                        "set_profiling: ctx is null");
  ctx->profiling = on != 0;
  if (ctx->profiling)
    for (int32_t s = 0; s < ctx->m->num_steps; ++s)
      ctx->step_seconds[s] = 0.0;
  return CNNC_OK;
}

double cnnc_rt_step_seconds(const cnnc_ctx *ctx, size_t i) {
  if (!ctx || i >= (size_t)ctx->m->num_steps)
    return -1.0;
  return ctx->step_seconds[i];
}

const char *cnnc_rt_step_name(const cnnc_rt_model *m, size_t i) {
  if (!m || i >= (size_t)m->num_steps)
    return "";
  return m->steps[i].name;
}

int64_t cnnc_rt_step_flops(const cnnc_rt_model *m, size_t i) {
  if (!m || i >= (size_t)m->num_steps)
    return -1;
  return m->steps[i].flops;
}
