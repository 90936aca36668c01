//===- ir/ops/Tanh.cpp - tanh: y = tanh(x) --------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

/// dx = dy * (1 - y^2).
static Status gradTanh(GradCtx &c) {
  Value *one = c.scalar(1.0, c.y()->type().dtype());
  Value *slope = c.emit("sub", {one, c.emit("mul", {c.y(), c.y()})});
  c.addGrad(0, c.emit("mul", {c.dy(), slope}));
  return Status::success();
}

OpDef defineTanh() {
  return OpDef("tanh")
      .summary("Hyperbolic tangent, y = tanh(x)")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Tanh", 6)
      .inferShape(unaryFloatShape())
      .fold(unaryFold([](double x) { return std::tanh(x); }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(unaryLower([](Halide::Expr x) { return Halide::tanh(x); }))
      .grad(gradTanh);
}

} // namespace cnnc::ops
