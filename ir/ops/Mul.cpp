//===- ir/ops/Mul.cpp - mul: y = a * b with broadcasting ------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// da = dy * b, db = dy * a.
static Status gradMul(GradCtx &c) {
  if (c.needs(0))
    c.addGrad(0, c.emit("mul", {c.dy(), c.x(1)}));
  if (c.needs(1))
    c.addGrad(1, c.emit("mul", {c.dy(), c.x(0)}));
  return Status::success();
}

OpDef defineMul() {
  return OpDef("mul")
      .summary("Elementwise product with numpy broadcasting, y = a * b")
      .inputs({"a", "b"})
      .outputs({"y"})
      .onnx("Mul", 6)
      .onnxImport(importLegacyBroadcast)
      .inferShape(broadcastShape())
      .fold(binaryFold([](double a, double b) { return a * b; }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Broadcast)
      .inPlace(0)
      .inPlace(1)
      .lower(broadcastLower([](const std::vector<Halide::Expr> &v) {
        return v[0] * v[1];
      }))
      .grad(gradMul);
}

} // namespace cnnc::ops
