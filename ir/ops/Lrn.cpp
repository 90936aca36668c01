//===- ir/ops/Lrn.cpp - lrn: local response normalization -----------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferLrn(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  if (x.rank() < 3)
    return c.error("input must have rank 3 or more (N, C, spatial...), got " +
                   x.str());
  CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
  if (c.attrInt("size") < 1)
    return c.error("size must be positive, got " +
                   std::to_string(c.attrInt("size")));
  c.setOutput(0, x);
  return Status::success();
}

/// Per element: size squares and adds, then pow, multiply, add and divide.
static int64_t lrnFlops(const Node &n) {
  const TensorType &y = n.result(0)->type();
  return y.isStatic() ? y.numElements() * (2 * n.attrInt("size") + 4) : 0;
}

/// The square sum accumulates in y itself (an update over the size
/// channels), then a second update divides x by its power.
static Status lowerLrn(LowerCtx &c) {
  int64_t size = c.node().attrInt("size");
  double alpha = c.node().attrFloat("alpha"), beta = c.node().attrFloat("beta");
  double bias = c.node().attrFloat("bias");
  Halide::Type t = LowerCtx::halideType(c.inType(0).dtype());
  Halide::RDom r = rdomOver(c, {size}, "channels");
  Index out = outIndex(c), xi = out;
  xi[1] = out[1] - int((size - 1) / 2) + r.x;
  Halide::Expr v = c.inOr(0, xi, 0);
  c.define(0, Halide::Internal::make_zero(t));
  Halide::Expr sq = LowerCtx::call(c.outFunc(0), out);
  c.update(0, out, sq + v * v);
  Halide::Expr scale = constOf(t, bias) + constOf(t, alpha / double(size)) * sq;
  c.update(0, out, c.in(0, out) / Halide::pow(scale, constOf(t, beta)));
  return Status::success();
}

static Status gradLrn(GradCtx &c) {
  c.addGrad(0, c.emit("lrn_grad", {c.x(0), c.dy()}, c.node().attrs()));
  return Status::success();
}

/// ONNX LRN (AlexNet): across channels,
///   y = x / (bias + alpha / size * sum(x[c']^2))^beta
/// for c' in [c - floor((size-1)/2), c + ceil((size-1)/2)].
OpDef defineLrn() {
  return OpDef("lrn")
      .summary("Local response normalization across channels")
      .inputs({"x"})
      .outputs({"y"})
      .requiredAttr("size", AttrKind::Int, "number of channels summed over")
      .attr("alpha", AttrKind::Float, 1e-4, "scale of the sum")
      .attr("beta", AttrKind::Float, 0.75, "exponent")
      .attr("bias", AttrKind::Float, 1.0, "added to the scaled sum")
      .onnx("LRN", 1)
      .inferShape(inferLrn)
      .flops(lrnFlops)
      .pattern(FusionPattern::Reduction)
      .lower(lowerLrn)
      .grad(gradLrn);
}

} // namespace cnnc::ops
