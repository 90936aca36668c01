/* schedule_check MODEL.so: the learning-rate schedules of the runtime
 * against their formulas (cnnc_runtime.h), at steps 0..7 of
 * apply_gradients. */
#include "runtime/cnnc_runtime.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const cnnc_model_api *api;
static cnnc_ctx *ctx;

static double expected(const cnnc_train_config *c, int t) {
  const double pi = 3.14159265358979323846;
  switch (c->schedule) {
  case CNNC_LR_STEP: return c->learning_rate * pow(c->decay, t / c->decay_steps);
  case CNNC_LR_EXPONENTIAL:
    return c->learning_rate * pow(c->decay, (double)t / c->decay_steps);
  case CNNC_LR_INV_T: return c->learning_rate / (1 + c->decay * t);
  case CNNC_LR_SQRT:
    return t >= c->total_steps ? 0.0
                               : c->learning_rate * sqrt(1.0 - (double)t / c->total_steps);
  case CNNC_LR_COSINE:
    return t >= c->total_steps
               ? c->min_lr
               : c->min_lr + (c->learning_rate - c->min_lr) *
                                 (1 + cos(pi * t / c->total_steps)) / 2;
  default: return c->learning_rate;
  }
}

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h)
    return fprintf(stderr, "%s\n", dlerror()), 1;
  api = ((cnnc_model_api_fn)dlsym(h, CNNC_MODEL_API_SYMBOL))();
  const char *names[] = {"constant", "step", "exponential", "inv_t", "sqrt",
                         "cosine"};
  int failed = 0;
  for (int s = CNNC_LR_CONSTANT; s <= CNNC_LR_COSINE; ++s) {
    if (api->create(&ctx) != CNNC_OK)
      return fprintf(stderr, "%s\n", api->last_error(NULL)), 1;
    cnnc_train_config c;
    api->get_train_config(ctx, &c);
    c.learning_rate = 0.1;
    c.schedule = (cnnc_lr_schedule)s;
    c.decay = 0.5;
    c.decay_steps = 3;
    c.total_steps = 6;
    c.min_lr = 0.01;
    if (api->set_train_config(ctx, &c) != CNNC_OK)
      return fprintf(stderr, "%s\n", api->last_error(ctx)), 1;
    double worst = 0;
    printf("%s:", names[s]);
    for (int t = 0; t < 8; ++t) {
      double lr = api->learning_rate(ctx);
      printf(" %.6g", lr);
      worst = fmax(worst, fabs(lr - expected(&c, t)));
      if (api->apply_gradients(ctx) != CNNC_OK)
        return fprintf(stderr, "%s\n", api->last_error(ctx)), 1;
    }
    printf("  %s\n", worst < 1e-12 ? "ok" : "WRONG");
    failed |= worst >= 1e-12;
    api->destroy(ctx);
  }
  /* A bad configuration is refused and leaves the old one. */
  api->create(&ctx);
  cnnc_train_config c;
  api->get_train_config(ctx, &c);
  c.learning_rate = -1;
  if (api->set_train_config(ctx, &c) != CNNC_ERR_BAD_ARGUMENT)
    failed = 1;
  printf("refused: %s\n", api->last_error(ctx));
  api->destroy(ctx);
  return failed;
}
