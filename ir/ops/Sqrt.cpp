//===- ir/ops/Sqrt.cpp - sqrt: y = sqrt(x) --------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

/// dx = dy / (2 sqrt(x)) = dy * 0.5 / y.
static Status gradSqrt(GradCtx &c) {
  Value *half = c.scalar(0.5, c.y()->type().dtype());
  c.addGrad(0, c.emit("div", {c.emit("mul", {c.dy(), half}), c.y()}));
  return Status::success();
}

OpDef defineSqrt() {
  return OpDef("sqrt")
      .summary("Square root, y = sqrt(x)")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Sqrt", 6)
      .inferShape(unaryFloatShape())
      .fold(unaryFold([](double x) { return std::sqrt(x); }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(unaryLower([](Halide::Expr x) { return Halide::sqrt(x); }))
      .grad(gradSqrt);
}

} // namespace cnnc::ops
