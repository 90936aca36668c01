//===- ir/ops/Slice.cpp - slice: a strided box of a tensor ----------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <limits>

namespace cnnc::ops {

namespace {
/// One sliced axis after ONNX's clamping: y[i] = x[start + i * step] for
/// i < count along axis.
struct SliceAxis {
  int64_t axis, start, step, count;
};
} // namespace

/// ONNX Slice: negative starts and ends count from the end; they are then
/// clamped to [0, dim] (step > 0) or [-1, dim - 1] (step < 0); the count is
/// ceil((end - start) / step), at least 0. Axes default to 0, 1, ...; steps
/// to 1.
static Expected<std::vector<SliceAxis>> sliceAxes(const Node &n,
                                                  const TensorType &x) {
  const std::vector<int64_t> &starts = n.attrInts("starts"),
                             &ends = n.attrInts("ends");
  std::vector<int64_t> axes = n.attrInts("axes"), steps = n.attrInts("steps");
  if (starts.size() != ends.size())
    return Status::error("starts " + intsStr(starts) + " and ends " +
                         intsStr(ends) + " differ in length");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(int64_t(i));
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    return Status::error("starts " + intsStr(starts) + ", axes " +
                         intsStr(axes) + " and steps " + intsStr(steps) +
                         " differ in length");
  std::vector<SliceAxis> out;
  std::vector<bool> seen(size_t(x.rank()), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    CNNC_ASSIGN_OR_RETURN(int64_t a, normalizeAxis(axes[i], x.rank(), "axes"));
    if (seen[size_t(a)])
      return Status::error("axes " + intsStr(axes) + " name axis " +
                           std::to_string(a) + " twice");
    seen[size_t(a)] = true;
    int64_t step = steps[i], d = x.dim(a);
    if (step == 0)
      return Status::error("steps " + intsStr(steps) + " contain 0");
    if (d < 0) {
      out.push_back({a, 0, step, kDynamic});
      continue;
    }
    int64_t s = starts[i], e = ends[i];
    if (s < 0)
      s = s < -d ? -1 : s + d; // below the start either way once clamped
    if (e < 0)
      e = e < -d ? -1 : e + d;
    if (step > 0) {
      s = std::min(std::max<int64_t>(s, 0), d);
      e = std::min(std::max<int64_t>(e, 0), d);
    } else {
      s = std::min(std::max<int64_t>(s, -1), d - 1);
      e = std::min(std::max<int64_t>(e, -1), d - 1);
    }
    int64_t span = e - s;
    int64_t count = step > 0 ? (span + step - 1) / step
                             : (-span + (-step) - 1) / (-step);
    out.push_back({a, s, step, std::max<int64_t>(count, 0)});
  }
  return out;
}

static Status inferSlice(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  auto axes = sliceAxes(c.node(), x);
  if (!axes.ok())
    return c.error(axes.status().message());
  std::vector<int64_t> dims = x.dims();
  for (const SliceAxis &s : *axes)
    dims[size_t(s.axis)] = s.count;
  c.setOutput(0, TensorType(x.dtype(), dims));
  return Status::success();
}

static Status foldSlice(FoldCtx &c) {
  const Tensor &x = c.input(0);
  Tensor &y = c.makeOutput(0);
  CNNC_ASSIGN_OR_RETURN(std::vector<SliceAxis> axes,
                        sliceAxes(c.node(), x.type()));
  std::vector<int64_t> start(x.dims().size(), 0), step(x.dims().size(), 1);
  for (const SliceAxis &s : axes) {
    start[size_t(s.axis)] = s.start;
    step[size_t(s.axis)] = s.step;
  }
  std::vector<int64_t> strides = stridesOf(x.dims());
  forEachIndex(y.dims(), [&](const std::vector<int64_t> &idx, int64_t flat) {
    int64_t src = 0;
    for (size_t i = 0; i < idx.size(); ++i)
      src += (start[i] + idx[i] * step[i]) * strides[i];
    copyElement(y, flat, x, src);
  });
  return Status::success();
}

static Status lowerSlice(LowerCtx &c) {
  CNNC_ASSIGN_OR_RETURN(std::vector<SliceAxis> axes,
                        sliceAxes(c.node(), c.inType(0)));
  Index out = outIndex(c), xi = out;
  for (const SliceAxis &s : axes)
    xi[size_t(s.axis)] = out[size_t(s.axis)] * int(s.step) + int(s.start);
  c.define(0, c.in(0, xi));
  return Status::success();
}

/// With unit steps dx is dy padded with zeros back to x's shape. Other
/// steps would need a strided scatter.
static Status gradSlice(GradCtx &c) {
  const TensorType &x = c.x(0)->type();
  CNNC_ASSIGN_OR_RETURN(std::vector<SliceAxis> axes, sliceAxes(c.node(), x));
  size_t rank = size_t(x.rank());
  std::vector<int64_t> pads(2 * rank, 0);
  for (const SliceAxis &s : axes) {
    if (s.step != 1)
      return c.error("steps " + intsStr(c.node().attrInts("steps")) +
                     " are not supported, only 1");
    pads[size_t(s.axis)] = s.start;
    pads[rank + size_t(s.axis)] = x.dim(s.axis) - s.start - s.count;
  }
  c.addGrad(0, c.emit("pad", {c.dy()}, {{"pads", Attribute(pads)}}));
  return Status::success();
}

/// ONNX Slice-10+ gives starts, ends, axes and steps as inputs, which must
/// be constant; Slice-1 has starts, ends and axes attributes.
static Status importSlice(OnnxImportCtx &c) {
  if (c.opset() < 10)
    return Status::success();
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  const char *names[] = {"starts", "ends", "axes", "steps"};
  for (size_t i = 1; i <= 4; ++i) {
    if (!c.hasInput(i))
      continue;
    CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> v, c.constantInts(i));
    c.attrs()[names[i - 1]] = Attribute(v);
  }
  c.setOperands({x});
  return Status::success();
}

/// Slice-13: starts, ends, axes and steps are inputs (axes written when
/// steps are, as inputs are positional).
static Status exportSlice(OnnxExportCtx &c) {
  bool steps = !c.node().attrInts("steps").empty();
  bool axes = steps || !c.node().attrInts("axes").empty();
  if (axes && c.node().attrInts("axes").empty()) {
    std::vector<int64_t> all;
    for (size_t i = 0; i < c.node().attrInts("starts").size(); ++i)
      all.push_back(int64_t(i));
    c.attrs()["axes"] = Attribute(all);
  }
  exportIntsAsInput(c, "starts");
  exportIntsAsInput(c, "ends");
  if (axes)
    exportIntsAsInput(c, "axes");
  else
    c.attrs().erase("axes");
  if (steps)
    exportIntsAsInput(c, "steps");
  else
    c.attrs().erase("steps");
  return Status::success();
}

OpDef defineSlice() {
  return OpDef("slice")
      .summary("A strided slice of x along some axes (ONNX Slice)")
      .inputs({"x"})
      .outputs({"y"})
      .requiredAttr("starts", AttrKind::Ints,
                    "first index per sliced axis; negative counts from the end")
      .requiredAttr("ends", AttrKind::Ints,
                    "end index (exclusive) per sliced axis; clamped")
      .attr("axes", AttrKind::Ints, std::vector<int64_t>{},
            "the sliced axes; empty = 0, 1, ...")
      .attr("steps", AttrKind::Ints, std::vector<int64_t>{},
            "per sliced axis, non-zero; empty = all 1")
      .onnx("Slice", 1)
      .onnxImport(importSlice)
      .onnxExport(exportSlice)
      .inferShape(inferSlice)
      .fold(foldSlice)
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(lowerSlice)
      .grad(gradSlice);
}

} // namespace cnnc::ops
