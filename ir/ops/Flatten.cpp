//===- ir/ops/Flatten.cpp - flatten: collapse to a matrix at an axis ------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX Flatten: [d0, ..., dn-1] -> [d0 * ... * d(axis-1), d(axis) * ...],
/// with axis in [-rank, rank] (axis = 0 gives [1, all]).
static Status inferFlatten(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  int64_t rank = x.rank(), axis = c.attrInt("axis");
  if (axis < -rank || axis > rank)
    return c.error("axis " + std::to_string(axis) +
                   " is out of range for rank " + std::to_string(rank));
  if (axis < 0)
    axis += rank;
  c.setOutput(0, TensorType(x.dtype(), {productOf(x.dims(), 0, size_t(axis)),
                                        productOf(x.dims(), size_t(axis),
                                                  x.dims().size())}));
  return Status::success();
}

OpDef defineFlatten() {
  return OpDef("flatten")
      .summary("Reshapes x to a matrix: axes before `axis` become the rows")
      .inputs({"x"})
      .outputs({"y"})
      .attr("axis", AttrKind::Int, int64_t(1), "first axis of the columns")
      .onnx("Flatten", 1)
      .inferShape(inferFlatten)
      .fold(copyDataFold())
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(reshapeLower())
      .grad(reshapeGrad());
}

} // namespace cnnc::ops
