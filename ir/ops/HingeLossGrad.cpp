//===- ir/ops/HingeLossGrad.cpp - hinge_loss_grad: wrt the logits ---------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// With v[i, j] = (j != l_i and logits[i, j] - logits[i, l_i] + margin > 0)
/// (labels clamped into [0, C) as in hinge_loss):
///   dlogits[i, j] = dloss / N * (j == l_i ? -sum over j' of v[i, j'] : v[i, j]).
static Status lowerHingeLossGrad(LowerCtx &c) {
  const TensorType &logits = c.inType(0);
  int64_t rows = logits.dim(0), classes = logits.dim(1);
  Halide::Type t = LowerCtx::halideType(logits.dtype());
  const std::string &name = c.name();
  Halide::Expr zero = Halide::Internal::make_zero(t);
  Halide::Expr one = constOf(t, 1.0);
  Halide::Expr margin = constOf(t, c.node().attrFloat("margin"));
  auto labelOf = [&](Halide::Expr i) { return clampedLabel(c, i, classes); };
  auto violated = [&](Halide::Expr i, Halide::Expr j) {
    Halide::Expr l = labelOf(i);
    return Halide::select(
        j != l && c.in(0, {i, j}) - c.in(0, {i, l}) + margin > zero, one, zero);
  };
  Halide::Var n(name + "_n");
  Halide::RDom rc = rdomOver(c, {classes}, "class");
  Halide::Func count = c.func(name + "_count");
  count(n) = zero;
  count(n) = count(n) + violated(n, rc.x);
  count.compute_root();
  Index out = outIndex(c);
  Halide::Expr scale = c.in(2, {}) / constOf(t, double(rows));
  c.define(0, scale * Halide::select(out[1] == labelOf(out[0]), -count(out[0]),
                                     violated(out[0], out[1])));
  return Status::success();
}

OpDef defineHingeLossGrad() {
  return OpDef("hinge_loss_grad")
      .summary("Gradient of hinge_loss with respect to the logits, scaled by "
               "dloss")
      .inputs({"logits", "labels", "dloss"})
      .outputs({"dlogits"})
      .attr("margin", AttrKind::Float, 1.0, "the forward op's margin")
      .inferShape(classLossGradShape())
      .flops(flopsPerInput(4))
      .pattern(FusionPattern::Opaque)
      .lower(lowerHingeLossGrad);
}

} // namespace cnnc::ops
