//===- tools/driver/TensorFiles.h - tensors from .npy or ONNX .pb files ----===//
#pragma once

#include "ir/Support.h"
#include "ir/Type.h"

#include <string>

namespace cnnc {

/// Reads a tensor from a .npy file or an ONNX TensorProto (.pb) file,
/// chosen by the extension.
Expected<Tensor> readTensorFile(const std::string &path);

} // namespace cnnc
