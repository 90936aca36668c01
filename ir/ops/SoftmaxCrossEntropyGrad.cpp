//===- ir/ops/SoftmaxCrossEntropyGrad.cpp - its gradient wrt the logits ---===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferSoftmaxCrossEntropyGrad(ShapeCtx &c) {
  CNNC_RETURN_IF_ERROR(classLossShape()(c));
  const TensorType &dloss = c.input(2);
  if (dloss.rank() != 0 || dloss.dtype() != c.input(0).dtype())
    return c.error("dloss must be a scalar of the logits' type, got " +
                   dloss.str());
  c.setOutput(0, c.input(0));
  return Status::success();
}

/// dlogits[n, j] = (softmax(logits[n])[j] - (j == label[n])) * dloss / N,
/// with the row max and sum of exponentials at root (labels clamped into
/// [0, C) as in the forward op).
static Status lowerSoftmaxCrossEntropyGrad(LowerCtx &c) {
  const TensorType &logits = c.inType(0);
  int64_t rows = logits.dim(0), classes = logits.dim(1);
  Halide::Type t = LowerCtx::halideType(logits.dtype());
  const std::string &name = c.node().result()->name();
  Halide::Var n(name + "_n");
  Halide::RDom rc = rdomOver(c, {classes}, "class");
  Halide::Func mx = c.func(name + "_max"), se = c.func(name + "_sumexp");
  mx(n) = t.min();
  mx(n) = Halide::max(mx(n), c.in(0, {n, rc.x}));
  se(n) = Halide::Internal::make_zero(t);
  se(n) = se(n) + safeExp(c.in(0, {n, rc.x}) - mx(n));
  mx.compute_root();
  se.compute_root();
  Index out = outIndex(c);
  Halide::Expr label = c.in(1, {out[0]});
  Halide::Type lt = label.type();
  label = Halide::cast<int>(
      Halide::clamp(label, Halide::Internal::make_zero(lt),
                    Halide::Internal::make_const(lt, classes - 1)));
  Halide::Expr p = safeExp(c.in(0, out) - mx(out[0])) / se(out[0]);
  Halide::Expr onehot = Halide::select(label == out[1], constOf(t, 1.0),
                                       constOf(t, 0.0));
  c.define(0, (p - onehot) * (c.in(2, {}) / constOf(t, double(rows))));
  return Status::success();
}

OpDef defineSoftmaxCrossEntropyGrad() {
  return OpDef("softmax_cross_entropy_grad")
      .summary("Gradient of softmax_cross_entropy wrt the logits: "
               "(softmax(logits) - onehot(labels)) * dloss / N")
      .inputs({"logits", "labels", "dloss"})
      .outputs({"dlogits"})
      .inferShape(inferSoftmaxCrossEntropyGrad)
      .flops(flopsPerInput(5))
      .pattern(FusionPattern::Opaque)
      .lower(lowerSoftmaxCrossEntropyGrad);
}

} // namespace cnnc::ops
