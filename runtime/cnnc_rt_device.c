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
#include <string.h>

/* Weak: present when the model's Halide runtime has a device API. */
extern int halide_copy_to_host(void *uc, struct halide_buffer_t *b)
    __attribute__((weak));
extern int halide_device_free(void *uc, struct halide_buffer_t *b)
    __attribute__((weak));
extern int halide_reuse_device_allocations(void *uc, bool reuse)
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
  if (!ctx->bufs || !halide_device_free)
    return;
  for (int32_t t = 0; t < ctx->m->num_tensors; ++t)
    if (ctx->bufs[t].device)
      halide_device_free(ctx, &ctx->bufs[t]);
}
