//===- ir/ops/Gather.cpp - gather: take entries along an axis -------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX Gather (numpy.take): y.dims = data.dims[:axis] + indices.dims +
/// data.dims[axis+1:].
static Status inferGather(ShapeCtx &c) {
  const TensorType &data = c.input(0), &indices = c.input(1);
  if (data.rank() < 1)
    return c.error("data must have rank 1 or more, got " + data.str());
  if (indices.dtype() != DType::I64 && indices.dtype() != DType::I32)
    return c.error("indices must be i64 or i32, got " + indices.str());
  auto axis = normalizeAxis(c.attrInt("axis"), data.rank());
  if (!axis.ok())
    return c.error(axis.status().message());
  std::vector<int64_t> out(data.dims().begin(), data.dims().begin() + *axis);
  out.insert(out.end(), indices.dims().begin(), indices.dims().end());
  out.insert(out.end(), data.dims().begin() + *axis + 1, data.dims().end());
  c.setOutput(0, TensorType(data.dtype(), out));
  return Status::success();
}

/// Negative indices count from the end (ONNX Gather-11+); out-of-range
/// indices are an error.
static Status foldGather(FoldCtx &c) {
  const Tensor &data = c.input(0), &indices = c.input(1);
  Tensor &y = c.makeOutput(0);
  const std::vector<int64_t> &dims = data.dims();
  int64_t axis = *normalizeAxis(c.node().attrInt("axis"), int64_t(dims.size()));
  int64_t outer = productOf(dims, 0, size_t(axis)), n = dims[size_t(axis)];
  int64_t inner = productOf(dims, size_t(axis) + 1, dims.size());
  int64_t count = indices.numElements();
  for (int64_t j = 0; j < count; ++j) {
    int64_t k = indices.getInt(j);
    if (k < -n || k >= n)
      return Status::error("index " + std::to_string(k) +
                           " is out of range for a dimension of size " +
                           std::to_string(n));
    if (k < 0)
      k += n;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i)
        copyElement(y, (o * count + j) * inner + i, data,
                    (o * n + k) * inner + i);
  }
  return Status::success();
}

/// data[..., wrap(indices[j...]), ...]; the index is clamped into range
/// after wrapping, so a bad index reads a border entry, never outside.
static Status lowerGather(LowerCtx &c) {
  const TensorType &data = c.inType(0), &indices = c.inType(1);
  CNNC_ASSIGN_OR_RETURN(int64_t axis,
                        normalizeAxis(c.node().attrInt("axis"), data.rank()));
  int64_t n = data.dim(axis);
  Index out = outIndex(c);
  auto at = out.begin() + axis;
  Halide::Expr k = c.in(1, Index(at, at + indices.rank()));
  Halide::Type kt = k.type();
  k = Halide::select(k < 0, k + Halide::Internal::make_const(kt, n), k);
  int64_t last = std::max<int64_t>(n - 1, 0);
  k = Halide::clamp(k, Halide::Internal::make_zero(kt),
                    Halide::Internal::make_const(kt, last));
  Index di(out.begin(), at);
  di.push_back(Halide::cast<int>(k));
  di.insert(di.end(), at + indices.rank(), out.end());
  c.define(0, c.in(0, di));
  return Status::success();
}

OpDef defineGather() {
  return OpDef("gather")
      .summary("Takes the entries of data at indices along axis "
               "(numpy.take)")
      .inputs({"data", "indices"})
      .outputs({"y"})
      .attr("axis", AttrKind::Int, int64_t(0), "the indexed axis of data")
      .onnx("Gather", 1)
      .inferShape(inferGather)
      .fold(foldGather)
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(lowerGather)
      .nonDifferentiable(1);
}

} // namespace cnnc::ops
