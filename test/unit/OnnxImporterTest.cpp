//===- test/unit/OnnxImporterTest.cpp - ONNX import: round trips, robustness ===//
//
// The lit tests in test/frontend/onnx/ check each op's import; these check
// what is easier from C++: export -> import round trips, and that truncated,
// bit-flipped and random bytes give an error and never a crash.
//
//===----------------------------------------------------------------------===//
#include "frontend/onnx/OnnxExporter.h"
#include "frontend/onnx/OnnxImporter.h"
#include "ir/TextIR.h"
#include "ir/Verifier.h"

#include <gtest/gtest.h>
#include <random>
#include <sstream>

using namespace cnnc;

namespace {

/// A network that exercises most import paths: params, ops whose ONNX
/// form has inputs for IR attributes (clip, pad, reshape, squeeze,
/// unsqueeze, dropout), pooling and softmax.
const char *kNet = R"(graph @net(%x: f32[1,2,6,6]) {
  param %w: f32[3,2,3,3] = dense [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0, 4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.7, 4.8, 4.9, 5.0, 5.1, 5.2, 5.3, 5.4]
  param %b: f32[3] = dense [0.5, -0.5, 0.25]
  %c = conv(%x, %w, %b) {pads = [1, 1, 1, 1]} : f32[1,3,6,6]
  %r = clip(%c) {max = 6.0, min = 0.0} : f32[1,3,6,6]
  %p = pad(%r) {pads = [0, 0, 1, 1, 0, 0, 1, 1]} : f32[1,3,8,8]
  %m = max_pool(%p) {kernel_shape = [2, 2], strides = [2, 2]} : f32[1,3,4,4]
  %f = reshape(%m) {shape = [1, -1]} : f32[1,48]
  %u = unsqueeze(%f) {axes = [0]} : f32[1,1,48]
  %q = squeeze(%u) {axes = [0]} : f32[1,48]
  %d = dropout(%q) {ratio = 0.25} : f32[1,48]
  %y = softmax(%d) : f32[1,48]
  return %y
}
)";

std::unique_ptr<Graph> parseIR(const std::string &text) {
  static SourceMgr sm;
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  auto g = parseGraphString(text, sm, diag, "net.cnnir");
  EXPECT_TRUE(g) << os.str();
  return g;
}

/// Imports \p bytes; returns the graph or null, with the diagnostics.
std::unique_ptr<Graph> import(const std::string &bytes, std::string *errors,
                              const OnnxImportOptions &opts = {}) {
  SourceMgr sm;
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  auto g = importOnnxBytes(bytes, "t.onnx", opts, sm, diag);
  if (errors)
    *errors = os.str();
  if (!g.ok())
    return nullptr;
  return std::move(*g);
}

std::string netBytes() {
  auto g = parseIR(kNet);
  auto bytes = exportOnnxBytes(*g);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  return *bytes;
}

} // namespace

/// Exporting and importing again gives back the same graph, attributes
/// that ONNX keeps as inputs (clip's min, pad's pads, ...) included.
TEST(OnnxImporter, RoundTrip) {
  std::string errors;
  auto g = import(netBytes(), &errors);
  ASSERT_TRUE(g) << errors;
  EXPECT_EQ(printGraph(*g), kNet);
}

/// An empty file and random bytes are errors, not crashes.
TEST(OnnxImporter, EmptyAndGarbage) {
  std::string errors;
  EXPECT_FALSE(import("", &errors));
  EXPECT_EQ(errors, "t.onnx: error: the file is empty\n");
  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) {
    std::string bytes(size_t(rng() % 300 + 1), '\0');
    for (char &c : bytes)
      c = char(rng());
    EXPECT_FALSE(import(bytes, &errors));
    EXPECT_NE(errors.find("error:"), std::string::npos);
  }
}

/// Every prefix of a model either imports to a valid graph (protobuf can
/// end at a field boundary) or fails with a message; none crashes.
TEST(OnnxImporter, TruncatedNeverCrashes) {
  std::string bytes = netBytes();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string errors;
    auto g = import(bytes.substr(0, n), &errors);
    if (g) {
      SourceMgr sm;
      DiagEngine diag(sm);
      EXPECT_TRUE(verifyGraph(*g, diag)) << "prefix " << n;
    } else {
      EXPECT_NE(errors.find("error:"), std::string::npos) << "prefix " << n;
    }
  }
}

/// Flipping bits (one to three at a time) anywhere in a model never
/// crashes: the result imports to a valid graph or reports an error.
TEST(OnnxImporter, BitFlipsNeverCrash) {
  std::string bytes = netBytes();
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = bytes;
    int flips = 1 + int(rng() % 3);
    for (int k = 0; k < flips; ++k)
      mutated[rng() % mutated.size()] ^= char(1u << (rng() % 8));
    std::string errors;
    auto g = import(mutated, &errors);
    if (g) {
      SourceMgr sm;
      DiagEngine diag(sm);
      EXPECT_TRUE(verifyGraph(*g, diag)) << "iteration " << i;
    } else {
      EXPECT_NE(errors.find("error:"), std::string::npos) << "iteration " << i;
    }
  }
}

/// Diagnostics name the file, the node (name, op type, opset) and go on
/// after the first error.
TEST(OnnxImporter, DiagnosticsNameTheNode) {
  const char *text = R"(
    ir_version: 8
    opset_import { version: 13 }
    graph {
      node { name: "a" op_type: "NoSuchOp" input: "x" output: "y" }
      node { op_type: "Relu" input: "x" output: "z" attribute { name: "k" type: INT i: 1 } }
      input { name: "x" type { tensor_type { elem_type: 1 shape { dim { dim_value: 1 } } } } }
      output { name: "y" type { tensor_type { elem_type: 1 } } }
      output { name: "z" type { tensor_type { elem_type: 1 } } }
    })";
  SourceMgr sm;
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  auto g = importOnnxText(text, "m.onnxtxt", {}, sm, diag);
  EXPECT_FALSE(g.ok());
  EXPECT_EQ(os.str(),
            "m.onnxtxt: node 'a' (NoSuchOp, opset 13): error: unsupported op\n"
            "m.onnxtxt: node #1 (Relu, opset 13): error: unsupported "
            "attribute 'k'\n");
}

/// Inputs bound to values become constants, so that a Reshape whose shape
/// is a graph input (as in the ONNX node tests) imports.
TEST(OnnxImporter, BoundInputsBecomeConstants) {
  const char *text = R"(
    ir_version: 8
    opset_import { version: 13 }
    graph {
      name: "g"
      node { op_type: "Reshape" input: "x" input: "s" output: "y" }
      input { name: "x" type { tensor_type { elem_type: 1 shape { dim { dim_value: 2 } dim { dim_value: 3 } } } } }
      input { name: "s" type { tensor_type { elem_type: 7 shape { dim { dim_value: 1 } } } } }
      output { name: "y" type { tensor_type { elem_type: 1 } } }
    })";
  OnnxImportOptions opts;
  opts.inputValues["s"] =
      Tensor::fromInts(TensorType(DType::I64, {1}), std::vector<int64_t>{6});
  SourceMgr sm;
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  auto g = importOnnxText(text, "m.onnxtxt", opts, sm, diag);
  ASSERT_TRUE(g.ok()) << os.str();
  EXPECT_EQ(printGraph(**g), "graph @g(%x: f32[2,3]) {\n"
                             "  %y = reshape(%x) {shape = [6]} : f32[6]\n"
                             "  return %y\n"
                             "}\n");
}

/// camelCase and snake_case attribute names map both ways.
TEST(OnnxImporter, GemmAttributesRoundTrip) {
  const char *net = "graph @fc(%x: f32[2,4]) {\n"
                    "  param %w: f32[3,4] = dense [1.0, 2.0, 3.0, 4.0, 5.0, "
                    "6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]\n"
                    "  %y = gemm(%x, %w) {alpha = 0.5, trans_b = 1} : f32[2,3]\n"
                    "  return %y\n"
                    "}\n";
  auto g = parseIR(net);
  auto bytes = exportOnnxBytes(*g);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  std::string errors;
  auto back = import(*bytes, &errors);
  ASSERT_TRUE(back) << errors;
  EXPECT_EQ(printGraph(*back), net);
}
