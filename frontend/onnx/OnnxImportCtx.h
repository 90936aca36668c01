//===- frontend/onnx/OnnxImportCtx.h - what an op's ONNX import hook sees --===//
//
// An op whose ONNX form differs from its IR form (an input that the IR keeps
// as an attribute, opset-dependent attributes, extra outputs) gives its
// OpDef an `.onnxImport([](OnnxImportCtx &c) { ... })` hook in its own file
// in ir/ops/. The importer (frontend/onnx/OnnxImporter.cpp) first converts
// the ONNX node generically:
//   - attributes are copied with camelCase names made snake_case (transA ->
//     trans_a) and ONNX kinds made IR kinds (INTS -> ints, TENSOR -> tensor);
//   - the operands are every given input, in order (trailing empty optional
//     inputs are dropped).
// The hook then edits that: it reads inputs (as values or as constants),
// rewrites attrs(), sets the operands, or builds the outputs itself with
// addNode() and setOutput(). What is left is checked against the op's
// schema, and a node of the op is created with the ONNX output names.
//
// This class is an interface with no out-of-line code, so that cnnc_ir (the
// op files) does not link against the frontend that implements it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Attribute.h"
#include "ir/Graph.h"
#include "ir/Support.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace cnnc {

class OnnxImportCtx {
public:
  virtual ~OnnxImportCtx() = default;

  /// The ONNX op type, e.g. "Conv".
  virtual const std::string &opType() const = 0;
  /// The opset version of the default ONNX domain that the model imports.
  virtual int opset() const = 0;

  /// Number of ONNX inputs, empty optional ones included.
  virtual size_t numInputs() const = 0;
  /// True if input \p i exists and is not the empty name (left out).
  virtual bool hasInput(size_t i) const = 0;
  /// The ONNX name of input \p i ("" if it is left out or absent).
  virtual std::string inputName(size_t i) const = 0;
  /// Input \p i as an IR value. A float initializer becomes a parameter.
  virtual Expected<Value *> input(size_t i) = 0;
  /// Input \p i as a constant: an initializer, a Constant node, or a value
  /// that import-time folding computed (e.g. Shape -> Gather -> Concat of
  /// static shapes). An error naming the input otherwise. An initializer
  /// read only this way never becomes a parameter.
  virtual Expected<Tensor> constantInput(size_t i) = 0;

  /// Number of ONNX outputs, empty ones included.
  virtual size_t numOutputs() const = 0;
  /// True if output \p i exists and a later node or a graph output uses it.
  virtual bool outputUsed(size_t i) const = 0;

  /// The node's attributes, already converted (snake_case names, IR kinds).
  /// Hooks read, change, add and remove entries; whatever is left must be
  /// an attribute of the op.
  virtual AttrMap &attrs() = 0;

  /// Sets the operands of the op's node (default: every given input).
  virtual void setOperands(std::vector<Value *> operands) = 0;
  /// Adds a node of IR op \p op (for decompositions); its shape is inferred
  /// and it is folded when its operands are constant. Returns result 0.
  virtual Expected<Value *> addNode(const std::string &op,
                                    std::vector<Value *> operands,
                                    AttrMap attrs = {}) = 0;
  /// Makes ONNX output \p i the value \p v. Once a hook sets an output, the
  /// importer creates no node of the op itself.
  virtual void setOutput(size_t i, Value *v) = 0;

  /// The IR dtype of ONNX TensorProto.DataType \p t, or an error naming
  /// it ("unsupported dtype FLOAT16").
  virtual Expected<DType> dtypeFromOnnx(int64_t t) const = 0;

  // Helpers over attrs().

  bool hasAttr(const std::string &name) { return attrs().count(name) != 0; }
  /// Removes attribute \p name and returns it, if it was there.
  std::optional<Attribute> takeAttr(const std::string &name) {
    auto it = attrs().find(name);
    if (it == attrs().end())
      return std::nullopt;
    Attribute a = std::move(it->second);
    attrs().erase(it);
    return a;
  }
  /// Removes int attribute \p name and returns it, or \p dflt if absent.
  Expected<int64_t> takeInt(const std::string &name, int64_t dflt) {
    std::optional<Attribute> a = takeAttr(name);
    if (!a)
      return dflt;
    if (a->kind() != AttrKind::Int)
      return kindError(name, "an int", *a);
    return a->getInt();
  }
  /// Removes string attribute \p name and returns it, or \p dflt if absent.
  Expected<std::string> takeString(const std::string &name,
                                   const std::string &dflt) {
    std::optional<Attribute> a = takeAttr(name);
    if (!a)
      return dflt;
    if (a->kind() != AttrKind::String)
      return kindError(name, "a string", *a);
    return a->getString();
  }
  /// The int attribute \p name (left in place), or \p dflt if absent.
  Expected<int64_t> getInt(const std::string &name, int64_t dflt) {
    auto it = attrs().find(name);
    if (it == attrs().end())
      return dflt;
    if (it->second.kind() != AttrKind::Int)
      return kindError(name, "an int", it->second);
    return it->second.getInt();
  }
  /// The int list attribute \p name (left in place), or {} if absent.
  Expected<std::vector<int64_t>> getInts(const std::string &name) {
    auto it = attrs().find(name);
    if (it == attrs().end())
      return std::vector<int64_t>{};
    Attribute a = it->second;
    if (!a.coerceTo(AttrKind::Ints))
      return kindError(name, "an int list", a);
    return a.getInts();
  }

  /// Input \p i as a constant list of integers (shapes, axes, pads).
  Expected<std::vector<int64_t>> constantInts(size_t i) {
    CNNC_ASSIGN_OR_RETURN(Tensor t, constantInput(i));
    if (isFloat(t.dtype()))
      return Status::error("input " + std::to_string(i) + " ('" +
                           inputName(i) + "') must hold integers, got " +
                           t.type().str());
    return t.toInts();
  }
  /// Input \p i as a constant scalar number (or a one-element tensor). An
  /// f32 value becomes the double of its shortest decimal form (0.3f ->
  /// 0.3), as float attributes do.
  Expected<double> constantScalar(size_t i) {
    CNNC_ASSIGN_OR_RETURN(Tensor t, constantInput(i));
    if (t.numElements() != 1)
      return Status::error("input " + std::to_string(i) + " ('" +
                           inputName(i) + "') must be a scalar, got " +
                           t.type().str());
    double v = t.getDouble(0);
    if (t.dtype() == DType::F32 && std::isfinite(v))
      v = std::strtod(formatFloat(float(v)).c_str(), nullptr);
    return v;
  }

private:
  static Status kindError(const std::string &name, const char *want,
                          const Attribute &got) {
    return Status::error("attribute '" + name + "' must be " + want +
                         ", got " + attrKindName(got.kind()));
  }
};

} // namespace cnnc
