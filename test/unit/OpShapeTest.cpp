//===- test/unit/OpShapeTest.cpp - shape rules and flops of every op ------===//
//
// Each test builds a one-node graph, runs the op's shape rule through
// computeNodeShape and checks the result type, or the exact error text.
// Expected shapes come from the ONNX formulas worked by hand.
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

using namespace cnnc;

namespace {

using Dims = std::vector<int64_t>;

TensorType f32(Dims d) { return TensorType(DType::F32, std::move(d)); }
TensorType i64(Dims d) { return TensorType(DType::I64, std::move(d)); }

/// A graph with inputs x0, x1, ... of the given types, and one node.
struct OneNode {
  Graph g;
  Node *node = nullptr;

  OneNode(const std::string &op, std::vector<TensorType> inputs,
          AttrMap attrs = {}) {
    std::vector<Value *> operands;
    for (size_t i = 0; i < inputs.size(); ++i)
      operands.push_back(g.addInput("x" + std::to_string(i), inputs[i]));
    node = g.addNode(op, operands, std::move(attrs));
  }

  /// The result type as text ("f32[1,6,28,28]"), or "error: <message>".
  std::string shape() const {
    auto r = computeNodeShape(*node);
    if (!r.ok())
      return "error: " + r.status().message();
    return r->at(0).str();
  }

  /// The error message; "" (and a test failure) if inference succeeds.
  std::string error() const {
    auto r = computeNodeShape(*node);
    EXPECT_FALSE(r.ok()) << "inferred " << r->at(0).str();
    return r.ok() ? "" : r.status().message();
  }

  /// Flops after storing the inferred result types on the node.
  int64_t flops() {
    auto r = computeNodeShape(*node);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok())
      return -1;
    for (size_t i = 0; i < r->size(); ++i)
      node->result(i)->setType(r->at(i));
    return node->def().flopsFn()(*node);
  }
};

//===- The registry
//--------------------------------------------------------===//

TEST(OpRegistryTest, EveryOpIsComplete) {
  // Ops with no ONNX form: the hinge loss, assign, the training ops
  // (gradients, optimizer updates, training-mode forms) and the forms the
  // pack-weights pass makes of a conv.
  const std::set<std::string> internal = {"hinge_loss",     "assign",
                                          "conv_winograd",  "winograd_weights",
                                          "conv_nchwc",     "nchwc_weights"};
  auto isInternal = [&](const std::string &n) {
    auto endsWith = [&](const char *suffix) {
      size_t k = std::strlen(suffix);
      return n.size() > k && n.compare(n.size() - k, k, suffix) == 0;
    };
    return internal.count(n) || n.find("_grad") != std::string::npos ||
           endsWith("_update") || endsWith("_train");
  };
  std::set<std::string> onnxNames;
  for (const OpDef &op : OpRegistry::get().ops()) {
    SCOPED_TRACE(op.name());
    EXPECT_TRUE(op.shapeFn()) << "no shape rule";
    EXPECT_TRUE(op.flopsFn()) << "no flops rule";
    EXPECT_FALSE(op.summaryText().empty());
    // Only assign has no result (the runtime performs it as a copy).
    EXPECT_EQ(op.resultNames().empty(), op.name() == "assign");
    for (char ch : op.name())
      EXPECT_TRUE(std::islower(static_cast<unsigned char>(ch)) || ch == '_')
          << "op name is not snake_case";
    if (isInternal(op.name())) {
      EXPECT_TRUE(op.onnxNames().empty());
    } else {
      EXPECT_FALSE(op.onnxNames().empty()) << "no ONNX mapping";
    }
    for (const auto &o : op.onnxNames()) {
      EXPECT_TRUE(onnxNames.insert(o.first).second)
          << o.first << " maps to two ops";
      EXPECT_EQ(OpRegistry::get().lookupOnnx(o.first), &op);
      EXPECT_GE(o.second, 1);
    }
    for (const AttrSpec &a : op.attrSpecs()) {
      SCOPED_TRACE(a.name);
      if (a.defaultValue) {
        EXPECT_EQ(a.defaultValue->kind(), a.kind)
            << "default " << a.defaultValue->str() << " is a "
            << attrKindName(a.defaultValue->kind());
      }
      for (char ch : a.name)
        EXPECT_TRUE(std::islower(static_cast<unsigned char>(ch)) || ch == '_')
            << "attribute name is not snake_case";
    }
  }
}

TEST(OpRegistryTest, TheCnnOpSetIsThere) {
  for (const char *name : {"add",
                           "avg_pool",
                           "batch_norm",
                           "cast",
                           "clip",
                           "concat",
                           "constant",
                           "conv",
                           "div",
                           "dropout",
                           "exp",
                           "flatten",
                           "gather",
                           "gemm",
                           "global_avg_pool",
                           "global_max_pool",
                           "hinge_loss",
                           "identity",
                           "leaky_relu",
                           "log",
                           "log_softmax",
                           "lrn",
                           "matmul",
                           "max_pool",
                           "mul",
                           "neg",
                           "pad",
                           "reduce_mean",
                           "relu",
                           "reshape",
                           "shape",
                           "sigmoid",
                           "softmax",
                           "softmax_cross_entropy",
                           "sqrt",
                           "squeeze",
                           "sub",
                           "sum",
                           "tanh",
                           "transpose",
                           "unsqueeze"})
    EXPECT_NE(OpRegistry::get().lookup(name), nullptr) << name;
}

TEST(OpRegistryTest, FoldableOpsHaveFolds) {
  for (const char *name :
       {"add",        "sub",      "mul",      "div",     "relu",
        "leaky_relu", "sigmoid",  "tanh",     "exp",     "log",
        "sqrt",       "neg",      "clip",     "softmax", "log_softmax",
        "batch_norm", "dropout",  "reshape",  "flatten", "transpose",
        "concat",     "constant", "identity", "shape",   "gather",
        "unsqueeze",  "squeeze",  "cast",     "sum",     "reduce_mean",
        "pad"}) {
    const OpDef *op = OpRegistry::get().lookup(name);
    ASSERT_NE(op, nullptr) << name;
    EXPECT_TRUE(op->foldFn()) << name;
    EXPECT_TRUE(op->isPure()) << name;
  }
}

TEST(OpRegistryTest, OnnxDefaults) {
  const OpRegistry &r = OpRegistry::get();
  auto dflt = [&](const char *op, const char *attr) {
    const AttrSpec *a = r.lookup(op)->findAttr(attr);
    EXPECT_NE(a, nullptr) << op << "." << attr;
    EXPECT_TRUE(a && a->defaultValue) << op << "." << attr;
    return a && a->defaultValue ? *a->defaultValue : Attribute();
  };
  EXPECT_EQ(dflt("leaky_relu", "alpha").getFloat(), 0.01);
  EXPECT_EQ(dflt("batch_norm", "epsilon").getFloat(), 1e-5);
  EXPECT_EQ(dflt("batch_norm", "momentum").getFloat(), 0.9);
  EXPECT_EQ(dflt("dropout", "ratio").getFloat(), 0.5);
  EXPECT_EQ(dflt("lrn", "alpha").getFloat(), 1e-4);
  EXPECT_EQ(dflt("lrn", "beta").getFloat(), 0.75);
  EXPECT_EQ(dflt("lrn", "bias").getFloat(), 1.0);
  EXPECT_EQ(dflt("gemm", "alpha").getFloat(), 1.0);
  EXPECT_EQ(dflt("gemm", "beta").getFloat(), 1.0);
  EXPECT_EQ(dflt("gemm", "trans_a").getInt(), 0);
  EXPECT_EQ(dflt("gemm", "trans_b").getInt(), 0);
  EXPECT_EQ(dflt("softmax", "axis").getInt(), -1);
  EXPECT_EQ(dflt("log_softmax", "axis").getInt(), -1);
  EXPECT_EQ(dflt("flatten", "axis").getInt(), 1);
  EXPECT_EQ(dflt("gather", "axis").getInt(), 0);
  EXPECT_EQ(dflt("avg_pool", "count_include_pad").getInt(), 0);
  EXPECT_EQ(dflt("max_pool", "ceil_mode").getInt(), 0);
  EXPECT_EQ(dflt("reduce_mean", "keepdims").getInt(), 1);
  EXPECT_EQ(dflt("pad", "mode").getString(), "constant");
  EXPECT_EQ(dflt("pad", "value").getFloat(), 0.0);
  EXPECT_EQ(dflt("hinge_loss", "margin").getFloat(), 1.0);
  EXPECT_EQ(dflt("clip", "min").getFloat(),
            -std::numeric_limits<double>::infinity());
  EXPECT_EQ(dflt("clip", "max").getFloat(),
            std::numeric_limits<double>::infinity());
  // Required attributes have no default.
  std::vector<std::pair<const char *, const char *>> required = {
      {"max_pool", "kernel_shape"},
      {"avg_pool", "kernel_shape"},
      {"concat", "axis"},
      {"lrn", "size"},
      {"reshape", "shape"},
      {"constant", "value"},
      {"cast", "to"},
      {"pad", "pads"},
      {"unsqueeze", "axes"}};
  for (auto [op, attr] : required) {
    const AttrSpec *a = r.lookup(op)->findAttr(attr);
    ASSERT_NE(a, nullptr) << op << "." << attr;
    EXPECT_FALSE(a->defaultValue) << op << "." << attr;
  }
}

//===- The lecture arithmetic (conv and pooling output sizes)
//--------------===//

TEST(LectureArithmeticTest, SixFiveByFiveFiltersOn32x32) {
  OneNode n("conv", {f32({1, 3, 32, 32}), f32({6, 3, 5, 5})});
  EXPECT_EQ(n.shape(), "f32[1,6,28,28]");
}

TEST(LectureArithmeticTest, TenFiltersPad2KeepTheSize) {
  OneNode n("conv", {f32({1, 3, 32, 32}), f32({10, 3, 5, 5})},
            {{"pads", Dims{2, 2, 2, 2}}, {"strides", Dims{1, 1}}});
  EXPECT_EQ(n.shape(), "f32[1,10,32,32]");
}

TEST(LectureArithmeticTest, SevenBySevenThreeByThreeStride1) {
  OneNode n("conv", {f32({1, 1, 7, 7}), f32({1, 1, 3, 3})},
            {{"strides", Dims{1, 1}}});
  EXPECT_EQ(n.shape(), "f32[1,1,5,5]");
}

TEST(LectureArithmeticTest, SevenBySevenThreeByThreeStride2) {
  OneNode n("conv", {f32({1, 1, 7, 7}), f32({1, 1, 3, 3})},
            {{"strides", Dims{2, 2}}});
  EXPECT_EQ(n.shape(), "f32[1,1,3,3]");
}

TEST(LectureArithmeticTest, MaxPool2x2Stride2Halves) {
  OneNode n("max_pool", {f32({1, 64, 224, 224})},
            {{"kernel_shape", Dims{2, 2}}, {"strides", Dims{2, 2}}});
  EXPECT_EQ(n.shape(), "f32[1,64,112,112]");
}

TEST(LectureArithmeticTest, ConvChannelMismatch) {
  OneNode n("conv", {f32({1, 3, 32, 32}), f32({6, 4, 5, 5})});
  EXPECT_EQ(n.error(),
            "conv: input has 3 channels but weight expects 4 (group = 1)");
}

//===- Pooling
//--------------------------------------------------------------===//

TEST(MaxPoolShapeTest, FloorAndCeilMode) {
  // (5 - 2) / 2 + 1 = 2.5: floor 2, ceil 3.
  OneNode floorN("max_pool", {f32({1, 1, 5, 5})},
                 {{"kernel_shape", Dims{2, 2}}, {"strides", Dims{2, 2}}});
  EXPECT_EQ(floorN.shape(), "f32[1,1,2,2]");
  OneNode ceilN("max_pool", {f32({1, 1, 5, 5})},
                {{"kernel_shape", Dims{2, 2}},
                 {"strides", Dims{2, 2}},
                 {"ceil_mode", 1}});
  EXPECT_EQ(ceilN.shape(), "f32[1,1,3,3]");
}

TEST(MaxPoolShapeTest, CeilModeDropsAWindowStartingInTheEndPadding) {
  // Length 3, pads 1 + 1, kernel 2, stride 2: ceil(3 / 2) + 1 = 3 windows
  // starting at -1, 1, 3; the one at 3 starts in the end padding (ONNX
  // MaxPool-22 note, PyTorch), so 2 remain.
  OneNode n("max_pool", {f32({1, 1, 3})},
            {{"kernel_shape", Dims{2}},
             {"strides", Dims{2}},
             {"pads", Dims{1, 1}},
             {"ceil_mode", 1}});
  EXPECT_EQ(n.shape(), "f32[1,1,2]");
}

TEST(MaxPoolShapeTest, PadsAndDilations) {
  // 3x3 window, dilation 2 -> extent 5; (7 + 2 - 5) / 1 + 1 = 5.
  OneNode n("max_pool", {f32({2, 3, 7, 7})},
            {{"kernel_shape", Dims{3, 3}},
             {"dilations", Dims{2, 2}},
             {"pads", Dims{1, 1, 1, 1}}});
  EXPECT_EQ(n.shape(), "f32[2,3,5,5]");
}

TEST(MaxPoolShapeTest, UnknownDimsPropagate) {
  OneNode n("max_pool", {f32({-1, 3, -1, 32})},
            {{"kernel_shape", Dims{2, 2}}, {"strides", Dims{2, 2}}});
  EXPECT_EQ(n.shape(), "f32[?,3,?,16]");
}

TEST(MaxPoolShapeTest, Errors) {
  EXPECT_EQ(
      OneNode("max_pool", {f32({1, 3})}, {{"kernel_shape", Dims{2}}}).error(),
      "max_pool: input must have rank 3 or more (N, C, spatial...), "
      "got f32[1,3]");
  EXPECT_EQ(OneNode("max_pool", {f32({1, 3, 8, 8})},
                    {{"kernel_shape", Dims{2, 2, 2}}})
                .error(),
            "max_pool: kernel_shape has 3 entries but the input has 2 spatial "
            "dimensions");
  EXPECT_EQ(
      OneNode("max_pool", {f32({1, 3, 4, 4})}, {{"kernel_shape", Dims{5, 5}}})
          .error(),
      "max_pool: kernel extent 5 is larger than the padded input 4 in "
      "spatial dimension 0");
  EXPECT_EQ(OneNode("max_pool", {f32({1, 3, 8, 8})},
                    {{"kernel_shape", Dims{2, 2}}, {"pads", Dims{2, 0, 0, 0}}})
                .error(),
            "max_pool: pads [2, 0, 0, 0] must be smaller than kernel_shape "
            "[2, 2]");
  EXPECT_EQ(
      OneNode("max_pool", {i64({1, 1, 4, 4})}, {{"kernel_shape", Dims{2, 2}}})
          .error(),
      "max_pool: x must be a float tensor, got i64[1,1,4,4]");
}

TEST(AvgPoolShapeTest, SamePadding) {
  OneNode n("avg_pool", {f32({1, 3, 32, 32})},
            {{"kernel_shape", Dims{3, 3}}, {"pads", Dims{1, 1, 1, 1}}});
  EXPECT_EQ(n.shape(), "f32[1,3,32,32]");
}

TEST(AvgPoolShapeTest, Errors) {
  EXPECT_EQ(OneNode("avg_pool", {f32({1, 3, 8, 8})},
                    {{"kernel_shape", Dims{2, 2}}, {"strides", Dims{0, 1}}})
                .error(),
            "avg_pool: strides must be positive, got [0, 1]");
  EXPECT_EQ(OneNode("avg_pool", {f32({1, 3, 8, 8})},
                    {{"kernel_shape", Dims{2, 2}}, {"pads", Dims{1, 1}}})
                .error(),
            "avg_pool: pads has 2 entries but the input has 2 spatial "
            "dimensions (need 4)");
}

TEST(GlobalPoolShapeTest, KeepsSpatialAxesAsOne) {
  EXPECT_EQ(OneNode("global_avg_pool", {f32({2, 512, 7, 7})}).shape(),
            "f32[2,512,1,1]");
  EXPECT_EQ(OneNode("global_max_pool", {f32({-1, 64, 5, 5, 5})}).shape(),
            "f32[?,64,1,1,1]");
  EXPECT_EQ(OneNode("global_avg_pool", {f32({2, 512})}).error(),
            "global_avg_pool: input must have rank 3 or more (N, C, "
            "spatial...), got f32[2,512]");
  EXPECT_EQ(OneNode("global_max_pool", {i64({1, 2, 3, 3})}).error(),
            "global_max_pool: x must be a float tensor, got i64[1,2,3,3]");
}

//===- Dense layers
//--------------------------------------------------------===//

TEST(GemmShapeTest, Transposes) {
  EXPECT_EQ(OneNode("gemm", {f32({4, 3}), f32({3, 5})}).shape(), "f32[4,5]");
  EXPECT_EQ(OneNode("gemm", {f32({3, 4}), f32({5, 3})},
                    {{"trans_a", 1}, {"trans_b", 1}})
                .shape(),
            "f32[4,5]");
}

TEST(GemmShapeTest, BiasBroadcastsToMN) {
  for (Dims c : {Dims{5}, Dims{1, 5}, Dims{4, 1}, Dims{4, 5}, Dims{}})
    EXPECT_EQ(OneNode("gemm", {f32({4, 3}), f32({3, 5}), f32(c)}).shape(),
              "f32[4,5]");
}

TEST(GemmShapeTest, Errors) {
  EXPECT_EQ(OneNode("gemm", {f32({4, 3}), f32({4, 5})}).error(),
            "gemm: inner dimensions differ: a f32[4,3] gives K = 3, b "
            "f32[4,5] gives K = 4 (trans_a = 0, trans_b = 0)");
  EXPECT_EQ(OneNode("gemm", {f32({4, 3}), f32({3, 5}), f32({3})}).error(),
            "gemm: c f32[3] does not broadcast to [M, N] = [4, 5]");
  EXPECT_EQ(OneNode("gemm", {f32({1, 4, 3}), f32({3, 5})}).error(),
            "gemm: a must be a matrix, got f32[1,4,3]");
  EXPECT_EQ(OneNode("gemm", {f32({4, 3}), i64({3, 5})}).error(),
            "gemm: b type i64[3,5] differs from a type f32[4,3]");
}

TEST(MatMulShapeTest, NumpySemantics) {
  EXPECT_EQ(OneNode("matmul", {f32({2, 3}), f32({3, 4})}).shape(), "f32[2,4]");
  EXPECT_EQ(OneNode("matmul", {f32({3}), f32({3})}).shape(), "f32[]");
  EXPECT_EQ(OneNode("matmul", {f32({3}), f32({3, 4})}).shape(), "f32[4]");
  EXPECT_EQ(OneNode("matmul", {f32({2, 3, 4}), f32({4})}).shape(), "f32[2,3]");
  EXPECT_EQ(OneNode("matmul", {f32({5, 1, 2, 3}), f32({4, 3, 6})}).shape(),
            "f32[5,4,2,6]");
  EXPECT_EQ(OneNode("matmul", {f32({-1, 2, 3}), f32({3, -1})}).shape(),
            "f32[?,2,?]");
}

TEST(MatMulShapeTest, Errors) {
  EXPECT_EQ(OneNode("matmul", {f32({2, 3}), f32({4, 5})}).error(),
            "matmul: inner dimensions differ: a f32[2,3] has K = 3, b "
            "f32[4,5] has K = 4");
  EXPECT_EQ(OneNode("matmul", {f32({2, 2, 3}), f32({3, 3, 4})}).error(),
            "matmul: batch dimensions: shapes [2] and [3] do not broadcast "
            "(dimension 0: 2 vs 3)");
  EXPECT_EQ(OneNode("matmul", {f32({}), f32({3})}).error(),
            "matmul: operands must have rank 1 or more, got f32[] and f32[3]");
}

//===- Elementwise
//----------------------------------------------------------===//

TEST(BinaryShapeTest, Broadcasting) {
  for (const char *op : {"sub", "mul", "div"}) {
    SCOPED_TRACE(op);
    EXPECT_EQ(OneNode(op, {f32({2, 3, 4}), f32({4})}).shape(), "f32[2,3,4]");
    EXPECT_EQ(OneNode(op, {f32({2, 1}), f32({1, 3})}).shape(), "f32[2,3]");
    EXPECT_EQ(OneNode(op, {f32({-1, 3}), f32({3})}).shape(), "f32[?,3]");
  }
}

TEST(BinaryShapeTest, Errors) {
  EXPECT_EQ(
      OneNode("sub", {f32({2, 3}), f32({4})}).error(),
      "sub: shapes [2, 3] and [4] do not broadcast (dimension 1: 3 vs 4)");
  EXPECT_EQ(OneNode("mul", {f32({2}), i64({2})}).error(),
            "mul: operand types differ: f32[2] and i64[2]");
  EXPECT_EQ(OneNode("div", {f32({5, 2}), f32({5, 3})}).error(),
            "div: shapes [5, 2] and [5, 3] do not broadcast (dimension 1: 2 "
            "vs 3)");
}

TEST(SumShapeTest, Variadic) {
  EXPECT_EQ(OneNode("sum", {f32({2, 3})}).shape(), "f32[2,3]");
  EXPECT_EQ(OneNode("sum", {f32({2, 1}), f32({3}), f32({1, 1})}).shape(),
            "f32[2,3]");
  EXPECT_EQ(OneNode("sum", {f32({2}), f32({2}), i64({2})}).error(),
            "sum: operand types differ: f32[2] and i64[2]");
}

TEST(UnaryShapeTest, FloatActivations) {
  for (const char *op :
       {"sigmoid", "tanh", "exp", "log", "sqrt", "leaky_relu"}) {
    SCOPED_TRACE(op);
    EXPECT_EQ(OneNode(op, {f32({1, -1, 4})}).shape(), "f32[1,?,4]");
    EXPECT_EQ(OneNode(op, {TensorType(DType::F64, {2})}).shape(), "f64[2]");
    EXPECT_EQ(OneNode(op, {i64({3})}).error(),
              std::string(op) + ": x must be a float tensor, got i64[3]");
  }
}

TEST(UnaryShapeTest, NegAndClipTakeIntegers) {
  EXPECT_EQ(OneNode("neg", {i64({3})}).shape(), "i64[3]");
  EXPECT_EQ(OneNode("neg", {TensorType(DType::Bool, {3})}).error(),
            "neg: x must be a numeric tensor, got bool[3]");
  EXPECT_EQ(OneNode("clip", {i64({3})}, {{"min", 0.0}}).shape(), "i64[3]");
  EXPECT_EQ(OneNode("clip", {f32({3})}, {{"min", 0.0}, {"max", 6.0}}).shape(),
            "f32[3]");
  EXPECT_EQ(OneNode("clip", {f32({3})}, {{"min", std::nan("")}}).error(),
            "clip: min and max must not be nan");
  EXPECT_EQ(OneNode("clip", {TensorType(DType::Bool, {3})}).error(),
            "clip: x must be a numeric tensor, got bool[3]");
}

TEST(UnaryShapeTest, IdentityAndDropout) {
  EXPECT_EQ(OneNode("identity", {i64({2, -1})}).shape(), "i64[2,?]");
  EXPECT_EQ(OneNode("dropout", {f32({8, 100})}, {{"ratio", 0.3}}).shape(),
            "f32[8,100]");
  EXPECT_EQ(OneNode("dropout", {f32({8})}, {{"ratio", 1.0}}).error(),
            "dropout: ratio 1.0 is outside [0, 1)");
  EXPECT_EQ(OneNode("dropout", {i64({8})}).error(),
            "dropout: x must be a float tensor, got i64[8]");
}

TEST(SoftmaxShapeTest, AxisAndErrors) {
  for (const char *op : {"softmax", "log_softmax"}) {
    SCOPED_TRACE(op);
    EXPECT_EQ(OneNode(op, {f32({8, 10})}).shape(), "f32[8,10]");
    EXPECT_EQ(OneNode(op, {f32({2, 3, 4})}, {{"axis", -3}}).shape(),
              "f32[2,3,4]");
    EXPECT_EQ(OneNode(op, {f32({8, 10})}, {{"axis", 2}}).error(),
              std::string(op) + ": axis 2 is out of range for rank 2");
    EXPECT_EQ(OneNode(op, {i64({8, 10})}).error(),
              std::string(op) + ": x must be a float tensor, got i64[8,10]");
  }
}

//===- Normalization
//--------------------------------------------------------===//

TEST(BatchNormShapeTest, PerChannelVectors) {
  OneNode n("batch_norm",
            {f32({2, 3, 4, 4}), f32({3}), f32({3}), f32({3}), f32({3})});
  EXPECT_EQ(n.shape(), "f32[2,3,4,4]");
  OneNode dyn("batch_norm",
              {f32({-1, 3}), f32({3}), f32({3}), f32({3}), f32({-1})});
  EXPECT_EQ(dyn.shape(), "f32[?,3]");
}

TEST(BatchNormShapeTest, Errors) {
  EXPECT_EQ(OneNode("batch_norm",
                    {f32({2, 3, 4, 4}), f32({3}), f32({3}), f32({4}), f32({3})})
                .error(),
            "batch_norm: mean has 4 elements but the input has 3 channels");
  EXPECT_EQ(OneNode("batch_norm", {f32({2, 3, 4, 4}), f32({3, 1}), f32({3}),
                                   f32({3}), f32({3})})
                .error(),
            "batch_norm: scale must be a vector, got f32[3,1]");
  EXPECT_EQ(OneNode("batch_norm",
                    {f32({2, 3, 4, 4}), f32({3}), f32({3}), f32({3}), i64({3})})
                .error(),
            "batch_norm: var type i64[3] differs from input type "
            "f32[2,3,4,4]");
  EXPECT_EQ(
      OneNode("batch_norm", {f32({6}), f32({6}), f32({6}), f32({6}), f32({6})})
          .error(),
      "batch_norm: input must have rank 2 or more (N, C, ...), got "
      "f32[6]");
}

TEST(LrnShapeTest, SameShape) {
  EXPECT_EQ(OneNode("lrn", {f32({1, 96, 55, 55})}, {{"size", 5}}).shape(),
            "f32[1,96,55,55]");
  EXPECT_EQ(OneNode("lrn", {f32({1, 96, 55, 55})}, {{"size", 0}}).error(),
            "lrn: size must be positive, got 0");
  EXPECT_EQ(OneNode("lrn", {f32({1, 96})}, {{"size", 5}}).error(),
            "lrn: input must have rank 3 or more (N, C, spatial...), got "
            "f32[1,96]");
}

//===- Data movement
//--------------------------------------------------------===//

TEST(FlattenShapeTest, Axes) {
  EXPECT_EQ(OneNode("flatten", {f32({2, 3, 4, 5})}).shape(), "f32[2,60]");
  EXPECT_EQ(OneNode("flatten", {f32({2, 3, 4, 5})}, {{"axis", 0}}).shape(),
            "f32[1,120]");
  EXPECT_EQ(OneNode("flatten", {f32({2, 3, 4, 5})}, {{"axis", -1}}).shape(),
            "f32[24,5]");
  EXPECT_EQ(OneNode("flatten", {f32({2, 3, 4, 5})}, {{"axis", 4}}).shape(),
            "f32[120,1]");
  EXPECT_EQ(OneNode("flatten", {f32({-1, 3, 4})}).shape(), "f32[?,12]");
  EXPECT_EQ(OneNode("flatten", {f32({2, 3})}, {{"axis", 3}}).error(),
            "flatten: axis 3 is out of range for rank 2");
}

TEST(ReshapeShapeTest, ZeroAndMinusOne) {
  auto reshape = [](TensorType x, Dims shape) {
    return OneNode("reshape", {x}, {{"shape", shape}}).shape();
  };
  EXPECT_EQ(reshape(f32({2, 3, 4}), {0, -1}), "f32[2,12]");
  EXPECT_EQ(reshape(f32({2, 3, 4}), {6, 4}), "f32[6,4]");
  EXPECT_EQ(reshape(f32({2, 3, 4}), {-1}), "f32[24]");
  EXPECT_EQ(reshape(f32({2, 3, 4}), {2, -1, 2}), "f32[2,6,2]");
  EXPECT_EQ(reshape(f32({1, 16, 5, 5}), {1, 400}), "f32[1,400]");
  EXPECT_EQ(reshape(f32({-1, 3, 4}), {0, 12}), "f32[?,12]");
  EXPECT_EQ(reshape(f32({-1, 3, 4}), {-1, 12}), "f32[?,12]");
  EXPECT_EQ(reshape(f32({}), {1, 1}), "f32[1,1]");
}

TEST(ReshapeShapeTest, Errors) {
  auto reshape = [](TensorType x, Dims shape) {
    return OneNode("reshape", {x}, {{"shape", shape}}).error();
  };
  EXPECT_EQ(reshape(f32({2, 3, 4}), {5, 5}),
            "reshape: cannot reshape f32[2,3,4] (24 elements) to [5, 5] (25 "
            "elements)");
  EXPECT_EQ(reshape(f32({2, 3, 4}), {5, -1}),
            "reshape: cannot reshape f32[2,3,4] (24 elements) to [5, -1]");
  EXPECT_EQ(reshape(f32({2, 3, 4}), {-1, -1}),
            "reshape: shape [-1, -1] has more than one -1");
  EXPECT_EQ(reshape(f32({24}), {0, 0}),
            "reshape: shape [0, 0] copies dimension 1 (0) of the rank-1 "
            "input");
  EXPECT_EQ(reshape(f32({24}), {-2, 12}),
            "reshape: shape [-2, 12] has a negative entry -2");
}

TEST(TransposeShapeTest, Perm) {
  EXPECT_EQ(OneNode("transpose", {f32({2, 3, 4})}).shape(), "f32[4,3,2]");
  EXPECT_EQ(
      OneNode("transpose", {f32({2, 3, 4})}, {{"perm", Dims{0, 2, 1}}}).shape(),
      "f32[2,4,3]");
  EXPECT_EQ(
      OneNode("transpose", {f32({2, 3, 4})}, {{"perm", Dims{0, 0, 1}}}).error(),
      "transpose: perm [0, 0, 1] is not a permutation of the 3 axes of "
      "f32[2,3,4]");
  EXPECT_EQ(
      OneNode("transpose", {f32({2, 3})}, {{"perm", Dims{0, 1, 2}}}).error(),
      "transpose: perm [0, 1, 2] is not a permutation of the 2 axes of "
      "f32[2,3]");
}

TEST(ConcatShapeTest, Axis) {
  EXPECT_EQ(OneNode("concat", {f32({1, 2, 4}), f32({1, 3, 4})}, {{"axis", 1}})
                .shape(),
            "f32[1,5,4]");
  EXPECT_EQ(OneNode("concat", {f32({1, 2, 4}), f32({1, 2, 1}), f32({1, 2, 3})},
                    {{"axis", -1}})
                .shape(),
            "f32[1,2,8]");
  EXPECT_EQ(
      OneNode("concat", {f32({-1, 2}), f32({3, 2})}, {{"axis", 1}}).shape(),
      "f32[3,4]");
  EXPECT_EQ(
      OneNode("concat", {f32({-1, 2}), f32({3, 2})}, {{"axis", 0}}).shape(),
      "f32[?,2]");
}

TEST(ConcatShapeTest, Errors) {
  EXPECT_EQ(OneNode("concat", {f32({1, 2, 4}), f32({1, 3, 5})}, {{"axis", 1}})
                .error(),
            "concat: xs[1] f32[1,3,5] has 5 in dimension 2 but the inputs "
            "before it have 4 (concatenating along axis 1)");
  EXPECT_EQ(
      OneNode("concat", {f32({1, 2}), i64({1, 2})}, {{"axis", 0}}).error(),
      "concat: xs[1] type i64[1,2] differs in dtype or rank from xs[0] type "
      "f32[1,2]");
  EXPECT_EQ(
      OneNode("concat", {f32({1, 2}), f32({1, 2})}, {{"axis", 2}}).error(),
      "concat: axis 2 is out of range for rank 2");
}

TEST(PadShapeTest, PadsAndCrops) {
  EXPECT_EQ(OneNode("pad", {f32({1, 3, 4, 4})},
                    {{"pads", Dims{0, 0, 1, 1, 0, 0, 1, 1}}})
                .shape(),
            "f32[1,3,6,6]");
  EXPECT_EQ(
      OneNode("pad", {f32({5, -1})}, {{"pads", Dims{-1, 2, -2, 0}}}).shape(),
      "f32[2,?]");
  EXPECT_EQ(
      OneNode("pad", {f32({3})}, {{"pads", Dims{2, 2}}, {"mode", "reflect"}})
          .shape(),
      "f32[7]");
}

TEST(PadShapeTest, Errors) {
  EXPECT_EQ(
      OneNode("pad", {f32({1, 3, 4, 4})}, {{"pads", Dims{1, 1, 1, 1}}}).error(),
      "pad: pads has 4 entries but the input f32[1,3,4,4] needs 8 "
      "(begins, then ends)");
  EXPECT_EQ(
      OneNode("pad", {f32({3})}, {{"pads", Dims{1, 1}}, {"mode", "wrap"}})
          .error(),
      "pad: mode \"wrap\" is not one of \"constant\", \"reflect\", \"edge\"");
  EXPECT_EQ(
      OneNode("pad", {f32({3})}, {{"pads", Dims{3, 0}}, {"mode", "reflect"}})
          .error(),
      "pad: reflect pads [3, 0] must be smaller than dimension 0 of size 3");
  EXPECT_EQ(OneNode("pad", {f32({3})}, {{"pads", Dims{-2, -2}}}).error(),
            "pad: pads [-2, -2] remove more than the 3 elements of dimension "
            "0");
}

TEST(ConstantShapeTest, TypeOfTheValue) {
  Tensor v = Tensor::fromInts(i64({2, 2}), {1, 2, 3, 4});
  EXPECT_EQ(OneNode("constant", {}, {{"value", v}}).shape(), "i64[2,2]");
  EXPECT_EQ(OneNode("constant", {}, {{"value", Tensor()}}).error(),
            "constant: value holds no data");
}

TEST(ShapeOpShapeTest, RankVector) {
  EXPECT_EQ(OneNode("shape", {f32({2, 3, -1})}).shape(), "i64[3]");
  EXPECT_EQ(OneNode("shape", {f32({})}).shape(), "i64[0]");
}

TEST(GatherShapeTest, TakeSemantics) {
  EXPECT_EQ(OneNode("gather", {f32({5, 4}), i64({2, 3})}).shape(),
            "f32[2,3,4]");
  EXPECT_EQ(
      OneNode("gather", {f32({5, 4}), i64({2, 3})}, {{"axis", 1}}).shape(),
      "f32[5,2,3]");
  EXPECT_EQ(OneNode("gather", {i64({4}), i64({})}).shape(), "i64[]");
  EXPECT_EQ(OneNode("gather", {f32({5, 4}), TensorType(DType::I32, {2})},
                    {{"axis", -1}})
                .shape(),
            "f32[5,2]");
  EXPECT_EQ(OneNode("gather", {f32({5, 4}), f32({2})}).error(),
            "gather: indices must be i64 or i32, got f32[2]");
  EXPECT_EQ(OneNode("gather", {f32({5, 4}), i64({2})}, {{"axis", 2}}).error(),
            "gather: axis 2 is out of range for rank 2");
}

TEST(UnsqueezeShapeTest, Axes) {
  EXPECT_EQ(OneNode("unsqueeze", {f32({3, 4})}, {{"axes", Dims{0}}}).shape(),
            "f32[1,3,4]");
  EXPECT_EQ(
      OneNode("unsqueeze", {f32({3, 4})}, {{"axes", Dims{1, -1}}}).shape(),
      "f32[3,1,4,1]");
  EXPECT_EQ(OneNode("unsqueeze", {f32({})}, {{"axes", Dims{0}}}).shape(),
            "f32[1]");
  EXPECT_EQ(OneNode("unsqueeze", {f32({3, 4})}, {{"axes", Dims{1, 1}}}).error(),
            "unsqueeze: axes [1, 1] name axis 1 twice");
  EXPECT_EQ(OneNode("unsqueeze", {f32({3, 4})}, {{"axes", Dims{3}}}).error(),
            "unsqueeze: axes [3]: axis 3 is out of range for rank 3");
}

TEST(SqueezeShapeTest, Axes) {
  EXPECT_EQ(OneNode("squeeze", {f32({1, 3, 1, 4})}).shape(), "f32[3,4]");
  EXPECT_EQ(
      OneNode("squeeze", {f32({1, 3, 1, 4})}, {{"axes", Dims{-2}}}).shape(),
      "f32[1,3,4]");
  EXPECT_EQ(OneNode("squeeze", {f32({-1, 3})}, {{"axes", Dims{0}}}).shape(),
            "f32[3]");
  EXPECT_EQ(
      OneNode("squeeze", {f32({1, 3, 1, 4})}, {{"axes", Dims{1}}}).error(),
      "squeeze: cannot squeeze axis 1 of f32[1,3,1,4]: its size is 3, "
      "not 1");
  EXPECT_EQ(OneNode("squeeze", {f32({1, -1})}).error(),
            "squeeze: cannot tell whether to squeeze axis 1 of f32[1,?] "
            "without axes");
}

TEST(CastShapeTest, To) {
  EXPECT_EQ(OneNode("cast", {f32({2, 3})}, {{"to", "i64"}}).shape(),
            "i64[2,3]");
  EXPECT_EQ(OneNode("cast", {i64({})}, {{"to", "bool"}}).shape(), "bool[]");
  EXPECT_EQ(OneNode("cast", {f32({2})}, {{"to", "f16"}}).error(),
            "cast: to \"f16\" is not a dtype (f32, f64, i64, i32, bool)");
}

TEST(ReduceMeanShapeTest, AxesAndKeepdims) {
  EXPECT_EQ(
      OneNode("reduce_mean", {f32({2, 3, 4})}, {{"axes", Dims{1}}}).shape(),
      "f32[2,1,4]");
  EXPECT_EQ(OneNode("reduce_mean", {f32({2, 3, 4})},
                    {{"axes", Dims{-1, 0}}, {"keepdims", 0}})
                .shape(),
            "f32[3]");
  EXPECT_EQ(OneNode("reduce_mean", {f32({2, 3, 4})}).shape(), "f32[1,1,1]");
  EXPECT_EQ(OneNode("reduce_mean", {f32({2, 3, 4})}, {{"keepdims", 0}}).shape(),
            "f32[]");
  EXPECT_EQ(
      OneNode("reduce_mean", {f32({2, 3, 4})}, {{"axes", Dims{3}}}).error(),
      "reduce_mean: axes [3]: axis 3 is out of range for rank 3");
  EXPECT_EQ(
      OneNode("reduce_mean", {f32({2, 3, 4})}, {{"axes", Dims{1, -2}}}).error(),
      "reduce_mean: axes [1, -2] name axis 1 twice");
}

//===- Losses
//---------------------------------------------------------------===//

TEST(LossShapeTest, ScalarMeanLoss) {
  for (const char *op : {"softmax_cross_entropy", "hinge_loss"}) {
    SCOPED_TRACE(op);
    std::string p = std::string(op) + ": ";
    EXPECT_EQ(OneNode(op, {f32({8, 10}), i64({8})}).shape(), "f32[]");
    EXPECT_EQ(OneNode(op, {f32({-1, 10}), i64({-1})}).shape(), "f32[]");
    EXPECT_EQ(OneNode(op, {f32({8, 10}), i64({4})}).error(),
              p + "labels have 4 entries but logits f32[8,10] have 8 rows");
    EXPECT_EQ(OneNode(op, {f32({8, 10}), f32({8})}).error(),
              p + "labels must be an i64 vector [N], got f32[8]");
    EXPECT_EQ(OneNode(op, {f32({8, 10, 1}), i64({8})}).error(),
              p + "logits must be [N, C], got f32[8,10,1]");
    EXPECT_EQ(OneNode(op, {i64({8, 10}), i64({8})}).error(),
              p + "logits must be a float tensor, got i64[8,10]");
  }
}

//===- Flops
//-----------------------------------------------------------------===//

TEST(OpFlopsTest, DenseLayers) {
  // 2 * M * N * K plus M * N bias adds.
  EXPECT_EQ(OneNode("gemm", {f32({2, 3}), f32({3, 4}), f32({4})}).flops(),
            2 * 2 * 4 * 3 + 2 * 4);
  EXPECT_EQ(OneNode("gemm", {f32({3, 2}), f32({4, 3})},
                    {{"trans_a", 1}, {"trans_b", 1}})
                .flops(),
            2 * 2 * 4 * 3);
  EXPECT_EQ(OneNode("matmul", {f32({5, 2, 3}), f32({3, 4})}).flops(),
            2 * 5 * 2 * 4 * 3);
  // The lecture conv: 6 * 28 * 28 outputs, each 3 * 5 * 5 multiply-adds.
  EXPECT_EQ(OneNode("conv", {f32({1, 3, 32, 32}), f32({6, 3, 5, 5})}).flops(),
            2 * 6 * 28 * 28 * 75);
}

TEST(OpFlopsTest, PoolingAndElementwise) {
  EXPECT_EQ(OneNode("max_pool", {f32({1, 2, 4, 4})},
                    {{"kernel_shape", Dims{2, 2}}, {"strides", Dims{2, 2}}})
                .flops(),
            2 * 2 * 2 * 4);
  EXPECT_EQ(OneNode("global_avg_pool", {f32({1, 2, 4, 4})}).flops(), 32);
  EXPECT_EQ(OneNode("sigmoid", {f32({2, 5})}).flops(), 10);
  EXPECT_EQ(OneNode("sub", {f32({2, 5}), f32({5})}).flops(), 10);
  EXPECT_EQ(OneNode("sum", {f32({4}), f32({4}), f32({4})}).flops(), 8);
  EXPECT_EQ(OneNode("softmax_cross_entropy", {f32({8, 10}), i64({8})}).flops(),
            4 * 8 * 10);
  EXPECT_EQ(OneNode("reduce_mean", {f32({2, 3})}, {{"axes", Dims{1}}}).flops(),
            6 + 2);
}

TEST(OpFlopsTest, DataMovementIsFree) {
  EXPECT_EQ(OneNode("reshape", {f32({2, 3})}, {{"shape", Dims{6}}}).flops(), 0);
  EXPECT_EQ(OneNode("transpose", {f32({2, 3})}).flops(), 0);
  EXPECT_EQ(OneNode("flatten", {f32({2, 3, 4})}).flops(), 0);
  EXPECT_EQ(OneNode("concat", {f32({2}), f32({3})}, {{"axis", 0}}).flops(), 0);
  EXPECT_EQ(OneNode("dropout", {f32({2, 3})}).flops(), 0);
  EXPECT_EQ(OneNode("identity", {f32({2, 3})}).flops(), 0);
}

TEST(OpFlopsTest, UnknownShapesGiveZero) {
  EXPECT_EQ(OneNode("gemm", {f32({-1, 3}), f32({3, 4})}).flops(), 0);
  EXPECT_EQ(OneNode("relu", {f32({-1, 3})}).flops(), 0);
}

} // namespace
