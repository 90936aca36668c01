/*===- runtime/cnnc_rt_train.c - training entry points and schedules -----===*
 *
 * The training functions of a model compiled with --train (see
 * passes/Training.h) take the model input x, labels and, for the updating
 * ones, the hyperparameter vector `hyper` (cnnc_hyper layout), which this
 * file fills from the ctx's cnnc_train_config and the step count. The step
 * count is the parameter "train.step" (the functions increment it), so a
 * checkpoint carries it.
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include "cnnc_rt_internal.h"

#include <math.h>
#include <string.h>

void cnnc_rt_default_train_config(const char *optimizer,
                                  cnnc_train_config *c) {
  memset(c, 0, sizeof *c);
  c->learning_rate = 0.01;
  c->eps = 1e-8;
  c->schedule = CNNC_LR_CONSTANT;
  c->decay = 0.1;
  c->decay_steps = 1000;
  c->total_steps = 10000;
  if (!optimizer)
    return;
  if (!strcmp(optimizer, "momentum") || !strcmp(optimizer, "nesterov")) {
    c->momentum = 0.9;
  } else if (!strcmp(optimizer, "rmsprop")) {
    c->learning_rate = 0.001;
    c->beta2 = 0.9;
  } else if (!strcmp(optimizer, "adam")) {
    c->learning_rate = 0.001;
    c->momentum = 0.9;
    c->beta2 = 0.999;
  } else if (!strcmp(optimizer, "adadelta")) {
    c->learning_rate = 1.0;
    c->beta2 = 0.95;
    c->eps = 1e-6;
  }
}

/* Function `name`, or CNNC_ERR_UNSUPPORTED naming what is missing. */
static cnnc_status need_function(cnnc_ctx *ctx, const char *op,
                                 const char *name, int32_t *fn) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "%s: ctx is null", op);
  *fn = cnnc_rt_find_function(ctx->m, name);
  if (*fn < 0)
    return cnnc_rt_fail(ctx, CNNC_ERR_UNSUPPORTED,
                        "%s: model '%s' was compiled without --train", op,
                        ctx->m->name);
  return CNNC_OK;
}

/* The step count stored in "train.step" (a float scalar), or -1. */
int64_t cnnc_rt_train_steps_done(cnnc_ctx *ctx) {
  if (!ctx)
    return -1;
  int32_t p = cnnc_rt_find_param(ctx->m, "train.step");
  if (p < 0)
    return -1;
  if (cnnc_rt_device_to_host(ctx, ctx->m->param_tensors[p]) != CNNC_OK)
    return -1;
  const cnnc_rt_tensor *t = &ctx->m->tensors[ctx->m->param_tensors[p]];
  const uint8_t *at = ctx->params_at + t->offset;
  if (t->dtype == CNNC_F64) {
    double v;
    memcpy(&v, at, sizeof v);
    return (int64_t)v;
  }
  float v;
  memcpy(&v, at, sizeof v);
  return (int64_t)v;
}

static double schedule(const cnnc_train_config *c, int64_t step) {
  double t = (double)step, lr = c->learning_rate;
  switch (c->schedule) {
  case CNNC_LR_STEP:
    return c->decay_steps > 0
               ? lr * pow(c->decay, (double)(step / c->decay_steps))
               : lr;
  case CNNC_LR_EXPONENTIAL:
    return c->decay_steps > 0 ? lr * pow(c->decay, t / (double)c->decay_steps)
                              : lr;
  case CNNC_LR_INV_T:
    return lr / (1.0 + c->decay * t);
  case CNNC_LR_SQRT:
    if (c->total_steps <= 0 || step >= c->total_steps)
      return 0.0;
    return lr * sqrt(1.0 - t / (double)c->total_steps);
  case CNNC_LR_COSINE:
    if (c->total_steps <= 0 || step >= c->total_steps)
      return c->min_lr;
    return c->min_lr + (lr - c->min_lr) * 0.5 *
                           (1.0 + cos(3.14159265358979323846 * t /
                                      (double)c->total_steps));
  default:
    return lr;
  }
}

double cnnc_rt_learning_rate(cnnc_ctx *ctx) {
  if (!ctx)
    return 0.0;
  int64_t done = cnnc_rt_train_steps_done(ctx);
  return schedule(&ctx->train, done < 0 ? 0 : done);
}

cnnc_status cnnc_rt_get_train_config(cnnc_ctx *ctx, cnnc_train_config *cfg) {
  if (!ctx || !cfg)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "get_train_config: %s is null", ctx ? "cfg" : "ctx");
  *cfg = ctx->train;
  return CNNC_OK;
}

cnnc_status cnnc_rt_set_train_config(cnnc_ctx *ctx,
                                     const cnnc_train_config *cfg) {
  if (!ctx || !cfg)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "set_train_config: %s is null", ctx ? "cfg" : "ctx");
  if (!(cfg->learning_rate >= 0) || !(cfg->eps >= 0) ||
      !(cfg->weight_decay >= 0) || (int)cfg->schedule < CNNC_LR_CONSTANT ||
      (int)cfg->schedule > CNNC_LR_COSINE)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "set_train_config: learning_rate, eps and "
                        "weight_decay must be >= 0 and the schedule one of "
                        "cnnc_lr_schedule (got lr %g, eps %g, decay %g, "
                        "schedule %d)",
                        cfg->learning_rate, cfg->eps, cfg->weight_decay,
                        (int)cfg->schedule);
  ctx->train = *cfg;
  return CNNC_OK;
}

/* A 24-bit seed for this step's dropout masks (exact in f32). */
static double step_seed(uint64_t seed, int64_t step) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + (uint64_t)step;
  z ^= z >> 31;
  z *= 0xBF58476D1CE4E5B9ull;
  z ^= z >> 29;
  return (double)(z & 0xFFFFFFu);
}

/* Fills ctx's hyper vector for the next step, of the dtype of function
 * fn's input `hyper` (its last input); *t gets the tensor. */
static cnnc_status fill_hyper(cnnc_ctx *ctx, int32_t fn, cnnc_tensor *t) {
  const cnnc_rt_function *f = &ctx->m->functions[fn];
  const cnnc_rt_tensor *h = &ctx->m->tensors[f->input_tensors[f->num_inputs - 1]];
  int64_t done = cnnc_rt_train_steps_done(ctx);
  double v[CNNC_HP_COUNT] = {0};
  v[CNNC_HP_LR] = schedule(&ctx->train, done < 0 ? 0 : done);
  v[CNNC_HP_MOMENTUM] = ctx->train.momentum;
  v[CNNC_HP_BETA2] = ctx->train.beta2;
  v[CNNC_HP_EPS] = ctx->train.eps;
  v[CNNC_HP_WEIGHT_DECAY] = ctx->train.weight_decay;
  v[CNNC_HP_SEED] = step_seed(ctx->train.seed, done);
  memset(t, 0, sizeof *t);
  t->dtype = (cnnc_dtype)h->dtype;
  t->rank = 1;
  t->dims[0] = h->dims[0];
  if (h->dims[0] != CNNC_HP_COUNT ||
      (h->dtype != CNNC_F32 && h->dtype != CNNC_F64))
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "model '%s': the hyper input is not %d floats",
                        ctx->m->name, CNNC_HP_COUNT);
  for (int i = 0; i < CNNC_HP_COUNT; ++i) {
    if (h->dtype == CNNC_F64)
      ctx->hyper.f64[i] = v[i];
    else
      ctx->hyper.f32[i] = (float)v[i];
  }
  t->data = &ctx->hyper;
  return CNNC_OK;
}

/* Runs fn on (x, labels[, hyper]) -> (loss, scores). */
static cnnc_status run_loss_function(cnnc_ctx *ctx, const char *op,
                                     const char *name, int with_hyper,
                                     const cnnc_tensor *x,
                                     const cnnc_tensor *labels, double *loss,
                                     cnnc_tensor *scores) {
  int32_t fn = -1;
  cnnc_status st = need_function(ctx, op, name, &fn);
  if (st != CNNC_OK)
    return st;
  if (!x || !labels)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT, "%s: %s is null", op,
                        x ? "labels" : "x");
  const cnnc_rt_function *f = &ctx->m->functions[fn];
  if (f->num_inputs != 2 + with_hyper || f->num_outputs != 2)
    return cnnc_rt_fail(ctx, CNNC_ERR_UNSUPPORTED,
                        "%s: model '%s' has %d inputs; the training entry "
                        "points need a model with one input",
                        op, ctx->m->name, (int)f->num_inputs - 1 - with_hyper);
  cnnc_tensor in[3];
  in[0] = *x;
  in[1] = *labels;
  if (with_hyper && (st = fill_hyper(ctx, fn, &in[2])) != CNNC_OK)
    return st;
  /* The loss, and the scores when the caller wants none, go to ctx memory
   * (scratch, sized at create for the largest outputs). */
  cnnc_tensor out[2];
  const cnnc_rt_tensor *lt = &ctx->m->tensors[f->output_tensors[0]];
  const cnnc_rt_tensor *yt = &ctx->m->tensors[f->output_tensors[1]];
  memset(out, 0, sizeof out);
  out[0].data = &ctx->loss;
  out[0].dtype = (cnnc_dtype)lt->dtype;
  out[0].rank = 0;
  if (scores) {
    out[1] = *scores;
  } else {
    out[1].data = ctx->scratch;
    out[1].dtype = (cnnc_dtype)yt->dtype;
    out[1].rank = yt->rank;
    memcpy(out[1].dims, yt->dims, sizeof out[1].dims);
  }
  st = cnnc_rt_run_function(ctx, fn, in, 2 + (size_t)with_hyper, out, 2);
  if (st == CNNC_OK && loss)
    *loss = lt->dtype == CNNC_F64 ? ctx->loss.f64 : (double)ctx->loss.f32;
  return st;
}

cnnc_status cnnc_rt_train_step(cnnc_ctx *ctx, const cnnc_tensor *x,
                               const cnnc_tensor *labels, double *loss,
                               cnnc_tensor *scores) {
  return run_loss_function(ctx, "train_step", "train_step", 1, x, labels,
                           loss, scores);
}

cnnc_status cnnc_rt_eval(cnnc_ctx *ctx, const cnnc_tensor *x,
                         const cnnc_tensor *labels, double *loss,
                         cnnc_tensor *scores) {
  return run_loss_function(ctx, "eval", "eval", 0, x, labels, loss, scores);
}

cnnc_status cnnc_rt_forward_backward(cnnc_ctx *ctx, const cnnc_tensor *x,
                                     const cnnc_tensor *labels, double *loss,
                                     cnnc_tensor *scores) {
  return run_loss_function(ctx, "forward_backward", "forward_backward", 1, x,
                           labels, loss, scores);
}

cnnc_status cnnc_rt_apply_gradients(cnnc_ctx *ctx) {
  int32_t fn = -1;
  cnnc_status st = need_function(ctx, "apply_gradients", "apply_gradients", &fn);
  if (st != CNNC_OK)
    return st;
  cnnc_tensor hyper;
  if ((st = fill_hyper(ctx, fn, &hyper)) != CNNC_OK)
    return st;
  return cnnc_rt_run_function(ctx, fn, &hyper, 1, NULL, 0);
}
