/*===- runtime/cnnc_rt_device.c - GPU models: data on the device ----------===*
 *
 * A model compiled for a GPU (m->device "cuda" or "opencl") runs its kernels
 * through Halide's device runtime, which keeps a device copy next to each
 * host buffer and two dirty bits (halide_buffer_t::flags). The runtime keeps
 * every tensor's halide_buffer_t, device allocation included, for the life
 * of the ctx, so weights, activations, gradients and optimizer state stay on
 * the device between steps and between runs; data crosses to the host only
 *   - for the inputs a caller passes (host_dirty at each run),
 *   - for the outputs at the end of a run (copied back),
 *   - for parameters the host reads or writes (get/set/load/save_params),
 *   - for the runtime's own copies (assign) and for any kernel Halide runs
 *     on the host.
 *
 * The driver (libcuda.so.1, libOpenCL.so.1) is loaded at the first run, so a
 * GPU model links and loads on a machine without a GPU and fails only when
 * run there, saying why.
 *===----------------------------------------------------------------------===*/
#include "cnnc_rt_internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weak: present when the model's Halide runtime has a device API. */
extern int halide_copy_to_host(void *uc, struct halide_buffer_t *b)
    __attribute__((weak));
extern int halide_device_free(void *uc, struct halide_buffer_t *b)
    __attribute__((weak));
extern int halide_reuse_device_allocations(void *uc, bool reuse)
    __attribute__((weak));
extern int halide_device_malloc(void *uc, struct halide_buffer_t *b,
                                const struct halide_device_interface_t *i)
    __attribute__((weak));
extern int halide_copy_to_device(void *uc, struct halide_buffer_t *b,
                                 const struct halide_device_interface_t *i)
    __attribute__((weak));
extern const struct halide_device_interface_t *halide_cuda_device_interface(void)
    __attribute__((weak));
extern const struct halide_device_interface_t *
halide_opencl_device_interface(void) __attribute__((weak));

int cnnc_rt_on_device(const cnnc_ctx *ctx) {
  return ctx->m->device && ctx->m->device[0] != '\0';
}

static const struct halide_device_interface_t *interface_of(const cnnc_ctx *ctx) {
  if (strcmp(ctx->m->device, "cuda") == 0)
    return halide_cuda_device_interface ? halide_cuda_device_interface() : NULL;
  if (strcmp(ctx->m->device, "opencl") == 0)
    return halide_opencl_device_interface ? halide_opencl_device_interface()
                                          : NULL;
  return NULL;
}

cnnc_status cnnc_rt_device_start(cnnc_ctx *ctx) {
  if (ctx->device_ready)
    return CNNC_OK;
  const cnnc_rt_model *m = ctx->m;
  const char *const cuda[] = {"libcuda.so.1", "libcuda.so", NULL};
  const char *const opencl[] = {"libOpenCL.so.1", "libOpenCL.so", NULL};
  const char *const *names = strcmp(m->device, "cuda") == 0     ? cuda
                             : strcmp(m->device, "opencl") == 0 ? opencl
                                                                : NULL;
  if (!names || !interface_of(ctx) || !halide_copy_to_host)
    return cnnc_rt_fail(ctx, CNNC_ERR_UNSUPPORTED,
                        "model '%s': device '%s' is not supported by this "
                        "runtime",
                        m->name, m->device);
  /* Halide's device runtime looks the driver's symbols up in the process
   * first (then tries the unversioned name, which only development
   * packages install): load the versioned library globally. */
  char why[256] = "";
  void *lib = NULL;
  for (int i = 0; names[i] && !lib; ++i) {
    lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    const char *e = lib ? NULL : dlerror();
    if (i == 0 && e) /* the versioned name's reason */
      snprintf(why, sizeof why, "%s", e);
  }
  if (!lib)
    return cnnc_rt_fail(
        ctx, CNNC_ERR_UNSUPPORTED,
        "model '%s' was compiled for %s (target '%s') but the %s driver "
        "cannot be loaded (%s): run it on a machine with %s, or compile it "
        "for the CPU (--target=host)",
        m->name, strcmp(m->device, "cuda") == 0 ? "CUDA" : "OpenCL", m->target,
        strcmp(m->device, "cuda") == 0 ? "CUDA" : "OpenCL", why,
        strcmp(m->device, "cuda") == 0 ? "an NVIDIA GPU and its driver"
                                       : "an OpenCL platform (an ICD)");
  if (halide_reuse_device_allocations)
    halide_reuse_device_allocations(ctx, 1);
  ctx->device_ready = 1;
  return CNNC_OK;
}

void cnnc_rt_device_host_written(cnnc_ctx *ctx, int32_t t) {
  if (cnnc_rt_on_device(ctx))
    ctx->bufs[t].flags = halide_buffer_flag_host_dirty;
}

cnnc_status cnnc_rt_device_to_host(cnnc_ctx *ctx, int32_t t) {
  halide_buffer_t *b = &ctx->bufs[t];
  if (!cnnc_rt_on_device(ctx) || !(b->flags & halide_buffer_flag_device_dirty))
    return CNNC_OK;
  int rc = halide_copy_to_host(ctx, b);
  if (rc != 0)
    return cnnc_rt_fail(ctx, CNNC_ERR_KERNEL,
                        "copying '%s' from the device failed (Halide error "
                        "%d): %s",
                        ctx->m->tensors[t].name, rc, ctx->kernel_msg);
  return CNNC_OK;
}

cnnc_status cnnc_rt_device_params_to_host(cnnc_ctx *ctx) {
  cnnc_status st = CNNC_OK;
  for (int32_t p = 0; p < ctx->m->num_params && st == CNNC_OK; ++p)
    st = cnnc_rt_device_to_host(ctx, ctx->m->param_tensors[p]);
  return st;
}

cnnc_status cnnc_rt_device_copy(cnnc_ctx *ctx, int32_t dst, int32_t src) {
  cnnc_status st = cnnc_rt_device_to_host(ctx, src);
  if (st != CNNC_OK)
    return st;
  memcpy(ctx->bufs[dst].host, ctx->bufs[src].host,
         (size_t)ctx->m->tensors[dst].bytes);
  cnnc_rt_device_host_written(ctx, dst);
  return CNNC_OK;
}

void cnnc_rt_device_release(cnnc_ctx *ctx) {
  while (ctx->allocs)
    cnnc_rt_device_free(ctx, (void *)(uintptr_t)ctx->allocs->buf.device);
  if (!ctx->bufs || !halide_device_free)
    return;
  for (int32_t t = 0; t < ctx->m->num_tensors; ++t)
    if (ctx->bufs[t].device)
      halide_device_free(ctx, &ctx->bufs[t]);
}

/*===--------------------------------------------------------------------===*
 * Device memory for the caller (device_alloc ... run_function_device)
 *===--------------------------------------------------------------------===*/

static cnnc_status need_device(cnnc_ctx *ctx, const char *what) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "%s: ctx is null", what);
  if (!cnnc_rt_on_device(ctx))
    return cnnc_rt_fail(ctx, CNNC_ERR_UNSUPPORTED,
                        "%s: model '%s' runs on the CPU (target '%s'); device "
                        "memory needs a model compiled for a GPU",
                        what, ctx->m->name, ctx->m->target);
  return cnnc_rt_device_start(ctx);
}

/* The allocation whose native handle is `mem`, or null. */
static cnnc_rt_alloc *find_alloc(cnnc_ctx *ctx, const void *mem) {
  for (cnnc_rt_alloc *a = ctx->allocs; a; a = a->next)
    if (mem && a->buf.device == (uint64_t)(uintptr_t)mem)
      return a;
  return NULL;
}

cnnc_status cnnc_rt_device_alloc(cnnc_ctx *ctx, size_t bytes, void **mem) {
  cnnc_status st = need_device(ctx, "device_alloc");
  if (st != CNNC_OK)
    return st;
  if (!mem || bytes == 0 || bytes > 0x7fffffff)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "device_alloc: %s", !mem ? "mem is null"
                                                 : "size must be 1 to 2^31-1 bytes");
  *mem = NULL;
  cnnc_rt_alloc *a = calloc(1, sizeof *a);
  if (!a)
    return cnnc_rt_fail(ctx, CNNC_ERR_OUT_OF_MEMORY, "device_alloc: out of memory");
  a->dim.extent = (int32_t)bytes;
  a->dim.stride = 1;
  a->buf.type.code = halide_type_uint;
  a->buf.type.bits = 8;
  a->buf.type.lanes = 1;
  a->buf.dimensions = 1;
  a->buf.dim = &a->dim;
  a->bytes = bytes;
  int rc = halide_device_malloc ? halide_device_malloc(ctx, &a->buf, interface_of(ctx))
                                : -1;
  if (rc != 0 || !a->buf.device) {
    free(a);
    return cnnc_rt_fail(ctx, CNNC_ERR_OUT_OF_MEMORY,
                        "device_alloc: %zu bytes on the device failed (Halide "
                        "error %d): %s",
                        bytes, rc, ctx->kernel_msg);
  }
  a->next = ctx->allocs;
  ctx->allocs = a;
  *mem = (void *)(uintptr_t)a->buf.device;
  return CNNC_OK;
}

cnnc_status cnnc_rt_device_free(cnnc_ctx *ctx, void *mem) {
  cnnc_status st = need_device(ctx, "device_free");
  if (st != CNNC_OK)
    return st;
  for (cnnc_rt_alloc **p = &ctx->allocs; *p; p = &(*p)->next)
    if ((*p)->buf.device == (uint64_t)(uintptr_t)mem) {
      cnnc_rt_alloc *a = *p;
      *p = a->next;
      halide_device_free(ctx, &a->buf);
      free(a);
      return CNNC_OK;
    }
  return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                      "device_free: %p is not memory from this ctx's "
                      "device_alloc",
                      mem);
}

/* Host <-> device copies of a whole allocation. */
static cnnc_status transfer(cnnc_ctx *ctx, const char *what, void *mem,
                            void *host, size_t bytes, int to_device) {
  cnnc_status st = need_device(ctx, what);
  if (st != CNNC_OK)
    return st;
  cnnc_rt_alloc *a = find_alloc(ctx, mem);
  if (!a)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "%s: %p is not memory from this ctx's device_alloc",
                        what, mem);
  if (!host || bytes != a->bytes)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "%s: %s (the allocation has %zu bytes, got %zu)", what,
                        !host ? "the host pointer is null" : "sizes differ",
                        a->bytes, bytes);
  a->buf.host = host;
  a->buf.flags = to_device ? halide_buffer_flag_host_dirty
                           : halide_buffer_flag_device_dirty;
  int rc = to_device ? halide_copy_to_device(ctx, &a->buf, interface_of(ctx))
                     : halide_copy_to_host(ctx, &a->buf);
  a->buf.host = NULL;
  a->buf.flags = 0;
  if (rc != 0)
    return cnnc_rt_fail(ctx, CNNC_ERR_KERNEL, "%s failed (Halide error %d): %s",
                        what, rc, ctx->kernel_msg);
  return CNNC_OK;
}

cnnc_status cnnc_rt_device_upload(cnnc_ctx *ctx, void *mem, const void *host,
                                  size_t bytes) {
  return transfer(ctx, "device_upload", mem, (void *)(uintptr_t)host, bytes, 1);
}

cnnc_status cnnc_rt_device_download(cnnc_ctx *ctx, void *host, void *mem,
                                    size_t bytes) {
  return transfer(ctx, "device_download", mem, host, bytes, 0);
}

cnnc_status cnnc_rt_device_bind(cnnc_ctx *ctx, int32_t t, void *mem,
                                const char *what) {
  const cnnc_rt_tensor *ten = &ctx->m->tensors[t];
  cnnc_rt_alloc *a = find_alloc(ctx, mem);
  if (!a)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "%s '%s': %p is not memory from this ctx's "
                        "device_alloc",
                        what, ten->name, mem);
  if (a->bytes < (size_t)ten->bytes)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "%s '%s': the device memory has %zu bytes, the tensor "
                        "needs %lld",
                        what, ten->name, a->bytes, (long long)ten->bytes);
  halide_buffer_t *b = &ctx->bufs[t];
  /* The tensor's own allocation waits aside while it is bound; the tensor
   * shares the allocation's device handle (Halide's, which for OpenCL is
   * not the cl_mem itself) and its current contents. */
  ctx->saved_device[t] = b->device;
  ctx->saved_interface[t] = b->device_interface;
  b->device = a->buf.device;
  b->device_interface = a->buf.device_interface;
  b->host = NULL;
  b->flags = 0;
  return CNNC_OK;
}

void cnnc_rt_device_unbind(cnnc_ctx *ctx, int32_t t) {
  halide_buffer_t *b = &ctx->bufs[t];
  b->device = ctx->saved_device[t];
  b->device_interface = ctx->saved_interface[t];
  b->flags = 0;
}
