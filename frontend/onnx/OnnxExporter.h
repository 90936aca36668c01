//===- frontend/onnx/OnnxExporter.h - graph IR -> ONNX model ---------------===//
//
// Writes a (trained) network as an ONNX model at opset 13, so that ONNX
// Runtime and other tools can run what cnnc built: graph inputs and outputs
// with their types, parameters as initializers holding their values, and
// every node as the ONNX op of its first `.onnx(...)` name. Ops whose
// opset-13 form differs adjust themselves (`.onnxExport` in ir/ops/).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <cstdint>
#include <string>

namespace cnnc {

/// The ONNX opset that exportOnnx writes.
constexpr int kOnnxExportOpset = 13;

/// The serialized ModelProto of \p g. Parameter values come from
/// materializeParam(init, type, seed + index), as in the compiled model;
/// an error names an op that has no ONNX form (e.g. a loss).
Expected<std::string> exportOnnxBytes(const Graph &g, uint64_t seed = 0);

/// Writes exportOnnxBytes(g) to \p path (atomically: a temporary file
/// renamed into place).
Status exportOnnx(const Graph &g, const std::string &path, uint64_t seed = 0);

} // namespace cnnc
