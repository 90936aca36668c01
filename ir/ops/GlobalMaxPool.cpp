//===- ir/ops/GlobalMaxPool.cpp - global_max_pool: max over space ---------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// max_pool_grad with one window over all of space: dy goes to the first
/// maximum of each channel.
static Status gradGlobalMaxPool(GradCtx &c) {
  const std::vector<int64_t> &d = c.x(0)->type().dims();
  std::vector<int64_t> space(d.begin() + 2, d.end());
  c.addGrad(0, c.emit("max_pool_grad", {c.x(0), c.dy()},
                      {{"kernel_shape", Attribute(space)}}));
  return Status::success();
}

OpDef defineGlobalMaxPool() {
  return OpDef("global_max_pool")
      .summary("Maximum over all spatial axes: [N, C, D1, ...] -> "
               "[N, C, 1, ...]")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("GlobalMaxPool", 1)
      .inferShape(globalPoolShape())
      .flops(flopsPerInput(1)) // one compare per input element
      .pattern(FusionPattern::Reduction)
      .lower(globalPoolLower(/*average=*/false))
      .grad(gradGlobalMaxPool);
}

} // namespace cnnc::ops
