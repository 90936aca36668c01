//===- ir/ops/Add.cpp - add: y = a + b with broadcasting -------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// Both operands get dy (summed back over broadcast axes by addGrad).
static Status gradAdd(GradCtx &c) {
  c.addGrad(0, c.dy());
  c.addGrad(1, c.dy());
  return Status::success();
}

OpDef defineAdd() {
  return OpDef("add")
      .summary("Elementwise sum with numpy broadcasting, y = a + b")
      .inputs({"a", "b"})
      .outputs({"y"})
      .onnx("Add", 6)
      .onnxImport(importLegacyBroadcast)
      .inferShape(broadcastShape())
      .fold(binaryFold([](double a, double b) { return a + b; }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Broadcast)
      .inPlace(0)
      .inPlace(1)
      .lower(broadcastLower([](const std::vector<Halide::Expr> &v) {
        return v[0] + v[1];
      }))
      .grad(gradAdd);
}

} // namespace cnnc::ops
