//===- frontend/onnx/OnnxProto.h - ONNX protobuf helpers (private) ---------===//
//
// Shared by the importer and the exporter: element types, tensors (with
// external data files) and attribute names between ONNX and the IR. The
// protobuf classes come from onnx.proto, compiled at build time
// (frontend/CMakeLists.txt).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Support.h"
#include "ir/Type.h"

#include "onnx/onnx.pb.h"

#include <optional>
#include <string>

namespace cnnc::onnxproto {

/// The IR dtype of ONNX TensorProto.DataType \p t, or nullopt.
std::optional<DType> dtypeFromOnnx(int32_t t);
/// The ONNX TensorProto.DataType of \p t.
int32_t dtypeToOnnx(DType t);
/// "FLOAT16", or "42" for a number ONNX does not define.
std::string onnxDTypeName(int32_t t);

/// Reads the value of \p t. Data may be in the typed fields (float_data,
/// int64_data, ...), in raw_data (little-endian), or in an external file
/// (data_location EXTERNAL, `location` relative to \p baseDir, with
/// optional `offset` and `length`). Errors name the problem, not the tensor.
Expected<Tensor> tensorFromProto(const onnx::TensorProto &t,
                                 const std::string &baseDir);

/// Writes \p t into \p out (dims, data_type, raw_data); the name is kept.
void tensorToProto(const Tensor &t, onnx::TensorProto *out);

/// ONNX attribute names are camelCase or snake_case (transA, kernel_shape);
/// IR names are snake_case: "transA" -> "trans_a".
std::string camelToSnake(const std::string &name);
/// The inverse for ONNX's spellings: an underscore before a single letter
/// becomes that letter upper-cased ("trans_a" -> "transA"); every other
/// name stays ("kernel_shape").
std::string snakeToCamel(const std::string &name);

} // namespace cnnc::onnxproto
