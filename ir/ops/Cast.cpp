//===- ir/ops/Cast.cpp - cast: convert the element type -------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferCast(ShapeCtx &c) {
  const std::string &to = c.attrString("to");
  std::optional<DType> t = parseDType(to);
  if (!t)
    return c.error("to \"" + to +
                   "\" is not a dtype (f32, f64, i64, i32, bool)");
  c.setOutput(0, TensorType(*t, c.input(0).dims()));
  return Status::success();
}

/// Floats to integers truncate toward zero, anything to bool is x != 0
/// (ONNX Cast); integers convert exactly through int64.
static Status foldCast(FoldCtx &c) {
  const Tensor &x = c.input(0);
  Tensor &y = c.makeOutput(0);
  bool exactInt = !isFloat(x.dtype());
  for (int64_t i = 0, n = x.numElements(); i < n; ++i) {
    if (exactInt)
      y.setInt(i, x.getInt(i));
    else
      y.setDouble(i, x.getDouble(i));
  }
  return Status::success();
}

/// define() converts: floats to integers truncate toward zero (C, ONNX),
/// like the fold. bool is u8 0 or 1, hence x != 0.
static Status lowerCast(LowerCtx &c) {
  Halide::Expr x = c.in(0, outIndex(c));
  if (c.outType(0).dtype() == DType::Bool)
    x = Halide::select(x != Halide::Internal::make_zero(x.type()),
                       Halide::Internal::make_one(Halide::UInt(8)),
                       Halide::Internal::make_zero(Halide::UInt(8)));
  c.define(0, x);
  return Status::success();
}

/// ONNX Cast names the target type by its TensorProto.DataType number.
static Status importCast(OnnxImportCtx &c) {
  if (!c.hasAttr("to"))
    return Status::success(); // reported as missing
  CNNC_ASSIGN_OR_RETURN(int64_t to, c.takeInt("to", 0));
  auto t = c.dtypeFromOnnx(to);
  if (!t.ok())
    return Status::error(t.status().message() + " in attribute 'to'");
  c.attrs()["to"] = Attribute(std::string(dtypeName(*t)));
  return Status::success();
}

static Status exportCast(OnnxExportCtx &c) {
  std::optional<DType> t = parseDType(c.node().attrString("to"));
  if (!t)
    return Status::error("cast to unknown dtype '" +
                         c.node().attrString("to") + "'");
  c.attrs()["to"] = Attribute(c.dtypeToOnnx(*t));
  return Status::success();
}

/// Between float types the gradient is cast back; integer casts have none.
static Status gradCast(GradCtx &c) {
  DType from = c.x(0)->type().dtype(), to = c.y()->type().dtype();
  if (!isFloat(from) || !isFloat(to))
    return c.error("a cast from " + c.x(0)->type().str() + " to " +
                   c.y()->type().str() + " has no gradient");
  c.addGrad(0, c.emit("cast", {c.dy()},
                      {{"to", Attribute(std::string(dtypeName(from)))}}));
  return Status::success();
}

/// ONNX Cast-6+ names the target with a TensorProto data type number; the
/// importer turns it into the dtype name of this attribute.
OpDef defineCast() {
  return OpDef("cast")
      .summary("Converts every element to the dtype `to`")
      .inputs({"x"})
      .outputs({"y"})
      .requiredAttr("to", AttrKind::String,
                    "target dtype: f32, f64, i64, i32 or bool")
      .onnx("Cast", 6)
      .onnxImport(importCast)
      .onnxExport(exportCast)
      .inferShape(inferCast)
      .fold(foldCast)
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(lowerCast)
      .grad(gradCast);
}

} // namespace cnnc::ops
