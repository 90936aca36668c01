//===- ir/ops/MaxPool.cpp - max_pool: sliding-window maximum --------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX MaxPool: storage_order must be 0 and the Indices output unused.
static Status importMaxPool(OnnxImportCtx &c) {
  CNNC_ASSIGN_OR_RETURN(int64_t order, c.takeInt("storage_order", 0));
  if (order != 0)
    return Status::error("unsupported storage_order " + std::to_string(order) +
                         " (only 0, row major)");
  if (c.outputUsed(1))
    return Status::error("the Indices output is not supported");
  return importPool(c);
}

static Status gradMaxPool(GradCtx &c) {
  c.addGrad(0, c.emit("max_pool_grad", {c.x(0), c.dy()}, c.node().attrs()));
  return Status::success();
}

/// ONNX MaxPool without the optional Indices result; padding never wins
/// (it behaves as -inf). auto_pad is resolved to pads by the importer.
OpDef defineMaxPool() {
  OpDef def("max_pool");
  return poolWindowAttrs(def)
      .summary("Max pooling over the spatial axes of x: [N, C, D1, ...]")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("MaxPool", 1)
      .onnxImport(importMaxPool)
      .inferShape(poolShape())
      .flops(poolFlops())
      .pattern(FusionPattern::Reduction)
      .lower([](LowerCtx &c) { return lowerPool(c, /*average=*/false); })
      .grad(gradMaxPool);
}

} // namespace cnnc::ops
