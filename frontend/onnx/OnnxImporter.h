//===- frontend/onnx/OnnxImporter.h - ONNX model -> graph IR ---------------===//
//
// Reads an ONNX ModelProto (binary .onnx, or protobuf text format .onnxtxt
// for readable tests) and builds the graph IR:
//   - graph inputs become inputs; those that are also initializers, and the
//     float initializers, become trainable parameters holding their data;
//     integer and bool initializers become `constant` nodes, and
//     initializers read only as constants (a reshape's shape, pads, axes)
//     become attributes and nothing else;
//   - each node is looked up in the op registry by its ONNX op type; ops
//     whose ONNX form differs convert themselves (`.onnxImport` in
//     ir/ops/<Op>.cpp); there is no per-op code here;
//   - shapes are inferred node by node, and a node whose operands are all
//     constant is folded at once, so that shape arithmetic (Shape -> Gather
//     -> Unsqueeze -> Concat -> Reshape) becomes constants.
// Every problem is reported through the DiagEngine as
//   model.onnx: node 'conv1' (Conv, opset 13): error: unsupported auto_pad 'FOO'
// and import goes on after an error (skipping the nodes that depend on the
// failed one), so one run lists every unsupported op.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Diag.h"
#include "ir/Graph.h"
#include "ir/Support.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cnnc {

struct OnnxImportOptions {
  /// Input name -> its full shape (cnnc --shape name=1x3x224x224); replaces
  /// the declared dims. Naming something that is not an input is an error.
  std::map<std::string, std::vector<int64_t>> shapes;
  /// Dimension 0 of every input where the model leaves it symbolic or
  /// unknown (cnnc --batch N). A fixed dimension 0 is kept, with a warning.
  std::optional<int64_t> batch;
  /// Inputs bound to values become constants instead of inputs (the ONNX
  /// node tests feed a Reshape's shape or a Pad's pads as graph inputs).
  std::map<std::string, Tensor> inputValues;
};

/// The default-domain opsets the importer accepts. Older models import
/// where each op supports the opset (its `.onnx(name, sinceOpset)`).
constexpr int kMinOnnxOpset = 1;
constexpr int kMaxOnnxOpset = 18;

/// Imports the binary ONNX model at \p path; external data files are read
/// relative to its directory. Registers the file with \p sm, reports every
/// error through \p diag, and fails (with an empty message) after any.
Expected<std::unique_ptr<Graph>> importOnnx(const std::string &path,
                                            const OnnxImportOptions &options,
                                            SourceMgr &sm, DiagEngine &diag);

/// The same from the bytes of a binary model; \p name is the file name for
/// diagnostics, \p baseDir the directory of external data files.
Expected<std::unique_ptr<Graph>>
importOnnxBytes(const std::string &bytes, const std::string &name,
                const OnnxImportOptions &options, SourceMgr &sm,
                DiagEngine &diag, const std::string &baseDir = ".");

/// The same from a ModelProto in protobuf text format (.onnxtxt); parse
/// errors point at line:col of \p text.
Expected<std::unique_ptr<Graph>>
importOnnxText(const std::string &text, const std::string &name,
               const OnnxImportOptions &options, SourceMgr &sm,
               DiagEngine &diag, const std::string &baseDir = ".");

/// Reads the text-format model at \p path (importOnnxText of its contents).
Expected<std::unique_ptr<Graph>> importOnnxTextFile(
    const std::string &path, const OnnxImportOptions &options, SourceMgr &sm,
    DiagEngine &diag);

} // namespace cnnc
