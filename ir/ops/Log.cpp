//===- ir/ops/Log.cpp - log: y = ln(x) ------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

OpDef defineLog() {
  return OpDef("log")
      .summary("Natural logarithm, y = ln(x)")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Log", 6)
      .inferShape(unaryFloatShape())
      .fold(unaryFold([](double x) { return std::log(x); }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .lower(unaryLower([](Halide::Expr x) { return safeLog(x); }));
}

} // namespace cnnc::ops
