//===- ir/ops/Log.cpp - log: y = ln(x) ------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

/// dx = dy / x.
static Status gradLog(GradCtx &c) {
  c.addGrad(0, c.emit("div", {c.dy(), c.x(0)}));
  return Status::success();
}

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
      .inPlace(0)
      .lower(unaryLower([](Halide::Expr x) { return safeLog(x); }))
      .grad(gradLog);
}

} // namespace cnnc::ops
