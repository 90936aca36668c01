//===- ir/ops/Tanh.cpp - tanh: y = tanh(x) --------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

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
      .lower(unaryLower([](Halide::Expr x) { return Halide::tanh(x); }));
}

} // namespace cnnc::ops
