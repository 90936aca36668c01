//===- ir/ops/Reduce.cpp - reduce_mean and reduce_sum over axes ----------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// Which axes of a rank-\p rank tensor are reduced (all when axes is
/// empty, as ONNX ReduceMean).
static Expected<std::vector<bool>> reducedAxes(const Node &n, int64_t rank) {
  const std::vector<int64_t> &axes = n.attrInts("axes");
  std::vector<bool> reduced(size_t(rank), axes.empty());
  for (int64_t a : axes) {
    if (rank == 0 || a < -rank || a >= rank)
      return Status::error("axes " + intsStr(axes) + ": axis " +
                           std::to_string(a) + " is out of range for rank " +
                           std::to_string(rank));
    int64_t k = a < 0 ? a + rank : a;
    if (reduced[size_t(k)])
      return Status::error("axes " + intsStr(axes) + " name axis " +
                           std::to_string(k) + " twice");
    reduced[size_t(k)] = true;
  }
  return reduced;
}

static Status inferReduce(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  CNNC_RETURN_IF_ERROR(expectNumeric(c, 0));
  auto reduced = reducedAxes(c.node(), x.rank());
  if (!reduced.ok())
    return c.error(reduced.status().message());
  bool keep = c.attrInt("keepdims") != 0;
  std::vector<int64_t> out;
  for (int64_t i = 0; i < x.rank(); ++i)
    if (!(*reduced)[size_t(i)])
      out.push_back(x.dim(i));
    else if (keep)
      out.push_back(1);
  c.setOutput(0, TensorType(x.dtype(), out));
  return Status::success();
}

/// Sums in double, then (mean) divides by the number of reduced elements.
static Status foldReduce(FoldCtx &c, bool mean) {
  const Tensor &x = c.input(0);
  Tensor &y = c.makeOutput(0);
  const std::vector<int64_t> &dims = x.dims();
  CNNC_ASSIGN_OR_RETURN(std::vector<bool> reduced,
                        reducedAxes(c.node(), int64_t(dims.size())));
  // The index into y of each x element: its coordinates on kept axes.
  std::vector<int64_t> kept;
  for (size_t i = 0; i < dims.size(); ++i)
    kept.push_back(reduced[i] ? 1 : dims[i]);
  std::vector<int64_t> keptStrides = stridesOf(kept);
  std::vector<double> sum(size_t(y.numElements()), 0.0);
  forEachIndex(dims, [&](const std::vector<int64_t> &idx, int64_t flat) {
    int64_t dst = 0;
    for (size_t i = 0; i < idx.size(); ++i)
      if (!reduced[i])
        dst += idx[i] * keptStrides[i];
    sum[size_t(dst)] += x.getDouble(flat);
  });
  int64_t count = y.numElements() ? x.numElements() / y.numElements() : 0;
  for (size_t i = 0; i < sum.size(); ++i)
    y.setDouble(int64_t(i), mean ? sum[i] / double(count) : sum[i]);
  return Status::success();
}

/// One add per input element and one divide per output element.
static int64_t reduceFlops(const Node &n) {
  const TensorType &x = n.operand(0)->type(), &y = n.result(0)->type();
  return x.isStatic() && y.isStatic() ? x.numElements() + y.numElements() : 0;
}

/// Sums over an RDom of the reduced axes into a Func at root, then y is
/// the sum divided by the count (truncating toward zero for integers, as
/// the fold). The division is not an update of y: Halide 14 drops the
/// vector tail of an update that reads its own value twice, as truncDiv
/// does.
static Status lowerReduce(LowerCtx &c, bool mean) {
  const TensorType &x = c.inType(0);
  CNNC_ASSIGN_OR_RETURN(std::vector<bool> reduced,
                        reducedAxes(c.node(), x.rank()));
  bool keep = c.node().attrInt("keepdims") != 0;
  std::vector<int64_t> extents;
  for (int64_t i = 0; i < x.rank(); ++i)
    if (reduced[size_t(i)])
      extents.push_back(x.dim(i));
  Index out = outIndex(c), xi;
  if (extents.empty()) { // a scalar: the mean of one element
    c.define(0, c.in(0, out));
    return Status::success();
  }
  Halide::RDom r = rdomOver(c, extents, "reduced");
  for (size_t i = 0, o = 0, k = 0; i < size_t(x.rank()); ++i) {
    if (!reduced[i]) {
      xi.push_back(out[o++]);
      continue;
    }
    xi.push_back(r[int(k++)]);
    o += keep;
  }
  Halide::Type t = LowerCtx::halideType(x.dtype());
  Halide::Func sum = c.func(c.name() + "_sum");
  updateAt(sum, out, Halide::Internal::make_zero(t));
  updateAt(sum, out, callAt(sum, out) + c.in(0, xi));
  sum.compute_root();
  double count = double(productOf(extents, 0, extents.size()));
  c.define(0, mean ? truncDiv(callAt(sum, out), constOf(t, count))
                   : callAt(sum, out));
  return Status::success();
}

/// ONNX ReduceMean-18 and ReduceSum-13 give axes as an optional input,
/// which must be constant; with noop_with_empty_axes = 1 and no axes it is
/// the identity.
static Status importReduce(OnnxImportCtx &c, int axesInputSince) {
  CNNC_ASSIGN_OR_RETURN(int64_t noop, c.takeInt("noop_with_empty_axes", 0));
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  if (c.opset() >= axesInputSince && c.hasInput(1)) {
    CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> axes, c.constantInts(1));
    c.attrs()["axes"] = Attribute(axes);
  }
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> axes, c.getInts("axes"));
  if (noop && axes.empty()) {
    CNNC_ASSIGN_OR_RETURN(Value * y, c.addNode("identity", {x}));
    c.setOutput(0, y);
    return Status::success();
  }
  c.setOperands({x});
  return Status::success();
}

/// The gradient of a sum over axes is dy broadcast back over them (divided
/// by the count for the mean); without keepdims the reduced axes are first
/// put back as 1s.
static Status gradReduce(GradCtx &c, bool mean) {
  const TensorType &x = c.x(0)->type();
  CNNC_ASSIGN_OR_RETURN(std::vector<bool> reduced,
                        reducedAxes(c.node(), x.rank()));
  Value *g = c.dy();
  std::vector<int64_t> kept;
  int64_t count = 1;
  for (int64_t i = 0; i < x.rank(); ++i) {
    kept.push_back(reduced[size_t(i)] ? 1 : x.dim(i));
    count *= reduced[size_t(i)] ? x.dim(i) : 1;
  }
  if (c.node().attrInt("keepdims") == 0)
    g = c.emit("reshape", {g}, {{"shape", Attribute(kept)}});
  g = c.emit("expand", {g}, {{"shape", Attribute(x.dims())}});
  if (mean)
    g = c.emit("mul", {g, c.scalar(1.0 / double(count), x.dtype())});
  c.addGrad(0, g);
  return Status::success();
}

static OpDef reduceOp(const std::string &name, bool mean) {
  return OpDef(name)
      .inputs({"x"})
      .outputs({"y"})
      .attr("axes", AttrKind::Ints, std::vector<int64_t>{},
            "reduced axes; empty = all")
      .attr("keepdims", AttrKind::Int, int64_t(1),
            "1: keep reduced axes with size 1")
      .inferShape(inferReduce)
      .fold([mean](FoldCtx &c) { return foldReduce(c, mean); })
      .flops(reduceFlops)
      .pattern(FusionPattern::Reduction)
      .lower([mean](LowerCtx &c) { return lowerReduce(c, mean); })
      .grad([mean](GradCtx &c) { return gradReduce(c, mean); });
}

/// ONNX ReduceMean-1..17 (axes as attribute; ReduceMean-18 takes them as an
/// input, which the importer requires constant).
OpDef defineReduceMean() {
  return reduceOp("reduce_mean", true)
      .summary("Mean over the given axes (all when axes is empty)")
      .onnx("ReduceMean", 1)
      .onnxImport([](OnnxImportCtx &c) { return importReduce(c, 18); });
}

/// ONNX ReduceSum-1..12 (axes as attribute; ReduceSum-13 takes them as an
/// input, which the importer requires constant).
OpDef defineReduceSum() {
  return reduceOp("reduce_sum", false)
      .summary("Sum over the given axes (all when axes is empty)")
      .onnx("ReduceSum", 1)
      .onnxImport([](OnnxImportCtx &c) { return importReduce(c, 13); });
}

} // namespace cnnc::ops
