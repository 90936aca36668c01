/*===- examples/c/classify.c - link a compiled model and print the top 5 ---===*
 *
 * Build (after `cnnc examples/lenet5.cnn --name lenet5 -o lenet5.so`):
 *   cc -DMODEL=lenet5 -I. classify.c lenet5.so -Wl,-rpath,'$ORIGIN' -o classify
 *   ./classify [input.f32 [output.f32]]
 * The input file holds the model's first input as raw little-endian float32
 * (e.g. numpy's x.astype('<f4').tofile()); without one, a fixed pattern is
 * used. The first output is written to output.f32 when given, and its top-5
 * entries are printed.
 *===----------------------------------------------------------------------===*/
#ifndef MODEL
#define MODEL lenet5
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define FN(suffix) CAT(MODEL, suffix)

#include STR(MODEL.h)

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  const cnnc_model_api *api = FN(_api)();
  const cnnc_tensor_desc *in = &api->inputs[0], *out = &api->outputs[0];
  if (in->dtype != CNNC_F32 || out->dtype != CNNC_F32) {
    fprintf(stderr, "classify: the model's first input and output must be f32\n");
    return 1;
  }
  float *x = malloc(sizeof(float) * (size_t)in->num_elements);
  float *y = malloc(sizeof(float) * (size_t)out->num_elements);
  if (!x || !y) {
    fprintf(stderr, "classify: out of memory\n");
    return 1;
  }
  if (argc > 1) {
    FILE *f = fopen(argv[1], "rb");
    if (!f || fread(x, sizeof(float), (size_t)in->num_elements, f) !=
                  (size_t)in->num_elements) {
      fprintf(stderr, "classify: cannot read %lld floats from %s\n",
              (long long)in->num_elements, argv[1]);
      return 1;
    }
    fclose(f);
  } else {
    for (int64_t i = 0; i < in->num_elements; ++i)
      x[i] = (float)((i * 7919) % 255) / 255.0f - 0.5f;
  }

  FN(_ctx) *ctx = NULL;
  if (FN(_create)(&ctx) != CNNC_OK) {
    fprintf(stderr, "classify: %s\n", FN(_last_error)(NULL));
    return 1;
  }
  cnnc_tensor tin = {x, CNNC_F32, in->rank, {0}};
  cnnc_tensor tout = {y, CNNC_F32, out->rank, {0}};
  for (int d = 0; d < in->rank; ++d)
    tin.dims[d] = in->dims[d];
  for (int d = 0; d < out->rank; ++d)
    tout.dims[d] = out->dims[d];
  if (api->num_inputs != 1 || api->num_outputs != 1 ||
      FN(_run)(ctx, &tin, 1, &tout, 1) != CNNC_OK) {
    fprintf(stderr, "classify: %s\n", FN(_last_error)(ctx));
    FN(_destroy)(ctx);
    return 1;
  }
  FN(_destroy)(ctx);

  if (argc > 2) {
    FILE *f = fopen(argv[2], "wb");
    if (!f || fwrite(y, sizeof(float), (size_t)out->num_elements, f) !=
                  (size_t)out->num_elements) {
      fprintf(stderr, "classify: cannot write %s\n", argv[2]);
      return 1;
    }
    fclose(f);
  }
  /* Top 5 by selection: fine for a handful of classes. */
  int64_t n = out->num_elements, k = n < 5 ? n : 5;
  char *taken = calloc((size_t)n, 1);
  printf("%s: top-%lld of output '%s'\n", api->name, (long long)k, out->name);
  for (int64_t r = 0; r < k; ++r) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; ++i)
      if (!taken[i] && (best < 0 || y[i] > y[best]))
        best = i;
    taken[best] = 1;
    printf("  %d. class %lld  score %.4f\n", (int)r + 1, (long long)best,
           y[best]);
  }
  free(taken);
  free(x);
  free(y);
  return 0;
}
