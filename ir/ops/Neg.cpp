//===- ir/ops/Neg.cpp - neg: y = -x ---------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferNeg(ShapeCtx &c) {
  CNNC_RETURN_IF_ERROR(expectNumeric(c, 0));
  c.setOutput(0, c.input(0));
  return Status::success();
}

static Status gradNeg(GradCtx &c) {
  c.addGrad(0, c.emit("neg", {c.dy()}));
  return Status::success();
}

OpDef defineNeg() {
  return OpDef("neg")
      .summary("Negation, y = -x")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Neg", 6)
      .inferShape(inferNeg)
      .fold(unaryFold([](double x) { return -x; }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(unaryLower([](Halide::Expr x) { return -x; }))
      .grad(gradNeg);
}

} // namespace cnnc::ops
