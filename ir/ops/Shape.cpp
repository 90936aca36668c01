//===- ir/ops/Shape.cpp - shape: the dims of x as an i64 vector -----------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferShapeOp(ShapeCtx &c) {
  c.setOutput(0, TensorType(DType::I64, {c.input(0).rank()}));
  return Status::success();
}

/// Needs only the static type of x, not its data: the fold works whenever
/// shape inference has made x static, even if x is not constant.
static Status foldShape(FoldCtx &c) {
  const TensorType &x = c.node().operand(0)->type();
  if (!x.isStatic())
    return Status::error("cannot fold the shape of " + x.str());
  c.setOutput(0,
              Tensor::fromInts(TensorType(DType::I64, {x.rank()}), x.dims()));
  return Status::success();
}

/// A constant: y[i] = dims[i] as a select chain over i.
static Status lowerShape(LowerCtx &c) {
  const std::vector<int64_t> &dims = c.inType(0).dims();
  Halide::Expr y = Halide::Expr(int64_t(0));
  if (!dims.empty()) {
    Halide::Expr i = c.outVars(0)[0];
    y = Halide::Expr(dims.back());
    for (size_t j = dims.size() - 1; j-- > 0;)
      y = Halide::select(i == int(j), Halide::Expr(dims[j]), y);
  }
  c.define(0, y);
  return Status::success();
}

/// ONNX Shape-15 start and end select dims [start, end) (negative from the
/// back, clamped): a gather of the full shape.
static Status importShape(OnnxImportCtx &c) {
  CNNC_ASSIGN_OR_RETURN(int64_t start, c.takeInt("start", 0));
  std::optional<Attribute> endAttr = c.takeAttr("end");
  if (start == 0 && !endAttr)
    return Status::success();
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  int64_t rank = x->type().rank();
  if (endAttr && endAttr->kind() != AttrKind::Int)
    return Status::error("attribute 'end' must be an int");
  int64_t end = endAttr ? endAttr->getInt() : rank;
  auto clamp = [rank](int64_t i) {
    i = i < 0 ? i + rank : i;
    return std::min(std::max<int64_t>(i, 0), rank);
  };
  std::vector<int64_t> dims;
  for (int64_t i = clamp(start); i < clamp(end); ++i)
    dims.push_back(i);
  Tensor indices = Tensor::fromInts(
      TensorType(DType::I64, {int64_t(dims.size())}), dims);
  CNNC_ASSIGN_OR_RETURN(Value * full, c.addNode("shape", {x}));
  CNNC_ASSIGN_OR_RETURN(
      Value * ids, c.addNode("constant", {}, {{"value", Attribute(indices)}}));
  CNNC_ASSIGN_OR_RETURN(
      Value * y,
      c.addNode("gather", {full, ids}, {{"axis", Attribute(int64_t(0))}}));
  c.setOutput(0, y);
  return Status::success();
}

/// ONNX Shape (without the start/end of Shape-15).
OpDef defineShape() {
  return OpDef("shape")
      .summary("The dimensions of x as an i64 vector of length rank(x)")
      .inputs({"x"})
      .outputs({"y"})
      .onnx("Shape", 1)
      .onnxImport(importShape)
      .inferShape(inferShapeOp)
      .fold(foldShape)
      .foldsFromTypes()
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Opaque)
      .lower(lowerShape)
      .nonDifferentiable(0); // depends on the type only
}

} // namespace cnnc::ops
