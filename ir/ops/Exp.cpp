//===- ir/ops/Exp.cpp - exp: y = e^x --------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

/// dx = dy * exp(x) = dy * y.
static Status gradExp(GradCtx &c) {
  c.addGrad(0, c.emit("mul", {c.dy(), c.y()}));
  return Status::success();
}

OpDef defineExp() {
  return OpDef("exp")
      .summary("Natural exponential, y = e^x")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Exp", 6)
      .inferShape(unaryFloatShape())
      .fold(unaryFold([](double x) { return std::exp(x); }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(unaryLower([](Halide::Expr x) { return safeExp(x); }))
      .grad(gradExp);
}

} // namespace cnnc::ops
