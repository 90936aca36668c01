/* grad_oracle MODEL.so: the gradients a training artifact computes against
 * centered differences of its own loss, in double precision.
 *
 * forward_backward stores d(loss)/d(p) in the parameters grad.<p>; for
 * every element of every trainable parameter, the loss of `eval` at
 * p +- h gives the numerical derivative (eval and forward_backward agree on
 * a network without batch_norm or dropout). Prints the largest relative
 * error per parameter and fails above 1e-6. */
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

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: grad_oracle MODEL.so\n");
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  api = ((cnnc_model_api_fn)dlsym(h, CNNC_MODEL_API_SYMBOL))();
  check(api->create(&ctx), "create");
  const cnnc_tensor_desc *in = &api->inputs[0], *out = &api->outputs[0];
  if (in->dtype != CNNC_F64) {
    fprintf(stderr, "the oracle needs an f64 model\n");
    return 1;
  }
  double *x = malloc(sizeof(double) * (size_t)in->num_elements);
  int64_t n = in->dims[0], classes = out->dims[1];
  int64_t *labels = malloc(sizeof(int64_t) * (size_t)n);
  srand(7);
  for (int64_t i = 0; i < in->num_elements; ++i)
    x[i] = 2.0 * rand() / RAND_MAX - 1.0;
  for (int64_t i = 0; i < n; ++i)
    labels[i] = rand() % classes;
  cnnc_tensor tx = {x, CNNC_F64, in->rank, {0}};
  memcpy(tx.dims, in->dims, sizeof(int64_t) * (size_t)in->rank);
  cnnc_tensor tl = {labels, CNNC_I64, 1, {n}};
  double loss;
  check(api->forward_backward(ctx, &tx, &tl, &loss, NULL), "forward_backward");
  printf("loss %.6f\n", loss);

  double worst = 0;
  for (size_t p = 0; p < api->num_params; ++p) {
    const cnnc_tensor_desc *d = &api->params[p];
    if (!d->trainable)
      continue;
    size_t bytes = sizeof(double) * (size_t)d->num_elements;
    double *w = malloc(bytes), *g = malloc(bytes);
    char gname[256];
    snprintf(gname, sizeof gname, "grad.%s", d->name);
    check(api->get_param(ctx, d->name, w, bytes), "get_param");
    check(api->get_param(ctx, gname, g, bytes), "get_param(grad)");
    double maxRel = 0;
    for (int64_t i = 0; i < d->num_elements; ++i) {
      const double hstep = 1e-6;
      double keep = w[i], lp, lm;
      w[i] = keep + hstep;
      check(api->set_param(ctx, d->name, w, bytes), "set_param");
      check(api->eval(ctx, &tx, &tl, &lp, NULL), "eval");
      w[i] = keep - hstep;
      check(api->set_param(ctx, d->name, w, bytes), "set_param");
      check(api->eval(ctx, &tx, &tl, &lm, NULL), "eval");
      w[i] = keep;
      check(api->set_param(ctx, d->name, w, bytes), "set_param");
      double num = (lp - lm) / (2 * hstep);
      double denom = fmax(fabs(num) + fabs(g[i]), 1e-10);
      double rel = fabs(num - g[i]) / denom;
      if (rel > maxRel)
        maxRel = rel;
    }
    printf("param %s max-rel-error %.2e\n", d->name, maxRel);
    if (maxRel > worst)
      worst = maxRel;
    free(w);
    free(g);
  }
  printf("%s: worst relative error %.2e\n", worst < 1e-6 ? "PASS" : "FAIL",
         worst);
  api->destroy(ctx);
  return worst < 1e-6 ? 0 : 1;
}
