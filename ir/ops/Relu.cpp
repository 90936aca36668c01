//===- ir/ops/Relu.cpp - relu: y = max(x, 0) -------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <algorithm>

namespace cnnc::ops {

/// dx = dy where x > 0 (equivalently y > 0), else 0.
static Status gradRelu(GradCtx &c) {
  c.addGrad(0, c.emit("relu_grad", {c.dy(), c.y()}));
  return Status::success();
}

OpDef defineRelu() {
  return OpDef("relu")
      .summary("Rectified linear unit, y = max(x, 0)")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Relu", 6)
      .inferShape(sameShapeAs(0))
      .fold(unaryFold([](double x) { return std::max(x, 0.0); }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(unaryLower([](Halide::Expr x) {
        return Halide::max(x, Halide::Internal::make_zero(x.type()));
      }))
      .grad(gradRelu);
}

} // namespace cnnc::ops
