//===- ir/ops/Sigmoid.cpp - sigmoid: y = 1 / (1 + exp(-x)) ----------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

/// dx = dy * y * (1 - y).
static Status gradSigmoid(GradCtx &c) {
  Value *one = c.scalar(1.0, c.y()->type().dtype());
  Value *slope = c.emit("mul", {c.y(), c.emit("sub", {one, c.y()})});
  c.addGrad(0, c.emit("mul", {c.dy(), slope}));
  return Status::success();
}

OpDef defineSigmoid() {
  return OpDef("sigmoid")
      .summary("Logistic sigmoid, y = 1 / (1 + exp(-x))")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Sigmoid", 6)
      .inferShape(unaryFloatShape())
      .fold(unaryFold([](double x) { return 1.0 / (1.0 + std::exp(-x)); }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(unaryLower(
          [](Halide::Expr x) { return 1 / (1 + safeExp(-x)); }))
      .grad(gradSigmoid);
}

} // namespace cnnc::ops
