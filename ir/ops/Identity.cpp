//===- ir/ops/Identity.cpp - identity: y = x ------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status gradIdentity(GradCtx &c) {
  c.addGrad(0, c.dy());
  return Status::success();
}

OpDef defineIdentity() {
  return OpDef("identity")
      .summary("Copies x, y = x")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Identity", 1)
      .inferShape(sameShapeAs(0))
      .fold(copyDataFold())
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(unaryLower([](Halide::Expr x) { return x; }))
      .grad(gradIdentity);
}

} // namespace cnnc::ops
