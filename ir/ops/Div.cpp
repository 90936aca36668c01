//===- ir/ops/Div.cpp - div: y = a / b with broadcasting ------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// Integer division truncates toward zero (C semantics, as ONNX Runtime);
/// an integer division by zero is refused rather than folded.
static Status foldDiv(FoldCtx &c) {
  if (!isFloat(c.input(1).dtype()))
    for (int64_t i = 0, n = c.input(1).numElements(); i < n; ++i)
      if (c.input(1).getInt(i) == 0)
        return Status::error("integer division by zero");
  return binaryFold([](double a, double b) { return a / b; })(c);
}

/// da = dy / b, db = -dy * a / b^2 = -(da * y).
static Status gradDiv(GradCtx &c) {
  if (!isFloat(c.y()->type().dtype()))
    return c.error("integer division has no gradient");
  Value *da = c.emit("div", {c.dy(), c.x(1)});
  c.addGrad(0, da);
  if (c.needs(1))
    c.addGrad(1, c.emit("neg", {c.emit("mul", {da, c.y()})}));
  return Status::success();
}

OpDef defineDiv() {
  return OpDef("div")
      .summary("Elementwise quotient with numpy broadcasting, y = a / b")
      .inputs({"a", "b"})
      .outputs({"y"})
      .onnx("Div", 6)
      .onnxImport(importLegacyBroadcast)
      .inferShape(broadcastShape())
      .fold(foldDiv)
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Broadcast)
      .inPlace(0)
      .inPlace(1)
      .lower(broadcastLower([](const std::vector<Halide::Expr> &v) {
        return truncDiv(v[0], v[1]);
      }))
      .grad(gradDiv);
}

} // namespace cnnc::ops
