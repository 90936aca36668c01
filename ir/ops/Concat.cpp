//===- ir/ops/Concat.cpp - concat: join tensors along an axis -------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX Concat: same dtype and rank, equal dims except along axis, whose
/// sizes add up.
static Status inferConcat(ShapeCtx &c) {
  const TensorType &first = c.input(0);
  if (first.rank() == 0)
    return c.error("cannot concatenate scalars");
  auto axis = normalizeAxis(c.attrInt("axis"), first.rank());
  if (!axis.ok())
    return c.error(axis.status().message());
  std::vector<int64_t> out = first.dims();
  for (size_t i = 1; i < c.numInputs(); ++i) {
    const TensorType &t = c.input(i);
    if (t.dtype() != first.dtype() || t.rank() != first.rank())
      return c.error(operandName(c, i) + " type " + t.str() +
                     " differs in dtype or rank from " + operandName(c, 0) +
                     " type " + first.str());
    for (int64_t d = 0; d < t.rank(); ++d) {
      int64_t a = out[size_t(d)], b = t.dim(d);
      if (d == *axis)
        out[size_t(d)] = a < 0 || b < 0 ? kDynamic : a + b;
      else if (a >= 0 && b >= 0 && a != b)
        return c.error(operandName(c, i) + " " + t.str() + " has " +
                       std::to_string(b) + " in dimension " +
                       std::to_string(d) + " but the inputs before it have " +
                       std::to_string(a) + " (concatenating along axis " +
                       std::to_string(*axis) + ")");
      else if (a < 0)
        out[size_t(d)] = b;
    }
  }
  c.setOutput(0, TensorType(first.dtype(), out));
  return Status::success();
}

static Status foldConcat(FoldCtx &c) {
  Tensor &y = c.makeOutput(0);
  const std::vector<int64_t> &dims = y.dims();
  int64_t axis = *normalizeAxis(c.node().attrInt("axis"), int64_t(dims.size()));
  int64_t outer = productOf(dims, 0, size_t(axis));
  int64_t inner = productOf(dims, size_t(axis) + 1, dims.size());
  int64_t offset = 0; // along axis, of the current input
  for (size_t i = 0; i < c.numInputs(); ++i) {
    const Tensor &x = c.input(i);
    int64_t n = x.dims()[size_t(axis)];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < n * inner; ++k)
        copyElement(y, (o * dims[size_t(axis)] + offset) * inner + k, x,
                    o * n * inner + k);
    offset += n;
  }
  return Status::success();
}

/// A select chain over the inputs' offsets along the axis; each input's
/// index is clamped into its own extent, since select evaluates every arm.
static Status lowerConcat(LowerCtx &c) {
  int64_t rank = c.outType(0).rank();
  CNNC_ASSIGN_OR_RETURN(int64_t axis,
                        normalizeAxis(c.node().attrInt("axis"), rank));
  Index out = outIndex(c);
  Halide::Expr pos = out[size_t(axis)];
  Halide::Expr y;
  int64_t end = c.outType(0).dim(axis);
  for (size_t i = c.numInputs(); i-- > 0;) {
    int64_t n = c.inType(i).dim(axis), start = end - n;
    end = start;
    if (n == 0)
      continue;
    Index xi = out;
    xi[size_t(axis)] = c.numInputs() == 1
                           ? pos
                           : Halide::clamp(pos - int(start), 0, int(n - 1));
    Halide::Expr v = c.in(i, xi);
    y = y.defined() ? Halide::select(pos < int(start + n), v, y) : v;
  }
  if (!y.defined()) // every input is empty along the axis: so is y
    y = Halide::Internal::make_zero(LowerCtx::halideType(c.outType(0).dtype()));
  c.define(0, y);
  return Status::success();
}

/// Each input's gradient is its slice of dy along the axis.
static Status gradConcat(GradCtx &c) {
  int64_t rank = c.y()->type().rank();
  CNNC_ASSIGN_OR_RETURN(int64_t axis,
                        normalizeAxis(c.node().attrInt("axis"), rank));
  int64_t offset = 0;
  for (size_t i = 0; i < c.node().numOperands(); ++i) {
    int64_t n = c.x(i)->type().dim(axis);
    if (c.needs(i))
      c.addGrad(i, c.emit("slice", {c.dy()},
                          {{"starts", Attribute(std::vector<int64_t>{offset})},
                           {"ends", Attribute(std::vector<int64_t>{offset + n})},
                           {"axes", Attribute(std::vector<int64_t>{axis})}}));
    offset += n;
  }
  return Status::success();
}

OpDef defineConcat() {
  return OpDef("concat")
      .summary("Concatenates tensors along one axis")
      .inputs({"xs..."})
      .outputs({"y"})
      .requiredAttr("axis", AttrKind::Int, "the joined axis")
      .onnx("Concat", 4)
      .inferShape(inferConcat)
      .fold(foldConcat)
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(lowerConcat)
      .grad(gradConcat);
}

} // namespace cnnc::ops
