//===- ir/ops/OnnxHelpers.cpp - ONNX import/export pieces shared by ops ---===//
#include "ir/ops/OnnxHelpers.h"

#include "ir/ops/OpHelpers.h"

#include <algorithm>

namespace cnnc::ops {

/// Attribute \p name of \p spatial entries, or all \p dflt when absent.
static Expected<std::vector<int64_t>> perAxis(OnnxImportCtx &c,
                                              const std::string &name,
                                              size_t spatial) {
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> v, c.getInts(name));
  if (v.empty())
    v.assign(spatial, 1);
  if (v.size() != spatial)
    return Status::error(name + " " + intsStr(v) + " must have " +
                         std::to_string(spatial) +
                         " entries, one per spatial axis");
  for (int64_t x : v)
    if (x < 1)
      return Status::error(name + " " + intsStr(v) + " must be positive");
  return v;
}

Status importAutoPad(OnnxImportCtx &c, const std::vector<int64_t> &kernel) {
  CNNC_ASSIGN_OR_RETURN(std::string mode, c.takeString("auto_pad", "NOTSET"));
  if (mode == "NOTSET")
    return Status::success();
  if (mode != "VALID" && mode != "SAME_UPPER" && mode != "SAME_LOWER")
    return Status::error("unsupported auto_pad '" + mode + "'");
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> given, c.getInts("pads"));
  if (std::any_of(given.begin(), given.end(), [](int64_t p) { return p; }))
    return Status::error("auto_pad " + mode + " and pads " + intsStr(given) +
                         " are both given");
  size_t spatial = kernel.size();
  std::vector<int64_t> pads(2 * spatial, 0);
  if (mode == "VALID") {
    c.attrs()["pads"] = Attribute(pads);
    return Status::success();
  }
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  const TensorType &t = x->type();
  if (t.rank() != int64_t(spatial) + 2)
    return Status::error("input " + t.str() + " must have " +
                         std::to_string(spatial) +
                         " spatial axes for a kernel of " + intsStr(kernel));
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> strides,
                        perAxis(c, "strides", spatial));
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> dilations,
                        perAxis(c, "dilations", spatial));
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = t.dim(int64_t(2 + i)), s = strides[i];
    if (in < 0)
      return Status::error("auto_pad " + mode +
                           " needs the spatial dims of the input, which are "
                           "unknown in " + t.str() +
                           " (fix them with --shape)");
    if (kernel[i] < 1)
      return Status::error("kernel " + intsStr(kernel) + " must be positive");
    // ONNX: output = ceil(in / stride); pad what the windows need beyond.
    int64_t out = (in + s - 1) / s;
    int64_t total = std::max<int64_t>(
        0, (out - 1) * s + (kernel[i] - 1) * dilations[i] + 1 - in);
    int64_t half = total / 2;
    pads[i] = mode == "SAME_UPPER" ? half : total - half;
    pads[i + spatial] = total - pads[i];
  }
  c.attrs()["pads"] = Attribute(pads);
  return Status::success();
}

Status importPool(OnnxImportCtx &c) {
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, c.getInts("kernel_shape"));
  return importAutoPad(c, kernel);
}

Status importLegacyBroadcast(OnnxImportCtx &c) {
  if (c.opset() >= 7)
    return Status::success(); // numpy broadcasting, as the IR
  CNNC_ASSIGN_OR_RETURN(int64_t broadcast, c.takeInt("broadcast", 0));
  std::optional<Attribute> axisAttr = c.takeAttr("axis");
  if (!broadcast)
    return Status::success(); // equal shapes
  CNNC_ASSIGN_OR_RETURN(Value * a, c.input(0));
  CNNC_ASSIGN_OR_RETURN(Value * b, c.input(1));
  int64_t ra = a->type().rank(), rb = b->type().rank();
  int64_t axis = ra - rb;
  if (axisAttr) {
    if (axisAttr->kind() != AttrKind::Int)
      return Status::error("attribute 'axis' must be an int");
    axis = axisAttr->getInt() < 0 ? axisAttr->getInt() + ra
                                  : axisAttr->getInt();
  }
  if (axis < 0 || axis + rb > ra)
    return Status::error("broadcast axis " + std::to_string(axis) +
                         " does not place b " + b->type().str() +
                         " inside a " + a->type().str());
  if (axis + rb == ra) {
    c.setOperands({a, b});
    return Status::success();
  }
  // b's dims stay (0 copies them), and size-1 axes follow until rank(a).
  std::vector<int64_t> shape(size_t(rb), 0);
  shape.resize(size_t(ra - axis), 1);
  CNNC_ASSIGN_OR_RETURN(Value * rb2,
                        c.addNode("reshape", {b}, {{"shape", Attribute(shape)}}));
  c.setOperands({a, rb2});
  return Status::success();
}

OnnxImportFn importSoftmax(const std::string &op) {
  return [op](OnnxImportCtx &c) -> Status {
    if (c.opset() >= 13)
      return Status::success();
    CNNC_ASSIGN_OR_RETURN(int64_t axis, c.takeInt("axis", 1));
    CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
    const TensorType &t = x->type();
    auto n = normalizeAxis(axis, t.rank());
    if (!n.ok())
      return n.status();
    if (*n == t.rank() - 1) {
      c.attrs()["axis"] = Attribute(int64_t(-1));
      c.setOperands({x});
      return Status::success();
    }
    // Opsets 1-12 normalize x seen as [prod(dims[:axis]), prod(dims[axis:])].
    if (!t.isStatic())
      return Status::error("axis " + std::to_string(axis) + " of input " +
                           t.str() + " (softmax over axes " +
                           std::to_string(*n) +
                           " to the last, as before opset 13) needs static "
                           "dims");
    CNNC_ASSIGN_OR_RETURN(Value * flat,
                          c.addNode("flatten", {x}, {{"axis", Attribute(*n)}}));
    CNNC_ASSIGN_OR_RETURN(
        Value * y, c.addNode(op, {flat}, {{"axis", Attribute(int64_t(1))}}));
    CNNC_ASSIGN_OR_RETURN(
        Value * back, c.addNode("reshape", {y}, {{"shape", Attribute(t.dims())}}));
    c.setOutput(0, back);
    return Status::success();
  };
}

void exportIntsAsInput(OnnxExportCtx &c, const std::string &attr) {
  std::vector<int64_t> v;
  auto it = c.attrs().find(attr);
  if (it != c.attrs().end()) {
    v = it->second.getInts();
    c.attrs().erase(it);
  } else {
    v = c.node().attrInts(attr);
  }
  c.addConstantInput(attr, Tensor::fromInts(TensorType(DType::I64,
                                                       {int64_t(v.size())}),
                                            v));
}

} // namespace cnnc::ops
