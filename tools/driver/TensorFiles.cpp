//===- tools/driver/TensorFiles.cpp - tensors from .npy or ONNX .pb files --===//
#include "tools/driver/TensorFiles.h"

#include "frontend/onnx/TensorProtoFile.h"
#include "tools/driver/Npy.h"

namespace cnnc {

Expected<Tensor> readTensorFile(const std::string &path) {
  auto ends = [&](const char *ext) {
    size_t n = std::char_traits<char>::length(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends(".npy"))
    return readNpy(path);
  if (ends(".pb"))
    return readTensorProtoFile(path);
  return Status::error("'" + path +
                       "': unknown tensor file type (expected .npy or .pb)");
}

} // namespace cnnc
