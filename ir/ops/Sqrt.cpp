//===- ir/ops/Sqrt.cpp - sqrt: y = sqrt(x) --------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

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
      .lower(unaryLower([](Halide::Expr x) { return Halide::sqrt(x); }));
}

} // namespace cnnc::ops
