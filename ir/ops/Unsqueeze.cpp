//===- ir/ops/Unsqueeze.cpp - unsqueeze: insert size-1 axes ---------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX Unsqueeze: axes index the output (rank r + len(axes)), may be
/// negative (opset 11+), and must not repeat.
static Status inferUnsqueeze(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  const std::vector<int64_t> &axes = c.attrInts("axes");
  if (axes.empty())
    return c.error("axes must not be empty");
  int64_t rank = x.rank() + int64_t(axes.size());
  std::vector<bool> inserted(size_t(rank), false);
  for (int64_t a : axes) {
    auto n = normalizeAxis(a, rank);
    if (!n.ok())
      return c.error("axes " + intsStr(axes) + ": " + n.status().message());
    if (inserted[size_t(*n)])
      return c.error("axes " + intsStr(axes) + " name axis " +
                     std::to_string(*n) + " twice");
    inserted[size_t(*n)] = true;
  }
  std::vector<int64_t> out;
  for (int64_t i = 0, j = 0; i < rank; ++i)
    out.push_back(inserted[size_t(i)] ? 1 : x.dim(j++));
  c.setOutput(0, TensorType(x.dtype(), out));
  return Status::success();
}

/// ONNX Unsqueeze-13 gives axes as an input, which must be constant.
static Status importUnsqueeze(OnnxImportCtx &c) {
  if (c.opset() < 13)
    return Status::success(); // the axes attribute
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> axes, c.constantInts(1));
  c.attrs()["axes"] = Attribute(axes);
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  c.setOperands({x});
  return Status::success();
}

static Status exportUnsqueeze(OnnxExportCtx &c) {
  exportIntsAsInput(c, "axes");
  return Status::success();
}

/// ONNX Unsqueeze-13 takes axes as an input; the importer requires it to
/// be constant and makes it this attribute (as opsets 1-12 had it).
OpDef defineUnsqueeze() {
  return OpDef("unsqueeze")
      .summary("Inserts size-1 axes at the given output positions")
      .inputs({"x"})
      .outputs({"y"})
      .requiredAttr("axes", AttrKind::Ints, "positions in the output")
      .onnx("Unsqueeze", 1)
      .onnxImport(importUnsqueeze)
      .onnxExport(exportUnsqueeze)
      .inferShape(inferUnsqueeze)
      .fold(copyDataFold())
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(reshapeLower())
      .grad(reshapeGrad());
}

} // namespace cnnc::ops
