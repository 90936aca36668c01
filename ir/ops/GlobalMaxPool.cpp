//===- ir/ops/GlobalMaxPool.cpp - global_max_pool: max over space ---------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

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
      .lower(globalPoolLower(/*average=*/false));
}

} // namespace cnnc::ops
