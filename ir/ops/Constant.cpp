//===- ir/ops/Constant.cpp - constant: a tensor given as an attribute -----===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cctype>

namespace cnnc::ops {

static Status inferConstant(ShapeCtx &c) {
  const Tensor &t = c.attrTensor("value");
  if (t.empty())
    return c.error("value holds no data");
  c.setOutput(0, t.type());
  return Status::success();
}

static Status foldConstant(FoldCtx &c) {
  c.setOutput(0, c.node().attrTensor("value"));
  return Status::success();
}

/// The value is baked into the pipeline as a Halide::Buffer, which AOT
/// compilation embeds in the object as constant data.
static Status lowerConstant(LowerCtx &c) {
  const Tensor &v = c.node().attrTensor("value");
  std::vector<int> sizes;
  for (auto d = v.dims().rbegin(); d != v.dims().rend(); ++d)
    sizes.push_back(int(*d));
  std::string name = "const_" + c.name();
  for (char &ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)))
      ch = '_';
  Halide::Buffer<> buf(LowerCtx::halideType(v.dtype()), sizes, name);
  if (v.numBytes())
    std::memcpy(buf.data(), v.rawData(), v.numBytes());
  Index out = outIndex(c);
  c.define(0, buf(std::vector<Halide::Expr>(out.rbegin(), out.rend())));
  return Status::success();
}

/// ONNX Constant: `value` (a tensor), or from opset 12 value_float,
/// value_floats, value_int or value_ints; strings and sparse tensors are
/// not supported.
static Status importConstant(OnnxImportCtx &c) {
  if (c.hasAttr("value_string") || c.hasAttr("value_strings"))
    return Status::error("string constants are not supported");
  auto take = [&](const char *name, AttrKind kind) {
    std::optional<Attribute> a = c.takeAttr(name);
    if (a && !a->coerceTo(kind))
      return std::optional<Attribute>();
    return a;
  };
  auto vec = [](size_t n) { return TensorType(DType::I64, {int64_t(n)}); };
  if (auto a = take("value_float", AttrKind::Float))
    c.attrs()["value"] = Attribute(
        Tensor::fromDoubles(TensorType(DType::F32, {}), {a->getFloat()}));
  if (auto a = take("value_floats", AttrKind::Floats)) {
    TensorType t(DType::F32, vec(a->getFloats().size()).dims());
    c.attrs()["value"] = Attribute(Tensor::fromDoubles(t, a->getFloats()));
  }
  if (auto a = take("value_int", AttrKind::Int))
    c.attrs()["value"] = Attribute(
        Tensor::fromInts(TensorType(DType::I64, {}), {a->getInt()}));
  if (auto a = take("value_ints", AttrKind::Ints))
    c.attrs()["value"] =
        Attribute(Tensor::fromInts(vec(a->getInts().size()), a->getInts()));
  return Status::success();
}

/// ONNX Constant: the importer also turns value_float, value_ints, ...
/// (opset 12+) into the tensor attribute.
OpDef defineConstant() {
  return OpDef("constant")
      .summary("A constant tensor, y = value")
      .inputs({})
      .outputs({"y"})
      .requiredAttr("value", AttrKind::Tensor, "the tensor")
      .onnx("Constant", 1)
      .onnxImport(importConstant)
      .inferShape(inferConstant)
      .fold(foldConstant)
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Opaque)
      .lower(lowerConstant);
}

} // namespace cnnc::ops
