//===- ir/ops/HingeLoss.cpp - hinge_loss: multiclass SVM loss -------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// One RDom over (class, row): the mean over rows of the margin violations
/// of every class but the label (clamped into [0, C)).
static Status lowerHingeLoss(LowerCtx &c) {
  const TensorType &logits = c.inType(0);
  int64_t rows = logits.dim(0), classes = logits.dim(1);
  Halide::Type t = LowerCtx::halideType(logits.dtype());
  Halide::RDom r = rdomOver(c, {classes, rows}, "hinge");
  Halide::Expr j = r[0], i = r[1];
  Halide::Expr label = clampedLabel(c, i, classes);
  Halide::Expr margin = constOf(t, c.node().attrFloat("margin"));
  Halide::Expr zero = Halide::Internal::make_zero(t);
  Halide::Expr term = Halide::select(
      j != label,
      Halide::max(zero, c.in(0, {i, j}) - c.in(0, {i, label}) + margin), zero);
  c.define(0, zero);
  Halide::Expr loss = LowerCtx::call(c.outFunc(0), {});
  c.update(0, {}, loss + term);
  c.update(0, {}, loss / constOf(t, double(rows)));
  return Status::success();
}

static Status gradHingeLoss(GradCtx &c) {
  c.addGrad(0, c.emit("hinge_loss_grad", {c.x(0), c.x(1), c.dy()},
                      c.node().attrs()));
  return Status::success();
}

/// Multiclass SVM (Weston-Watkins) loss, averaged over the batch:
///   mean over i of sum over j != labels[i] of
///     max(0, logits[i][j] - logits[i][labels[i]] + margin).
/// No ONNX mapping.
OpDef defineHingeLoss() {
  return OpDef("hinge_loss")
      .summary("Mean multiclass SVM hinge loss of logits [N, C] against "
               "class labels [N]")
      .inputs({"logits", "labels"})
      .outputs({"loss"})
      .attr("margin", AttrKind::Float, 1.0, "required score gap")
      .inferShape(classLossShape())
      .flops(flopsPerInput(3)) // subtract and add margin, max, sum
      .pattern(FusionPattern::Opaque)
      .lower(lowerHingeLoss)
      .nonDifferentiable(1)
      .grad(gradHingeLoss);
}

} // namespace cnnc::ops
