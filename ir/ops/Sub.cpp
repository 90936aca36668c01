//===- ir/ops/Sub.cpp - sub: y = a - b with broadcasting ------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status gradSub(GradCtx &c) {
  c.addGrad(0, c.dy());
  if (c.needs(1))
    c.addGrad(1, c.emit("neg", {c.dy()}));
  return Status::success();
}

OpDef defineSub() {
  return OpDef("sub")
      .summary("Elementwise difference with numpy broadcasting, y = a - b")
      .inputs({"a", "b"})
      .outputs({"y"})
      .onnx("Sub", 6)
      .onnxImport(importLegacyBroadcast)
      .inferShape(broadcastShape())
      .fold(binaryFold([](double a, double b) { return a - b; }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Broadcast)
      .inPlace(0)
      .inPlace(1)
      .lower(broadcastLower([](const std::vector<Halide::Expr> &v) {
        return v[0] - v[1];
      }))
      .grad(gradSub);
}

} // namespace cnnc::ops
