//===- ir/ops/OpHelpers.cpp - shape rules and folds shared by op files -----===//
#include "ir/ops/OpHelpers.h"

#include <algorithm>
#include <cstring>

namespace cnnc::ops {

ShapeFn sameShapeAs(size_t input) {
  return [input](ShapeCtx &c) {
    c.setOutput(0, c.input(input));
    return Status::success();
  };
}

std::string dimsStr(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + (dims[i] < 0 ? std::string("?")
                                        : std::to_string(dims[i]));
  return s + "]";
}

std::string intsStr(const std::vector<int64_t> &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

Expected<std::vector<int64_t>> broadcastShapes(const std::vector<int64_t> &a,
                                               const std::vector<int64_t> &b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1)
      out[i] = db;
    else if (db == 1 || da == db)
      out[i] = da;
    else if (da < 0 || db < 0)
      out[i] = std::max(da, db) < 0 ? kDynamic : std::max(da, db);
    else
      return Status::error("shapes " + dimsStr(a) + " and " + dimsStr(b) +
                           " do not broadcast (dimension " +
                           std::to_string(i) + ": " + std::to_string(da) +
                           " vs " + std::to_string(db) + ")");
  }
  return out;
}

ShapeFn broadcastShape() {
  return [](ShapeCtx &c) {
    std::vector<int64_t> dims = c.input(0).dims();
    for (size_t i = 1; i < c.numInputs(); ++i) {
      if (c.input(i).dtype() != c.input(0).dtype())
        return c.error(std::string("operand types differ: ") +
                       c.input(0).str() + " and " + c.input(i).str());
      auto r = broadcastShapes(dims, c.input(i).dims());
      if (!r.ok())
        return c.error(r.status().message());
      dims = *r;
    }
    c.setOutput(0, TensorType(c.input(0).dtype(), dims));
    return Status::success();
  };
}

Expected<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                const std::string &what) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
    return Status::error(what + " " + std::to_string(axis) +
                         " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

FoldFn unaryFold(std::function<double(double)> f) {
  return [f](FoldCtx &c) {
    Tensor &y = c.makeOutput(0);
    const Tensor &x = c.input(0);
    for (int64_t i = 0, n = y.numElements(); i < n; ++i)
      y.setDouble(i, f(x.getDouble(i)));
    return Status::success();
  };
}

std::vector<int64_t> stridesOf(const std::vector<int64_t> &dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int64_t i = int64_t(dims.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * dims[i + 1];
  return s;
}

int64_t broadcastIndex(const std::vector<int64_t> &outIdx,
                       const std::vector<int64_t> &inDims) {
  size_t off = outIdx.size() - inDims.size();
  int64_t flat = 0;
  for (size_t i = 0; i < inDims.size(); ++i)
    flat = flat * inDims[i] + (inDims[i] == 1 ? 0 : outIdx[i + off]);
  return flat;
}

FoldFn binaryFold(std::function<double(double, double)> f) {
  return [f](FoldCtx &c) {
    Tensor &y = c.makeOutput(0);
    const Tensor &a = c.input(0), &b = c.input(1);
    const std::vector<int64_t> &dims = y.dims();
    std::vector<int64_t> idx(dims.size(), 0);
    for (int64_t i = 0, n = y.numElements(); i < n; ++i) {
      y.setDouble(i, f(a.getDouble(broadcastIndex(idx, a.dims())),
                       b.getDouble(broadcastIndex(idx, b.dims()))));
      for (int64_t d = int64_t(dims.size()) - 1; d >= 0; --d) {
        if (++idx[d] < dims[d])
          break;
        idx[d] = 0;
      }
    }
    return Status::success();
  };
}

FlopsFn flopsPerOutput(int64_t perElement) {
  return [perElement](const Node &n) -> int64_t {
    const TensorType &t = n.result(0)->type();
    return t.isStatic() ? perElement * t.numElements() : 0;
  };
}

std::string operandName(const ShapeCtx &c, size_t i) {
  const std::vector<OperandSpec> &specs = c.node().def().operandSpecs();
  if (specs.empty())
    return "operand " + std::to_string(i);
  if (i < specs.size() && !specs[i].variadic)
    return specs[i].name;
  const OperandSpec &last = specs.back();
  return last.name + "[" + std::to_string(i - (specs.size() - 1)) + "]";
}

Status expectFloat(const ShapeCtx &c, size_t i) {
  if (isFloat(c.input(i).dtype()))
    return Status::success();
  return c.error(operandName(c, i) + " must be a float tensor, got " +
                 c.input(i).str());
}

Status expectNumeric(const ShapeCtx &c, size_t i) {
  if (c.input(i).dtype() != DType::Bool)
    return Status::success();
  return c.error(operandName(c, i) + " must be a numeric tensor, got " +
                 c.input(i).str());
}

ShapeFn unaryFloatShape() {
  return [](ShapeCtx &c) {
    CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
    c.setOutput(0, c.input(0));
    return Status::success();
  };
}

FoldFn copyDataFold() {
  return [](FoldCtx &c) {
    Tensor &y = c.makeOutput(0);
    const Tensor &x = c.input(0);
    if (y.numBytes() != x.numBytes())
      return Status::error("cannot fold: result has " +
                           std::to_string(y.numBytes()) + " bytes, input " +
                           std::to_string(x.numBytes()));
    if (x.numBytes())
      std::memcpy(y.rawData(), x.rawData(), x.numBytes());
    return Status::success();
  };
}

int64_t productOf(const std::vector<int64_t> &dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) {
    if (dims[i] < 0)
      return kDynamic;
    p *= dims[i];
  }
  return p;
}

void forEachIndex(const std::vector<int64_t> &dims,
                  const std::function<void(const std::vector<int64_t> &,
                                           int64_t)> &fn) {
  int64_t n = productOf(dims, 0, dims.size());
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    fn(idx, flat);
    for (int64_t d = int64_t(dims.size()) - 1; d >= 0; --d) {
      if (++idx[d] < dims[d])
        break;
      idx[d] = 0;
    }
  }
}

/// Attribute \p name, or \p spatial copies of \p fill when it is empty and
/// \p fill > 0; error unless it has one positive entry per spatial axis.
static Expected<std::vector<int64_t>>
perAxis(const ShapeCtx &c, const std::string &name, size_t spatial,
        int64_t fill) {
  std::vector<int64_t> v = c.attrInts(name);
  if (v.empty() && fill > 0)
    v.assign(spatial, fill);
  if (v.size() != spatial)
    return c.error(name + " has " + std::to_string(v.size()) +
                   " entries but the input has " + std::to_string(spatial) +
                   " spatial dimensions");
  for (int64_t x : v)
    if (x < 1)
      return c.error(name + " must be positive, got " + intsStr(v));
  return v;
}

Expected<WindowGeometry> windowGeometry(const ShapeCtx &c, size_t spatial) {
  WindowGeometry g;
  CNNC_ASSIGN_OR_RETURN(g.kernel, perAxis(c, "kernel_shape", spatial, 0));
  CNNC_ASSIGN_OR_RETURN(g.strides, perAxis(c, "strides", spatial, 1));
  CNNC_ASSIGN_OR_RETURN(g.dilations, perAxis(c, "dilations", spatial, 1));
  // ONNX: pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...].
  std::vector<int64_t> pads = c.attrInts("pads");
  if (pads.empty())
    pads.assign(2 * spatial, 0);
  if (pads.size() != 2 * spatial)
    return c.error("pads has " + std::to_string(pads.size()) +
                   " entries but the input has " + std::to_string(spatial) +
                   " spatial dimensions (need " + std::to_string(2 * spatial) +
                   ")");
  for (size_t i = 0; i < spatial; ++i) {
    int64_t b = pads[i], e = pads[i + spatial];
    if (b < 0 || e < 0)
      return c.error("pads must not be negative, got " + intsStr(pads));
    // As ONNX Runtime: a window lying wholly in the padding has no input.
    if (b >= g.kernel[i] || e >= g.kernel[i])
      return c.error("pads " + intsStr(pads) + " must be smaller than " +
                     "kernel_shape " + intsStr(g.kernel));
    g.padBegin.push_back(b);
    g.padEnd.push_back(e);
  }
  return g;
}

Expected<int64_t> pooledSize(int64_t in, const WindowGeometry &g, size_t axis,
                             bool ceilMode) {
  int64_t extent = g.dilations[axis] * (g.kernel[axis] - 1) + 1;
  int64_t padded = in + g.padBegin[axis] + g.padEnd[axis];
  if (padded < extent)
    return Status::error("kernel extent " + std::to_string(extent) +
                         " is larger than the padded input " +
                         std::to_string(padded) + " in spatial dimension " +
                         std::to_string(axis));
  int64_t s = g.strides[axis], span = padded - extent;
  int64_t out = (ceilMode ? (span + s - 1) / s : span / s) + 1;
  // ONNX (MaxPool-22): windows that would start in the right padded region
  // are ignored (also PyTorch's rule).
  if (ceilMode && (out - 1) * s >= in + g.padBegin[axis])
    --out;
  return out;
}

ShapeFn poolShape() {
  return [](ShapeCtx &c) -> Status {
    const TensorType &x = c.input(0);
    if (x.rank() < 3)
      return c.error("input must have rank 3 or more (N, C, spatial...), "
                     "got " + x.str());
    CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
    size_t spatial = size_t(x.rank() - 2);
    CNNC_ASSIGN_OR_RETURN(WindowGeometry g, windowGeometry(c, spatial));
    bool ceilMode = c.attrInt("ceil_mode") != 0;
    std::vector<int64_t> out{x.dim(0), x.dim(1)};
    for (size_t i = 0; i < spatial; ++i) {
      if (x.dim(2 + i) < 0) {
        out.push_back(kDynamic);
        continue;
      }
      auto size = pooledSize(x.dim(2 + i), g, i, ceilMode);
      if (!size.ok())
        return c.error(size.status().message());
      out.push_back(*size);
    }
    c.setOutput(0, TensorType(x.dtype(), out));
    return Status::success();
  };
}

FlopsFn poolFlops() {
  return [](const Node &n) -> int64_t {
    const TensorType &y = n.result(0)->type();
    if (!y.isStatic())
      return 0;
    const std::vector<int64_t> &k = n.attrInts("kernel_shape");
    return y.numElements() * productOf(k, 0, k.size());
  };
}

ShapeFn globalPoolShape() {
  return [](ShapeCtx &c) -> Status {
    const TensorType &x = c.input(0);
    if (x.rank() < 3)
      return c.error("input must have rank 3 or more (N, C, spatial...), "
                     "got " + x.str());
    CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
    std::vector<int64_t> out(x.dims().size(), 1);
    out[0] = x.dim(0);
    out[1] = x.dim(1);
    c.setOutput(0, TensorType(x.dtype(), out));
    return Status::success();
  };
}

FlopsFn flopsPerInput(int64_t perElement) {
  return [perElement](const Node &n) -> int64_t {
    const TensorType &t = n.operand(0)->type();
    return t.isStatic() ? perElement * t.numElements() : 0;
  };
}

ShapeFn softmaxShape() {
  return [](ShapeCtx &c) -> Status {
    CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
    auto axis = normalizeAxis(c.attrInt("axis"), c.input(0).rank());
    if (!axis.ok())
      return c.error(axis.status().message());
    c.setOutput(0, c.input(0));
    return Status::success();
  };
}

FoldFn softmaxFold(bool log) {
  return [log](FoldCtx &c) -> Status {
    const Tensor &x = c.input(0);
    Tensor &y = c.makeOutput(0);
    const std::vector<int64_t> &dims = x.dims();
    CNNC_ASSIGN_OR_RETURN(int64_t axis,
                          normalizeAxis(c.node().attrInt("axis"),
                                        int64_t(dims.size())));
    if (dims.empty()) { // a scalar: softmax 1, log_softmax 0
      y.setDouble(0, log ? 0.0 : 1.0);
      return Status::success();
    }
    int64_t outer = productOf(dims, 0, size_t(axis)), n = dims[axis];
    int64_t inner = productOf(dims, size_t(axis) + 1, dims.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t base = o * n * inner + i;
        double m = -INFINITY, sum = 0;
        for (int64_t k = 0; k < n; ++k)
          m = std::max(m, x.getDouble(base + k * inner));
        for (int64_t k = 0; k < n; ++k)
          sum += std::exp(x.getDouble(base + k * inner) - m);
        for (int64_t k = 0; k < n; ++k) {
          double v = x.getDouble(base + k * inner) - m;
          y.setDouble(base + k * inner,
                      log ? v - std::log(sum) : std::exp(v) / sum);
        }
      }
    return Status::success();
  };
}

ShapeFn classLossShape() {
  return [](ShapeCtx &c) -> Status {
    const TensorType &logits = c.input(0), &labels = c.input(1);
    if (logits.rank() != 2)
      return c.error("logits must be [N, C], got " + logits.str());
    CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
    if (labels.rank() != 1 ||
        (labels.dtype() != DType::I64 && labels.dtype() != DType::I32))
      return c.error("labels must be an i64 vector [N], got " + labels.str());
    int64_t n = logits.dim(0), m = labels.dim(0);
    if (n >= 0 && m >= 0 && n != m)
      return c.error("labels have " + std::to_string(m) +
                     " entries but logits " + logits.str() + " have " +
                     std::to_string(n) + " rows");
    c.setOutput(0, TensorType(logits.dtype(), {}));
    return Status::success();
  };
}

OpDef &convWindowAttrs(OpDef &def) {
  return def
      .attr("strides", AttrKind::Ints, std::vector<int64_t>{},
            "per spatial axis; empty = all 1")
      .attr("pads", AttrKind::Ints, std::vector<int64_t>{},
            "[begin..., end...]; empty = all 0")
      .attr("dilations", AttrKind::Ints, std::vector<int64_t>{},
            "per spatial axis; empty = all 1")
      .attr("group", AttrKind::Int, int64_t(1), "number of channel groups");
}

OpDef &poolWindowAttrs(OpDef &def) {
  return def
      .requiredAttr("kernel_shape", AttrKind::Ints, "window size per axis")
      .attr("strides", AttrKind::Ints, std::vector<int64_t>{},
            "per spatial axis; empty = all 1")
      .attr("pads", AttrKind::Ints, std::vector<int64_t>{},
            "[begin..., end...]; empty = all 0")
      .attr("dilations", AttrKind::Ints, std::vector<int64_t>{},
            "per spatial axis; empty = all 1")
      .attr("ceil_mode", AttrKind::Int, int64_t(0),
            "1: round the output size up instead of down");
}

ShapeFn classLossGradShape() {
  return [](ShapeCtx &c) -> Status {
    CNNC_RETURN_IF_ERROR(classLossShape()(c));
    const TensorType &dloss = c.input(2);
    if (dloss.rank() != 0 || dloss.dtype() != c.input(0).dtype())
      return c.error("dloss must be a scalar of the scores' type, got " +
                     dloss.str());
    c.setOutput(0, c.input(0));
    return Status::success();
  };
}

Expected<ConvGeometry> convGeometry(const ShapeCtx &c, size_t spatial) {
  ConvGeometry g;
  g.strides = c.attrInts("strides");
  g.dilations = c.attrInts("dilations");
  std::vector<int64_t> pads = c.attrInts("pads");
  if (g.strides.empty())
    g.strides.assign(spatial, 1);
  if (g.dilations.empty())
    g.dilations.assign(spatial, 1);
  if (pads.empty())
    pads.assign(2 * spatial, 0);
  // ONNX: pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...].
  if (g.strides.size() != spatial || g.dilations.size() != spatial ||
      pads.size() != 2 * spatial)
    return Status::error(
        "conv: strides, dilations and pads must have " +
        std::to_string(spatial) + ", " + std::to_string(spatial) + " and " +
        std::to_string(2 * spatial) + " entries for " +
        std::to_string(spatial) + " spatial dimensions, not " +
        std::to_string(g.strides.size()) + ", " +
        std::to_string(g.dilations.size()) + " and " +
        std::to_string(pads.size()));
  for (size_t i = 0; i < spatial; ++i) {
    if (g.strides[i] < 1 || g.dilations[i] < 1)
      return Status::error("conv: strides and dilations must be positive");
    if (pads[i] < 0 || pads[i + spatial] < 0)
      return Status::error("conv: pads must not be negative");
    g.padBegin.push_back(pads[i]);
    g.padEnd.push_back(pads[i + spatial]);
  }
  return g;
}

GradFn reshapeGrad() {
  return [](GradCtx &c) {
    c.addGrad(0, c.emit("reshape", {c.dy()},
                        {{"shape", Attribute(c.x(0)->type().dims())}}));
    return Status::success();
  };
}

GradFn softmaxGrad(bool log) {
  return [log](GradCtx &c) {
    const TensorType &x = c.x(0)->type();
    if (x.rank() == 0) // constant 1 or 0: no gradient
      return Status::success();
    CNNC_ASSIGN_OR_RETURN(int64_t axis,
                          normalizeAxis(c.node().attrInt("axis"), x.rank()));
    AttrMap sum{{"axes", Attribute(std::vector<int64_t>{axis})},
                {"keepdims", Attribute(int64_t(1))}};
    Value *y = c.y(), *dy = c.dy();
    if (log) { // dx = dy - softmax(x) * sum(dy)
      Value *s = c.emit("reduce_sum", {dy}, sum);
      c.addGrad(0, c.emit("sub", {dy, c.emit("mul", {c.emit("exp", {y}), s})}));
    } else { // dx = y * (dy - sum(dy * y))
      Value *s = c.emit("reduce_sum", {c.emit("mul", {dy, y})}, sum);
      c.addGrad(0, c.emit("mul", {y, c.emit("sub", {dy, s})}));
    }
    return Status::success();
  };
}
} // namespace cnnc::ops
