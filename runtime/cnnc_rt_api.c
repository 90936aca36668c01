/*===- runtime/cnnc_rt_api.c - the generic cnnc_model_api of this model ---===*
 *
 * Binds the runtime to cnnc_rt_this_model (defined by the compiler's glue
 * module). Kept apart from the rest of the runtime so that a program linking
 * the runtime for another purpose (tests) need not define that symbol.
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include "cnnc_rt_internal.h"

#include <stdlib.h>

static cnnc_model_api the_api;
static const cnnc_model_api *api_ptr; /* null if building it failed */
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

static cnnc_status api_create(cnnc_ctx **ctx) {
  return cnnc_rt_create(&cnnc_rt_this_model, ctx, NULL, 0);
}

static cnnc_status api_create_with_arena(cnnc_ctx **ctx, void *arena,
                                         size_t size) {
  if (!arena) {
    if (ctx)
      *ctx = NULL;
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT,
                        "create_with_arena: arena is null (use create for a "
                        "model-owned arena)");
  }
  return cnnc_rt_create(&cnnc_rt_this_model, ctx, arena, size);
}

static const char *api_step_name(size_t i) {
  return cnnc_rt_step_name(&cnnc_rt_this_model, i);
}

static int64_t api_step_flops(size_t i) {
  return cnnc_rt_step_flops(&cnnc_rt_this_model, i);
}

/* Descriptors of one list (inputs, outputs or params); null if out of
 * memory. Freed when the model's code is unloaded (free_api). */
static cnnc_tensor_desc *make_descs(const cnnc_rt_model *m, int32_t count,
                                    const int32_t *list, int params) {
  cnnc_tensor_desc *d = calloc(count > 0 ? (size_t)count : 1, sizeof *d);
  if (!d)
    return NULL;
  for (int32_t i = 0; i < count; ++i) {
    const cnnc_rt_tensor *t = &m->tensors[list[i]];
    int64_t n = 1;
    for (int32_t k = 0; k < t->rank; ++k)
      n *= t->dims[k];
    d[i].name = t->name;
    d[i].dtype = (cnnc_dtype)t->dtype;
    d[i].rank = t->rank;
    d[i].dims = t->dims;
    d[i].num_elements = n;
    d[i].trainable =
        params && m->param_trainable ? m->param_trainable[i] != 0 : 0;
  }
  return d;
}

static cnnc_status find_function(cnnc_ctx *ctx, const char *what,
                                 const char *name, int32_t *fn) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "%s: ctx is null", what);
  *fn = cnnc_rt_find_function(ctx->m, name);
  if (*fn < 0)
    return cnnc_rt_fail(ctx, CNNC_ERR_NOT_FOUND,
                        "%s: model '%s' has no function '%s'", what,
                        ctx->m->name, name ? name : "(null)");
  return CNNC_OK;
}

static cnnc_status api_run_function(cnnc_ctx *ctx, const char *name,
                                    const cnnc_tensor *inputs,
                                    size_t num_inputs, cnnc_tensor *outputs,
                                    size_t num_outputs) {
  int32_t fn = -1;
  cnnc_status st = find_function(ctx, "run_function", name, &fn);
  return st ? st
            : cnnc_rt_run_function(ctx, fn, inputs, num_inputs, outputs,
                                   num_outputs);
}

static cnnc_status api_run_function_device(cnnc_ctx *ctx, const char *name,
                                           const cnnc_tensor *inputs,
                                           size_t num_inputs,
                                           cnnc_tensor *outputs,
                                           size_t num_outputs) {
  int32_t fn = -1;
  cnnc_status st = find_function(ctx, "run_function_device", name, &fn);
  return st ? st
            : cnnc_rt_run_function_device(ctx, fn, inputs, num_inputs, outputs,
                                          num_outputs);
}

static void build_api(void) {
  const cnnc_rt_model *m = &cnnc_rt_this_model;
  cnnc_tensor_desc *in = make_descs(m, m->num_inputs, m->input_tensors, 0);
  cnnc_tensor_desc *out = make_descs(m, m->num_outputs, m->output_tensors, 0);
  cnnc_tensor_desc *par = make_descs(m, m->num_params, m->param_tensors, 1);
  const char **fns = calloc((size_t)m->num_functions + 1, sizeof *fns);
  if (!in || !out || !par || !fns) {
    free(in);
    free(out);
    free(par);
    free(fns);
    return;
  }
  for (int32_t f = 0; f < m->num_functions; ++f)
    fns[f] = m->functions[f].name;
  cnnc_model_api *a = &the_api;
  a->abi_version = CNNC_ABI_VERSION;
  a->name = m->name;
  a->target = m->target;
  a->num_inputs = (size_t)m->num_inputs;
  a->num_outputs = (size_t)m->num_outputs;
  a->num_params = (size_t)m->num_params;
  a->inputs = in;
  a->outputs = out;
  a->params = par;
  a->arena_size = cnnc_rt_arena_size(m);
  a->create = api_create;
  a->create_with_arena = api_create_with_arena;
  a->destroy = cnnc_rt_destroy;
  a->run = cnnc_rt_run;
  a->set_num_threads = cnnc_rt_set_num_threads;
  a->last_error = cnnc_rt_last_error;
  a->get_param = cnnc_rt_get_param;
  a->set_param = cnnc_rt_set_param;
  a->load_params = cnnc_rt_load_params;
  a->save_params = cnnc_rt_save_params;
  a->num_steps = m->num_steps > 0 ? (size_t)m->num_steps : 0;
  a->step_name = api_step_name;
  a->step_flops = api_step_flops;
  a->set_profiling = cnnc_rt_set_profiling;
  a->step_seconds = cnnc_rt_step_seconds;
  a->num_functions = (size_t)m->num_functions;
  a->function_names = fns;
  a->run_function = api_run_function;
  a->optimizer = m->optimizer;
  a->train_step = cnnc_rt_train_step;
  a->eval = cnnc_rt_eval;
  a->forward_backward = cnnc_rt_forward_backward;
  a->apply_gradients = cnnc_rt_apply_gradients;
  a->get_train_config = cnnc_rt_get_train_config;
  a->set_train_config = cnnc_rt_set_train_config;
  a->train_steps_done = cnnc_rt_train_steps_done;
  a->learning_rate = cnnc_rt_learning_rate;
  a->device = m->device ? m->device : "";
  a->device_alloc = cnnc_rt_device_alloc;
  a->device_free = cnnc_rt_device_free;
  a->device_upload = cnnc_rt_device_upload;
  a->device_download = cnnc_rt_device_download;
  a->run_function_device = api_run_function_device;
  api_ptr = a;
}

/* At dlclose of a model.so (or exit): the descriptors go with the code, so
 * that loading and unloading a model repeatedly does not leak. */
__attribute__((destructor)) static void free_api(void) {
  if (!api_ptr)
    return;
  api_ptr = NULL;
  free((void *)the_api.inputs);
  free((void *)the_api.outputs);
  free((void *)the_api.params);
  free((void *)the_api.function_names);
  the_api.inputs = the_api.outputs = the_api.params = NULL;
  the_api.function_names = NULL;
}

const cnnc_model_api *cnnc_rt_get_api(void) {
  pthread_once(&api_once, build_api);
  return api_ptr;
}
