//===- ir/ops/NllLoss.cpp - nll_loss and its gradient ----------------------===//
//
//   nll_loss(logp [N, C], labels [N])             = -mean over n of logp[n, labels[n]]
//   nll_loss_grad(logp, labels, dloss) [N, C]     = -(c == labels[n]) * dloss / N
//
// ONNX NegativeLogLikelihoodLoss with the default mean reduction, no class
// weights and no ignore_index (each is a clear import error). Labels are
// clamped into [0, C) so that a bad label cannot read outside.
//
//===----------------------------------------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status lowerNllLoss(LowerCtx &c) {
  const TensorType &logp = c.inType(0);
  int64_t rows = logp.dim(0), classes = logp.dim(1);
  Halide::Type t = LowerCtx::halideType(logp.dtype());
  Halide::RDom rn = rdomOver(c, {rows}, "batch");
  c.define(0, Halide::Internal::make_zero(t));
  Halide::Expr loss = LowerCtx::call(c.outFunc(0), {});
  c.update(0, {}, loss - c.in(0, {rn.x, clampedLabel(c, rn.x, classes)}));
  c.update(0, {}, loss / constOf(t, double(rows)));
  return Status::success();
}

static Status lowerNllLossGrad(LowerCtx &c) {
  const TensorType &logp = c.inType(0);
  int64_t rows = logp.dim(0), classes = logp.dim(1);
  Halide::Type t = LowerCtx::halideType(logp.dtype());
  Index out = outIndex(c);
  Halide::Expr hit = clampedLabel(c, out[0], classes) == out[1];
  c.define(0, Halide::select(hit, -c.in(2, {}) / constOf(t, double(rows)),
                             constOf(t, 0.0)));
  return Status::success();
}

/// The ONNX losses: only the form cnnc computes (mean, no weights, no
/// ignore_index; SoftmaxCrossEntropyLoss without its log_prob output).
Status importOnnxLoss(OnnxImportCtx &c) {
  CNNC_ASSIGN_OR_RETURN(std::string reduction, c.takeString("reduction", "mean"));
  if (reduction != "mean")
    return Status::error("reduction '" + reduction +
                         "' is not supported (only mean)");
  if (c.takeAttr("ignore_index"))
    return Status::error("ignore_index is not supported");
  if (c.hasInput(2))
    return Status::error("class weights (input 3) are not supported");
  if (c.numOutputs() > 1 && c.outputUsed(1))
    return Status::error("the log_prob output is not supported");
  CNNC_ASSIGN_OR_RETURN(Value * scores, c.input(0));
  CNNC_ASSIGN_OR_RETURN(Value * labels, c.input(1));
  if (scores->type().rank() != 2)
    return Status::error("only [N, C] scores are supported, got " +
                         scores->type().str());
  c.setOperands({scores, labels});
  return Status::success();
}

OpDef defineNllLoss() {
  return OpDef("nll_loss")
      .summary("Mean negative log-likelihood of log-probabilities [N, C] at "
               "class labels [N]")
      .inputs({"logp", "labels"})
      .outputs({"loss"})
      .onnx("NegativeLogLikelihoodLoss", 12)
      .onnxImport(importOnnxLoss)
      .inferShape(classLossShape())
      .flops([](const Node &n) {
        const TensorType &t = n.operand(1)->type();
        return t.isStatic() ? t.numElements() : 0;
      })
      .pattern(FusionPattern::Opaque)
      .lower(lowerNllLoss)
      .nonDifferentiable(1)
      .grad([](GradCtx &c) {
        c.addGrad(0, c.emit("nll_loss_grad", {c.x(0), c.x(1), c.dy()}));
        return Status::success();
      });
}

OpDef defineNllLossGrad() {
  return OpDef("nll_loss_grad")
      .summary("Gradient of nll_loss wrt the log-probabilities: "
               "-onehot(labels) * dloss / N")
      .inputs({"logp", "labels", "dloss"})
      .outputs({"dlogp"})
      .inferShape(classLossGradShape())
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Opaque)
      .lower(lowerNllLossGrad);
}

} // namespace cnnc::ops
