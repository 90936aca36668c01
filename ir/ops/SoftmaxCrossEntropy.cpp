//===- ir/ops/SoftmaxCrossEntropy.cpp - softmax_cross_entropy: mean loss --===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// Per row the max and the sum of exp(x - max), at root; then
/// loss = mean over n of max + log(sumexp) - logits[n, label[n]], labels
/// clamped into [0, C) so that a bad label cannot read outside.
static Status lowerSoftmaxCrossEntropy(LowerCtx &c) {
  const TensorType &logits = c.inType(0);
  int64_t rows = logits.dim(0), classes = logits.dim(1);
  Halide::Type t = LowerCtx::halideType(logits.dtype());
  RowSoftmax s = rowSoftmax(c);
  Halide::RDom rn = rdomOver(c, {rows}, "batch");
  Halide::Expr label = clampedLabel(c, rn.x, classes);
  Halide::Expr nll =
      s.max(rn.x) + safeLog(s.sumExp(rn.x)) - c.in(0, {rn.x, label});
  c.define(0, Halide::Internal::make_zero(t));
  Halide::Expr loss = LowerCtx::call(c.outFunc(0), {});
  c.update(0, {}, loss + nll);
  c.update(0, {}, loss / constOf(t, double(rows)));
  return Status::success();
}

static Status gradSoftmaxCrossEntropy(GradCtx &c) {
  c.addGrad(0, c.emit("softmax_cross_entropy_grad",
                      {c.x(0), c.x(1), c.dy()}));
  return Status::success();
}

/// mean over i of -log(softmax(logits[i])[labels[i]]); ONNX
/// SoftmaxCrossEntropyLoss-12 imports in this form only (mean reduction, no
/// weights, no ignore_index, no log_prob output: importOnnxLoss).
OpDef defineSoftmaxCrossEntropy() {
  return OpDef("softmax_cross_entropy")
      .summary("Mean softmax cross-entropy of logits [N, C] against class "
               "labels [N]")
      .inputs({"logits", "labels"})
      .outputs({"loss"})
      .onnx("SoftmaxCrossEntropyLoss", 12)
      .onnxImport(importOnnxLoss)
      .inferShape(classLossShape())
      .flops(flopsPerInput(4)) // max, exp, sum, and the log-probability
      .pattern(FusionPattern::Opaque)
      .lower(lowerSoftmaxCrossEntropy)
      .nonDifferentiable(1)
      .grad(gradSoftmaxCrossEntropy);
}

} // namespace cnnc::ops
