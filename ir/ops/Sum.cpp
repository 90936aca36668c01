//===- ir/ops/Sum.cpp - sum: elementwise sum of any number of tensors -----===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status foldSum(FoldCtx &c) {
  Tensor &y = c.makeOutput(0);
  forEachIndex(y.dims(), [&](const std::vector<int64_t> &idx, int64_t flat) {
    double s = 0;
    for (size_t i = 0; i < c.numInputs(); ++i)
      s += c.input(i).getDouble(broadcastIndex(idx, c.input(i).dims()));
    y.setDouble(flat, s);
  });
  return Status::success();
}

/// n - 1 adds per output element.
static int64_t sumFlops(const Node &n) {
  const TensorType &y = n.result(0)->type();
  return y.isStatic() ? y.numElements() * int64_t(n.numOperands() - 1) : 0;
}

/// Every operand gets dy (summed back over broadcast axes by addGrad).
static Status gradSum(GradCtx &c) {
  for (size_t i = 0; i < c.node().numOperands(); ++i)
    c.addGrad(i, c.dy());
  return Status::success();
}

/// ONNX Sum-8+ broadcasts (Sum-6 requires equal shapes, a special case).
OpDef defineSum() {
  return OpDef("sum")
      .summary("Elementwise sum of one or more tensors with numpy "
               "broadcasting")
      .inputs({"xs..."})
      .outputs({"y"})
      .onnx("Sum", 6)
      .inferShape(broadcastShape())
      .fold(foldSum)
      .flops(sumFlops)
      .pattern(FusionPattern::Broadcast)
      .inPlace(0)
      .lower(broadcastLower([](const std::vector<Halide::Expr> &v) {
        Halide::Expr s = v[0];
        for (size_t i = 1; i < v.size(); ++i)
          s = s + v[i];
        return s;
      }))
      .grad(gradSum);
}

} // namespace cnnc::ops
