//===- ir/ops/LogSoftmax.cpp - log_softmax: x - log(sum(exp(x))) ----------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX LogSoftmax-13: along the single axis `axis` (see softmax).
OpDef defineLogSoftmax() {
  return OpDef("log_softmax")
      .summary("Log of softmax along one axis, y = x - log(sum(exp(x), axis))")
      .inputs({"x"})
      .outputs({"y"})
      .attr("axis", AttrKind::Int, int64_t(-1), "the normalized axis")
      .onnx("LogSoftmax", 1)
      .onnxImport(importSoftmax("log_softmax"))
      .inferShape(softmaxShape())
      .fold(softmaxFold(/*log=*/true))
      .flops(flopsPerOutput(3)) // exp, add to the sum, subtract
      .pattern(FusionPattern::Reduction)
      .lower(softmaxLower(/*log=*/true))
      .grad(softmaxGrad(/*log=*/true));
}

} // namespace cnnc::ops
