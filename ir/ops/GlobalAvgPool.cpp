//===- ir/ops/GlobalAvgPool.cpp - global_avg_pool: mean over space --------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

OpDef defineGlobalAvgPool() {
  return OpDef("global_avg_pool")
      .summary("Mean over all spatial axes: [N, C, D1, ...] -> [N, C, 1, ...]")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("GlobalAveragePool", 1)
      .inferShape(globalPoolShape())
      .flops(flopsPerInput(1)) // one add per input element
      .pattern(FusionPattern::Reduction)
      .lower(globalPoolLower(/*average=*/true));
}

} // namespace cnnc::ops
