/* optimizer_check MODEL.so OPTIMIZER: apply_gradients against the textbook
 * update rules, written out again here (CS231n's forms; Adam with bias
 * correction; Adadelta as Zeiler 2012), in double precision.
 *
 * Sets the weight f.w (rank 2: weight decay applies) and the bias f.b (no
 * decay) and their gradients grad.f.w / grad.f.b, runs apply_gradients
 * three times with a learning-rate schedule, and compares every element. */
#include "runtime/cnnc_runtime.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cnnc_model_api *api;
static cnnc_ctx *ctx;

static void check(cnnc_status st, const char *what) {
  if (st != CNNC_OK) {
    fprintf(stderr, "%s failed: %s\n", what, api->last_error(ctx));
    exit(1);
  }
}

/* One parameter's reference state. */
typedef struct {
  double w, s1, s2;
} ref_t;

static double step_ref(const char *opt, ref_t *r, double g, int t, double lr,
                       const cnnc_train_config *c, int decay) {
  if (decay)
    g += c->weight_decay * r->w;
  double mu = c->momentum, b2 = c->beta2, eps = c->eps;
  if (!strcmp(opt, "sgd")) {
    r->w -= lr * g;
  } else if (!strcmp(opt, "momentum")) {
    r->s1 = mu * r->s1 - lr * g;
    r->w += r->s1;
  } else if (!strcmp(opt, "nesterov")) {
    double prev = r->s1;
    r->s1 = mu * r->s1 - lr * g;
    r->w += -mu * prev + (1 + mu) * r->s1;
  } else if (!strcmp(opt, "adagrad")) {
    r->s1 += g * g;
    r->w -= lr * g / (sqrt(r->s1) + eps);
  } else if (!strcmp(opt, "rmsprop")) {
    r->s1 = b2 * r->s1 + (1 - b2) * g * g;
    r->w -= lr * g / (sqrt(r->s1) + eps);
  } else if (!strcmp(opt, "adam")) {
    r->s1 = mu * r->s1 + (1 - mu) * g;
    r->s2 = b2 * r->s2 + (1 - b2) * g * g;
    double mhat = r->s1 / (1 - pow(mu, t)), vhat = r->s2 / (1 - pow(b2, t));
    r->w -= lr * mhat / (sqrt(vhat) + eps);
  } else if (!strcmp(opt, "adadelta")) {
    r->s1 = b2 * r->s1 + (1 - b2) * g * g;
    double d = -sqrt(r->s2 + eps) / sqrt(r->s1 + eps) * g;
    r->s2 = b2 * r->s2 + (1 - b2) * d * d;
    r->w += lr * d;
  } else {
    fprintf(stderr, "unknown optimizer %s\n", opt);
    exit(2);
  }
  return r->w;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: optimizer_check MODEL.so OPTIMIZER\n");
    return 2;
  }
  const char *opt = argv[2];
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  api = ((cnnc_model_api_fn)dlsym(h, CNNC_MODEL_API_SYMBOL))();
  check(api->create(&ctx), "create");
  if (strcmp(api->optimizer, opt) != 0) {
    fprintf(stderr, "the model's optimizer is '%s', not '%s'\n",
            api->optimizer, opt);
    return 1;
  }
  cnnc_train_config c;
  check(api->get_train_config(ctx, &c), "get_train_config");
  c.learning_rate = 0.1;
  c.momentum = 0.9;
  c.beta2 = 0.99;
  c.eps = 1e-3;
  c.weight_decay = 0.01;
  c.schedule = CNNC_LR_INV_T; /* lr_t = 0.1 / (1 + 0.5 t), t = 0, 1, 2 */
  c.decay = 0.5;
  check(api->set_train_config(ctx, &c), "set_train_config");

  enum { NW = 60, NB = 5 };
  double w[NW], gw[NW], b[NB], gb[NB];
  ref_t rw[NW], rb[NB];
  for (int i = 0; i < NW; ++i) {
    w[i] = 0.1 * (i % 7) - 0.3;
    gw[i] = 0.05 * (i % 5) - 0.1;
    rw[i] = (ref_t){w[i], 0, 0};
  }
  for (int i = 0; i < NB; ++i) {
    b[i] = 0.2 * i - 0.4;
    gb[i] = 0.3 - 0.1 * i;
    rb[i] = (ref_t){b[i], 0, 0};
  }
  check(api->set_param(ctx, "f.w", w, sizeof w), "set_param(f.w)");
  check(api->set_param(ctx, "f.b", b, sizeof b), "set_param(f.b)");
  check(api->set_param(ctx, "grad.f.w", gw, sizeof gw), "set grad.f.w");
  check(api->set_param(ctx, "grad.f.b", gb, sizeof gb), "set grad.f.b");
  double worst = 0;
  for (int t = 1; t <= 3; ++t) {
    double lr = 0.1 / (1 + 0.5 * (t - 1));
    if (fabs(api->learning_rate(ctx) - lr) > 1e-15) {
      fprintf(stderr, "step %d: learning_rate() %g, expected %g\n", t,
              api->learning_rate(ctx), lr);
      return 1;
    }
    check(api->apply_gradients(ctx), "apply_gradients");
    check(api->get_param(ctx, "f.w", w, sizeof w), "get_param(f.w)");
    check(api->get_param(ctx, "f.b", b, sizeof b), "get_param(f.b)");
    for (int i = 0; i < NW; ++i)
      worst = fmax(worst, fabs(w[i] - step_ref(opt, &rw[i], gw[i], t, lr, &c, 1)));
    for (int i = 0; i < NB; ++i)
      worst = fmax(worst, fabs(b[i] - step_ref(opt, &rb[i], gb[i], t, lr, &c, 0)));
  }
  if (api->train_steps_done(ctx) != 3) {
    fprintf(stderr, "train_steps_done %lld, expected 3\n",
            (long long)api->train_steps_done(ctx));
    return 1;
  }
  printf("%s: %s, largest difference %.2e after 3 steps\n", opt,
         worst < 1e-12 ? "PASS" : "FAIL", worst);
  api->destroy(ctx);
  return worst < 1e-12 ? 0 : 1;
}
