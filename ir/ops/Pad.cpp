//===- ir/ops/Pad.cpp - pad: constant, reflect or edge padding ------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX Pad: pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...]; a
/// negative pad removes elements. reflect mirrors without repeating the
/// edge and needs pads smaller than the dimension (as ONNX Runtime); edge
/// repeats the border and needs a non-empty dimension.
static Status inferPad(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  const std::vector<int64_t> &pads = c.attrInts("pads");
  const std::string &mode = c.attrString("mode");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    return c.error("mode \"" + mode +
                   "\" is not one of \"constant\", \"reflect\", \"edge\"");
  size_t rank = size_t(x.rank());
  if (pads.size() != 2 * rank)
    return c.error("pads has " + std::to_string(pads.size()) +
                   " entries but the input " + x.str() + " needs " +
                   std::to_string(2 * rank) + " (begins, then ends)");
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t d = x.dim(int64_t(i)), b = pads[i], e = pads[i + rank];
    if (d < 0) {
      out[i] = kDynamic;
      continue;
    }
    out[i] = d + b + e;
    if (out[i] < 0)
      return c.error("pads " + intsStr(pads) + " remove more than the " +
                     std::to_string(d) + " elements of dimension " +
                     std::to_string(i));
    if (mode == "reflect" && (b >= d || e >= d) && (b > 0 || e > 0))
      return c.error("reflect pads " + intsStr(pads) +
                     " must be smaller than dimension " + std::to_string(i) +
                     " of size " + std::to_string(d));
    if (mode == "edge" && d == 0 && (b > 0 || e > 0))
      return c.error("edge padding of the empty dimension " +
                     std::to_string(i));
  }
  c.setOutput(0, TensorType(x.dtype(), out));
  return Status::success();
}

static Status foldPad(FoldCtx &c) {
  const Tensor &x = c.input(0);
  Tensor &y = c.makeOutput(0);
  const std::vector<int64_t> &pads = c.node().attrInts("pads");
  const std::string &mode = c.node().attrString("mode");
  double value = c.node().attrFloat("value");
  const std::vector<int64_t> &in = x.dims();
  std::vector<int64_t> xStrides = stridesOf(in);
  forEachIndex(y.dims(), [&](const std::vector<int64_t> &idx, int64_t flat) {
    int64_t src = 0;
    bool outside = false;
    for (size_t i = 0; i < idx.size(); ++i) {
      int64_t p = idx[i] - pads[i], d = in[i];
      if (p < 0 || p >= d) {
        outside = mode == "constant";
        if (outside)
          break;
        if (mode == "edge")
          p = p < 0 ? 0 : d - 1;
        else // reflect
          p = p < 0 ? -p : 2 * (d - 1) - p;
      }
      src += p * xStrides[i];
    }
    if (outside)
      y.setDouble(flat, value);
    else
      copyElement(y, flat, x, src);
  });
  return Status::success();
}

/// x at out - pads_begin; constant mode reads `value` outside x, edge
/// clamps the index, reflect mirrors it once (pads < dim, checked above).
static Status lowerPad(LowerCtx &c) {
  const TensorType &x = c.inType(0);
  const std::vector<int64_t> &pads = c.node().attrInts("pads");
  const std::string &mode = c.node().attrString("mode");
  size_t rank = size_t(x.rank());
  Index out = outIndex(c), xi;
  bool outside = false;
  for (size_t i = 0; i < rank; ++i) {
    int d = int(x.dim(int64_t(i)));
    int64_t b = pads[i], e = pads[i + rank];
    Halide::Expr p = b == 0 ? out[i] : out[i] - int(b);
    if (b <= 0 && e <= 0) { // at most a crop: p stays inside x
      xi.push_back(p);
    } else if (mode == "constant") {
      outside = true;
      xi.push_back(p);
    } else if (mode == "edge") {
      xi.push_back(Halide::clamp(p, 0, d - 1));
    } else { // reflect
      Halide::Expr q =
          Halide::select(p < 0, -p, Halide::select(p >= d, 2 * (d - 1) - p, p));
      xi.push_back(Halide::clamp(q, 0, d - 1));
    }
  }
  if (!outside) {
    c.define(0, c.in(0, xi));
    return Status::success();
  }
  double value = c.node().attrFloat("value");
  if (x.dtype() == DType::Bool) // as the fold: any non-zero value is true
    value = value != 0;
  c.define(0, c.inOr(0, xi, Halide::Expr(value)));
  return Status::success();
}

/// ONNX Pad-11+ gives pads and the constant value as inputs, which must be
/// constant; Pad-18 may pad only the axes of its `axes` input.
static Status importPad(OnnxImportCtx &c) {
  if (c.opset() < 11)
    return Status::success(); // Pad-2: pads, mode and value attributes
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> pads, c.constantInts(1));
  if (c.hasInput(2)) {
    CNNC_ASSIGN_OR_RETURN(double v, c.constantScalar(2));
    c.attrs()["value"] = Attribute(v);
  }
  if (c.hasInput(3)) {
    CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> axes, c.constantInts(3));
    int64_t rank = x->type().rank();
    if (pads.size() != 2 * axes.size())
      return Status::error("pads " + intsStr(pads) +
                           " must have 2 entries per axis of " +
                           intsStr(axes));
    std::vector<int64_t> full(size_t(2 * rank), 0);
    for (size_t k = 0; k < axes.size(); ++k) {
      CNNC_ASSIGN_OR_RETURN(int64_t a, normalizeAxis(axes[k], rank, "axes"));
      full[size_t(a)] = pads[k];
      full[size_t(a + rank)] = pads[k + axes.size()];
    }
    pads = full;
  }
  c.attrs()["pads"] = Attribute(pads);
  c.setOperands({x});
  return Status::success();
}

/// Pad-13: pads and constant_value are inputs.
static Status exportPad(OnnxExportCtx &c) {
  exportIntsAsInput(c, "pads");
  auto it = c.attrs().find("value");
  if (it != c.attrs().end()) {
    DType dt = c.node().operand(0)->type().dtype();
    c.addConstantInput("value", Tensor::fromDoubles(TensorType(dt, {}),
                                                    {it->second.getFloat()}));
    c.attrs().erase(it);
  }
  return Status::success();
}

/// Constant mode: dx is dy with the padding cut off and the cropped parts
/// put back as zeros, pad(dy, -pads). The other modes read elements more
/// than once (a scatter-add this IR has no op for).
static Status gradPad(GradCtx &c) {
  const std::string &mode = c.node().attrString("mode");
  if (mode != "constant")
    return c.error("mode \"" + mode + "\" is not supported, only \"constant\"");
  std::vector<int64_t> pads = c.node().attrInts("pads");
  for (int64_t &p : pads)
    p = -p;
  c.addGrad(0, c.emit("pad", {c.dy()}, {{"pads", Attribute(pads)}}));
  return Status::success();
}

/// ONNX Pad-2 has pads and value as attributes; from opset 11 they are
/// inputs, which the importer requires constant and turns into these.
OpDef definePad() {
  return OpDef("pad")
      .summary("Pads (or, with negative pads, crops) every axis of x")
      .inputs({"x"})
      .outputs({"y"})
      .requiredAttr("pads", AttrKind::Ints,
                    "[begin..., end...] per axis; negative crops")
      .attr("mode", AttrKind::String, "constant",
            "\"constant\", \"reflect\" or \"edge\"")
      .attr("value", AttrKind::Float, 0.0, "fill value for constant mode")
      .onnx("Pad", 2)
      .onnxImport(importPad)
      .onnxExport(exportPad)
      .inferShape(inferPad)
      .fold(foldPad)
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(lowerPad)
      .grad(gradPad);
}

} // namespace cnnc::ops
