//===- frontend/onnx/TensorProtoFile.h - a tensor from an ONNX .pb file ----===//
#pragma once

#include "ir/Support.h"
#include "ir/Type.h"

#include <string>

namespace cnnc {

/// Reads a serialized ONNX TensorProto (the input_N.pb / output_N.pb files
/// of ONNX test data). Errors name the file. \p name, when given, receives
/// the tensor's name (empty if it has none).
Expected<Tensor> readTensorProtoFile(const std::string &path,
                                     std::string *name = nullptr);

} // namespace cnnc
