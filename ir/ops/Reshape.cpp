//===- ir/ops/Reshape.cpp - reshape: same data, new shape -----------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX Reshape (allowzero = 0): 0 copies the input dimension at the same
/// index, one -1 is inferred from the element count.
static Status inferReshape(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  const std::vector<int64_t> &shape = c.attrInts("shape");
  std::vector<int64_t> out(shape.size());
  int64_t inferred = -1, known = 1;
  bool knownDynamic = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t d = shape[i];
    if (d == -1) {
      if (inferred >= 0)
        return c.error("shape " + intsStr(shape) + " has more than one -1");
      inferred = int64_t(i);
      continue;
    }
    if (d < -1)
      return c.error("shape " + intsStr(shape) + " has a negative entry " +
                     std::to_string(d));
    if (d == 0) {
      if (int64_t(i) >= x.rank())
        return c.error("shape " + intsStr(shape) + " copies dimension " +
                       std::to_string(i) + " (0) of the rank-" +
                       std::to_string(x.rank()) + " input");
      d = x.dim(int64_t(i));
    }
    out[i] = d;
    if (d < 0)
      knownDynamic = true;
    else
      known *= d;
  }
  int64_t total = productOf(x.dims(), 0, x.dims().size());
  if (inferred >= 0) {
    if (total < 0 || knownDynamic)
      out[size_t(inferred)] = kDynamic;
    else if (known == 0 || total % known != 0)
      return c.error("cannot reshape " + x.str() + " (" +
                     std::to_string(total) + " elements) to " + intsStr(shape));
    else
      out[size_t(inferred)] = total / known;
  } else if (total >= 0 && !knownDynamic && total != known) {
    return c.error("cannot reshape " + x.str() + " (" + std::to_string(total) +
                   " elements) to " + dimsStr(out) + " (" +
                   std::to_string(known) + " elements)");
  }
  c.setOutput(0, TensorType(x.dtype(), out));
  return Status::success();
}

/// ONNX Reshape-5+ gives the shape as an input, which must be constant
/// (import-time folding makes exporters' Shape -> Gather -> Concat chains
/// so). allowzero = 1 (opset 14: a 0 is an empty dimension, not a copy) is
/// accepted only for shapes without a 0.
static Status importReshape(OnnxImportCtx &c) {
  CNNC_ASSIGN_OR_RETURN(int64_t allowZero, c.takeInt("allowzero", 0));
  if (c.opset() < 5)
    return Status::success(); // Reshape-1: the shape attribute
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> shape, c.constantInts(1));
  for (int64_t d : shape)
    if (allowZero && d == 0)
      return Status::error("allowzero = 1 with a 0 in shape " +
                           intsStr(shape) + " is not supported");
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  c.attrs()["shape"] = Attribute(shape);
  c.setOperands({x});
  return Status::success();
}

static Status exportReshape(OnnxExportCtx &c) {
  exportIntsAsInput(c, "shape");
  return Status::success();
}

/// ONNX Reshape-5+ takes the shape as an input; the importer requires it to
/// be constant and makes it this attribute (as Reshape-1 had it).
OpDef defineReshape() {
  return OpDef("reshape")
      .summary("Gives x a new shape with the same elements in the same order")
      .inputs({"x"})
      .outputs({"y"})
      .requiredAttr("shape", AttrKind::Ints,
                    "target dims; 0 copies the input dim, one -1 is inferred")
      .onnx("Reshape", 1)
      .onnxImport(importReshape)
      .onnxExport(exportReshape)
      .inferShape(inferReshape)
      .fold(copyDataFold())
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(reshapeLower())
      .grad(reshapeGrad());
}

} // namespace cnnc::ops
