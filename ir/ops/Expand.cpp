//===- ir/ops/Expand.cpp - expand: broadcast x to a shape ------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// y's shape is the numpy broadcast of x's shape with `shape` (ONNX Expand:
/// a 1 in `shape` keeps x's dim).
static Status inferExpand(ShapeCtx &c) {
  auto dims = broadcastShapes(c.input(0).dims(), c.attrInts("shape"));
  if (!dims.ok())
    return c.error("cannot broadcast " + c.input(0).str() + " to shape " +
                   intsStr(c.attrInts("shape")) + ": " +
                   dims.status().message());
  c.setOutput(0, TensorType(c.input(0).dtype(), *dims));
  return Status::success();
}

static Status foldExpand(FoldCtx &c) {
  const Tensor &x = c.input(0);
  Tensor &y = c.makeOutput(0);
  forEachIndex(y.dims(), [&](const std::vector<int64_t> &idx, int64_t flat) {
    copyElement(y, flat, x, broadcastIndex(idx, x.dims()));
  });
  return Status::success();
}

/// The gradient of a broadcast is the sum over the broadcast axes, which
/// addGrad does for every operand whose shape differs from its gradient's.
static Status gradExpand(GradCtx &c) {
  c.addGrad(0, c.dy());
  return Status::success();
}

/// ONNX Expand-8 takes the shape as an input; the importer requires it to
/// be constant and makes it this attribute.
static Status importExpand(OnnxImportCtx &c) {
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> shape, c.constantInts(1));
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  c.attrs()["shape"] = Attribute(shape);
  c.setOperands({x});
  return Status::success();
}

static Status exportExpand(OnnxExportCtx &c) {
  exportIntsAsInput(c, "shape");
  return Status::success();
}

OpDef defineExpand() {
  return OpDef("expand")
      .summary("Broadcasts x to `shape` (numpy rules), y = x[broadcast index]")
      .inputs({"x"})
      .outputs({"y"})
      .requiredAttr("shape", AttrKind::Ints, "the shape to broadcast to")
      .onnx("Expand", 8)
      .onnxImport(importExpand)
      .onnxExport(exportExpand)
      .inferShape(inferExpand)
      .fold(foldExpand)
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Broadcast)
      .lower([](LowerCtx &c) {
        c.define(0, c.in(0, broadcastIndexOf(c, 0, outIndex(c))));
        return Status::success();
      })
      .grad(gradExpand);
}

} // namespace cnnc::ops
