//===- ir/ops/SoftmaxCrossEntropyGrad.cpp - its gradient wrt the logits ---===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// dlogits[n, j] = (softmax(logits[n])[j] - (j == label[n])) * dloss / N,
/// with the row max and sum of exponentials at root (labels clamped into
/// [0, C) as in the forward op).
static Status lowerSoftmaxCrossEntropyGrad(LowerCtx &c) {
  const TensorType &logits = c.inType(0);
  int64_t rows = logits.dim(0), classes = logits.dim(1);
  Halide::Type t = LowerCtx::halideType(logits.dtype());
  RowSoftmax s = rowSoftmax(c);
  Index out = outIndex(c);
  Halide::Expr p = safeExp(c.in(0, out) - s.max(out[0])) / s.sumExp(out[0]);
  Halide::Expr onehot = Halide::select(clampedLabel(c, out[0], classes) == out[1],
                                       constOf(t, 1.0), constOf(t, 0.0));
  c.define(0, (p - onehot) * (c.in(2, {}) / constOf(t, double(rows))));
  return Status::success();
}

OpDef defineSoftmaxCrossEntropyGrad() {
  return OpDef("softmax_cross_entropy_grad")
      .summary("Gradient of softmax_cross_entropy wrt the logits: "
               "(softmax(logits) - onehot(labels)) * dloss / N")
      .inputs({"logits", "labels", "dloss"})
      .outputs({"dlogits"})
      .inferShape(classLossGradShape())
      .flops(flopsPerInput(5))
      .pattern(FusionPattern::Opaque)
      .lower(lowerSoftmaxCrossEntropyGrad);
}

} // namespace cnnc::ops
