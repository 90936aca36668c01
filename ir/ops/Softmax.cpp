//===- ir/ops/Softmax.cpp - softmax: exp(x) / sum(exp(x)) along an axis ---===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX Softmax-13: normalizes along the single axis `axis`. (Before opset
/// 13 the input was coerced to 2-D at `axis`; for axis = rank - 1, the
/// common case, both agree.)
OpDef defineSoftmax() {
  return OpDef("softmax")
      .summary("Softmax along one axis, y = exp(x) / sum(exp(x), axis)")
      .inputs({"x"})
      .outputs({"y"})
      .attr("axis", AttrKind::Int, int64_t(-1), "the normalized axis")
      .onnx("Softmax", 1)
      .onnxImport(importSoftmax("softmax"))
      .inferShape(softmaxShape())
      .fold(softmaxFold(/*log=*/false))
      .flops(flopsPerOutput(3)) // exp, add to the sum, divide
      .pattern(FusionPattern::Reduction)
      .lower(softmaxLower(/*log=*/false))
      .grad(softmaxGrad(/*log=*/false));
}

} // namespace cnnc::ops
