//===- ir/ops/Squeeze.cpp - squeeze: remove size-1 axes -------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX Squeeze: removes the listed axes, which must have size 1, or with
/// no axes every size-1 axis. Without axes an unknown dimension is an
/// error, since whether it goes decides the result rank.
static Status inferSqueeze(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  const std::vector<int64_t> &axes = c.attrInts("axes");
  if (x.rank() == 0 && !axes.empty())
    return c.error("cannot squeeze axes " + intsStr(axes) + " of a scalar");
  std::vector<bool> removed(size_t(x.rank()), false);
  for (int64_t a : axes) {
    auto n = normalizeAxis(a, x.rank());
    if (!n.ok())
      return c.error("axes " + intsStr(axes) + ": " + n.status().message());
    if (removed[size_t(*n)])
      return c.error("axes " + intsStr(axes) + " name axis " +
                     std::to_string(*n) + " twice");
    int64_t d = x.dim(*n);
    if (d >= 0 && d != 1)
      return c.error("cannot squeeze axis " + std::to_string(*n) + " of " +
                     x.str() + ": its size is " + std::to_string(d) +
                     ", not 1");
    removed[size_t(*n)] = true;
  }
  if (axes.empty())
    for (int64_t i = 0; i < x.rank(); ++i) {
      if (x.dim(i) < 0)
        return c.error("cannot tell whether to squeeze axis " +
                       std::to_string(i) + " of " + x.str() + " without axes");
      removed[size_t(i)] = x.dim(i) == 1;
    }
  std::vector<int64_t> out;
  for (int64_t i = 0; i < x.rank(); ++i)
    if (!removed[size_t(i)])
      out.push_back(x.dim(i));
  c.setOutput(0, TensorType(x.dtype(), out));
  return Status::success();
}

/// ONNX Squeeze-13 gives axes as an optional input, which must be constant.
static Status importSqueeze(OnnxImportCtx &c) {
  if (c.opset() < 13)
    return Status::success(); // the axes attribute
  if (c.hasInput(1)) {
    CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> axes, c.constantInts(1));
    c.attrs()["axes"] = Attribute(axes);
  }
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  c.setOperands({x});
  return Status::success();
}

static Status exportSqueeze(OnnxExportCtx &c) {
  if (c.node().attrInts("axes").empty())
    c.attrs().erase("axes");
  else
    exportIntsAsInput(c, "axes");
  return Status::success();
}

/// ONNX Squeeze-13 takes axes as an input; the importer requires it to be
/// constant and makes it this attribute (as opsets 1-12 had it).
OpDef defineSqueeze() {
  return OpDef("squeeze")
      .summary("Removes size-1 axes (the listed ones, or all of them)")
      .inputs({"x"})
      .outputs({"y"})
      .attr("axes", AttrKind::Ints, std::vector<int64_t>{},
            "axes to remove; empty = every size-1 axis")
      .onnx("Squeeze", 1)
      .onnxImport(importSqueeze)
      .onnxExport(exportSqueeze)
      .inferShape(inferSqueeze)
      .fold(copyDataFold())
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(reshapeLower())
      .grad(reshapeGrad());
}

} // namespace cnnc::ops
