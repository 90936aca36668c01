//===- frontend/onnx/TensorProtoFile.cpp - a tensor from an ONNX .pb file --===//
#include "frontend/onnx/TensorProtoFile.h"

#include "frontend/onnx/OnnxProto.h"
#include "ir/FileIO.h"

#include <filesystem>

namespace cnnc {

Expected<Tensor> readTensorProtoFile(const std::string &path,
                                     std::string *name) {
  CNNC_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes))
    return Status::error("'" + path + "' is not an ONNX TensorProto file");
  if (name)
    *name = t.name();
  std::string dir = std::filesystem::path(path).parent_path().string();
  auto tensor = onnxproto::tensorFromProto(t, dir.empty() ? "." : dir);
  if (!tensor.ok())
    return Status::error("'" + path + "': " + tensor.status().message());
  return tensor;
}

} // namespace cnnc
