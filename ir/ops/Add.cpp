//===- ir/ops/Add.cpp - add: y = a + b with broadcasting -------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

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
      .lower(broadcastLower([](const std::vector<Halide::Expr> &v) {
        return v[0] + v[1];
      }));
}

} // namespace cnnc::ops
