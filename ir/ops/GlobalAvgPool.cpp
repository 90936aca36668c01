//===- ir/ops/GlobalAvgPool.cpp - global_avg_pool: mean over space --------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// dx = dy broadcast over the spatial axes, divided by their size.
static Status gradGlobalAvgPool(GradCtx &c) {
  const TensorType &x = c.x(0)->type();
  int64_t count = productOf(x.dims(), 2, x.dims().size());
  Value *g = c.emit("expand", {c.dy()}, {{"shape", Attribute(x.dims())}});
  c.addGrad(0, c.emit("mul", {g, c.scalar(1.0 / double(count), x.dtype())}));
  return Status::success();
}

OpDef defineGlobalAvgPool() {
  return OpDef("global_avg_pool")
      .summary("Mean over all spatial axes: [N, C, D1, ...] -> [N, C, 1, ...]")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("GlobalAveragePool", 1)
      .inferShape(globalPoolShape())
      .flops(flopsPerInput(1)) // one add per input element
      .pattern(FusionPattern::Reduction)
      .lower(globalPoolLower(/*average=*/true))
      .grad(gradGlobalAvgPool);
}

} // namespace cnnc::ops
