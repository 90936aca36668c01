//===- ir/ops/Sigmoid.cpp - sigmoid: y = 1 / (1 + exp(-x)) ----------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

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
      .lower(unaryLower(
          [](Halide::Expr x) { return 1 / (1 + safeExp(-x)); }));
}

} // namespace cnnc::ops
