//===- ir/ops/AvgPool.cpp - avg_pool: sliding-window mean -----------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// AveragePool-13 has no dilations (they came with opset 19).
static Status exportAvgPool(OnnxExportCtx &c) {
  auto it = c.attrs().find("dilations");
  if (it == c.attrs().end())
    return Status::success();
  for (int64_t d : it->second.getInts())
    if (d != 1)
      return Status::error("avg_pool with dilations " +
                           intsStr(it->second.getInts()) +
                           " has no opset-13 ONNX form");
  c.attrs().erase(it);
  return Status::success();
}

static Status gradAvgPool(GradCtx &c) {
  AttrMap attrs = c.node().attrs();
  attrs["x_shape"] = Attribute(c.x(0)->type().dims());
  c.addGrad(0, c.emit("avg_pool_grad", {c.dy()}, attrs));
  return Status::success();
}

/// ONNX AveragePool. With count_include_pad = 0 (the ONNX default) a window
/// is divided by the number of input elements it covers, else by the number
/// of its taps inside the padded input: its size, except for a ceil_mode
/// window that runs past the end padding (as ONNX Runtime).
OpDef defineAvgPool() {
  OpDef def("avg_pool");
  return poolWindowAttrs(def)
      .summary("Average pooling over the spatial axes of x: [N, C, D1, ...]")
      .inputs({"x"})
      .outputs({"y"})
      .attr("count_include_pad", AttrKind::Int, int64_t(0),
            "1: padding counts in the divisor")
      .onnx("AveragePool", 1)
      .onnxImport(importPool)
      .onnxExport(exportAvgPool)
      .inferShape(poolShape())
      .flops(poolFlops())
      .pattern(FusionPattern::Reduction)
      .lower([](LowerCtx &c) { return lowerPool(c, /*average=*/true); })
      .grad(gradAvgPool);
}

} // namespace cnnc::ops
