//===- ir/ops/Clip.cpp - clip: y = min(max(x, min), max) ------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <algorithm>
#include <limits>

namespace cnnc::ops {

static Status inferClip(ShapeCtx &c) {
  CNNC_RETURN_IF_ERROR(expectNumeric(c, 0));
  double lo = c.attrFloat("min"), hi = c.attrFloat("max");
  if (std::isnan(lo) || std::isnan(hi))
    return c.error("min and max must not be nan");
  c.setOutput(0, c.input(0));
  return Status::success();
}

/// When min > max every element becomes max (ONNX Clip-13, numpy.clip).
static Status foldClip(FoldCtx &c) {
  double lo = c.node().attrFloat("min"), hi = c.node().attrFloat("max");
  return unaryFold(
      [lo, hi](double x) { return std::min(std::max(x, lo), hi); })(c);
}

/// For integers min(max(x, trunc(min)), trunc(max)) equals the fold's
/// trunc(min(max(x, min), max)) (truncation is monotonic); a bound beyond
/// the dtype's range saturates to its end. A bound that cannot bind
/// (infinite, or past the dtype's end on its own side) is left out:
/// Halide 14 mis-simplifies min(max(x, INT64_MIN), 5) to x.
static Status lowerClip(LowerCtx &c) {
  Halide::Expr x = c.in(0, outIndex(c));
  Halide::Type t = x.type();
  double top = t.is_float() ? INFINITY : std::ldexp(1.0, t.bits() - 1);
  auto bound = [&](double v) -> Halide::Expr {
    if (t.is_float())
      return constOf(t, v);
    if (v <= -top)
      return t.min();
    if (v >= top)
      return t.max();
    return constOf(t, std::trunc(v));
  };
  double lo = c.node().attrFloat("min"), hi = c.node().attrFloat("max");
  Halide::Expr y = x;
  if (lo > -top)
    y = Halide::max(y, bound(lo));
  if (hi < top)
    y = Halide::min(y, bound(hi));
  // NaN stays NaN (numpy.clip, the fold); Halide's float max/min drop it.
  if (t.is_float() && (lo > -top || hi < top))
    y = Halide::select(Halide::is_nan(x), x, y);
  c.define(0, y);
  return Status::success();
}

/// ONNX Clip-11+ gives min and max as optional inputs, which must be
/// constant.
static Status importClip(OnnxImportCtx &c) {
  if (c.opset() < 11)
    return Status::success(); // Clip-6: min and max attributes
  for (size_t i : {1, 2}) {
    if (!c.hasInput(i))
      continue;
    CNNC_ASSIGN_OR_RETURN(double v, c.constantScalar(i));
    c.attrs()[i == 1 ? "min" : "max"] = Attribute(v);
  }
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  c.setOperands({x});
  return Status::success();
}

/// Clip-13: min and max are scalar inputs of x's type; min may be left out.
static Status exportClip(OnnxExportCtx &c) {
  DType dt = c.node().operand(0)->type().dtype();
  bool hasMin = c.attrs().count("min"), hasMax = c.attrs().count("max");
  auto scalar = [&](const char *name) {
    return Tensor::fromDoubles(TensorType(dt, {}), {c.node().attrFloat(name)});
  };
  if (hasMin)
    c.addConstantInput("min", scalar("min"));
  else if (hasMax)
    c.addEmptyInput();
  if (hasMax)
    c.addConstantInput("max", scalar("max"));
  c.attrs().erase("min");
  c.attrs().erase("max");
  return Status::success();
}

/// ONNX Clip-6 has min and max as attributes; from opset 11 they are
/// optional inputs, which the importer turns back into these attributes.
/// dx = dy where min < x < max, else 0: relu_grad masks dy by x - min > 0
/// and by max - x > 0 (an infinite bound masks nothing).
static Status gradClip(GradCtx &c) {
  double lo = c.node().attrFloat("min"), hi = c.node().attrFloat("max");
  DType t = c.x(0)->type().dtype();
  Value *g = c.dy();
  if (std::isfinite(lo))
    g = c.emit("relu_grad", {g, c.emit("sub", {c.x(0), c.scalar(lo, t)})});
  if (std::isfinite(hi))
    g = c.emit("relu_grad", {g, c.emit("sub", {c.scalar(hi, t), c.x(0)})});
  c.addGrad(0, g == c.dy() ? c.emit("identity", {g}) : g);
  return Status::success();
}

OpDef defineClip() {
  constexpr double inf = std::numeric_limits<double>::infinity();
  return OpDef("clip")
      .summary("Clamps every element to [min, max]")
      .inputs({"x"})
      .outputs({"y"})
      .attr("min", AttrKind::Float, -inf, "lower bound")
      .attr("max", AttrKind::Float, inf, "upper bound")
      .onnx("Clip", 6)
      .onnxImport(importClip)
      .onnxExport(exportClip)
      .inferShape(inferClip)
      .fold(foldClip)
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower([](LowerCtx &c) { return lowerClip(c); })
      .grad(gradClip);
}

} // namespace cnnc::ops
