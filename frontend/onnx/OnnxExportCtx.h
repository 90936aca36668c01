//===- frontend/onnx/OnnxExportCtx.h - what an op's ONNX export hook sees --===//
//
// The exporter (frontend/onnx/OnnxExporter.cpp) writes an IR node as the
// ONNX op of its first `.onnx(...)` name at opset 13, with the operands as
// inputs and the attributes that are set (snake_case names made camelCase
// where ONNX spells them so: trans_a -> transA). An op whose opset-13 form
// differs gives its OpDef an `.onnxExport([](OnnxExportCtx &c) { ... })`
// hook that adjusts this, e.g. turns reshape's `shape` attribute into an
// initializer input.
//
// An interface with no out-of-line code, so that cnnc_ir does not link
// against the frontend that implements it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Attribute.h"
#include "ir/Graph.h"
#include "ir/Support.h"

#include <string>

namespace cnnc {

class OnnxExportCtx {
public:
  virtual ~OnnxExportCtx() = default;

  /// The node being written.
  virtual const Node &node() const = 0;
  /// The ONNX opset written (13).
  virtual int opset() const = 0;

  /// Appends an input: a new initializer holding \p t, named after the
  /// node's result and \p suffix.
  virtual void addConstantInput(const std::string &suffix, Tensor t) = 0;
  /// Appends an empty input (an optional input left out).
  virtual void addEmptyInput() = 0;

  /// The ONNX TensorProto.DataType of \p t.
  virtual int64_t dtypeToOnnx(DType t) const = 0;

  /// The attributes to write, by IR name; hooks change or remove entries.
  /// Names are made ONNX spellings when written.
  virtual AttrMap &attrs() = 0;
};

} // namespace cnnc
