//===- test/unit/OpFoldTest.cpp - constant folding of every foldable op ---===//
//
// Each test folds one node on host tensors and compares with values worked
// out by hand or with numpy (written here, never taken from our output).
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace cnnc;

namespace {

using Dims = std::vector<int64_t>;

TensorType f32(Dims d) { return TensorType(DType::F32, std::move(d)); }
TensorType i64(Dims d) { return TensorType(DType::I64, std::move(d)); }
Tensor f32t(Dims d, std::vector<double> v) {
  return Tensor::fromDoubles(f32(std::move(d)), v);
}
Tensor i64t(Dims d, std::vector<int64_t> v) {
  return Tensor::fromInts(i64(std::move(d)), v);
}

/// Folds a node of \p op over constant \p inputs: runs shape inference,
/// stores the result types, then the fold. Result 0, or an empty tensor
/// with \p error set.
struct Folded {
  Tensor y;
  std::string error;
};

Folded fold(const std::string &op, std::vector<Tensor> inputs,
            AttrMap attrs = {}) {
  Graph g;
  std::vector<Value *> operands;
  for (size_t i = 0; i < inputs.size(); ++i)
    operands.push_back(g.addInput("x" + std::to_string(i), inputs[i].type()));
  Node *n = g.addNode(op, operands, std::move(attrs));
  auto types = computeNodeShape(*n);
  if (!types.ok())
    return {Tensor(), "shape: " + types.status().message()};
  for (size_t i = 0; i < types->size(); ++i)
    n->result(i)->setType(types->at(i));
  const FoldFn &fn = n->def().foldFn();
  if (!fn)
    return {Tensor(), "no fold"};
  FoldCtx c(*n, std::move(inputs));
  Status s = fn(c);
  if (!s.ok())
    return {Tensor(), s.message()};
  return {c.outputs().at(0), ""};
}

/// Expects \p op to fold to a tensor of type \p type (text form) and values
/// \p want, each within \p tol.
void expectFold(const Folded &f, const std::string &type,
                const std::vector<double> &want, double tol = 1e-6) {
  ASSERT_EQ(f.error, "");
  ASSERT_FALSE(f.y.empty());
  EXPECT_EQ(f.y.type().str(), type);
  ASSERT_EQ(f.y.numElements(), int64_t(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(f.y.getDouble(int64_t(i)), want[i], tol) << "element " << i;
}

/// Exact integer comparison, for i64 results.
void expectInts(const Folded &f, const std::string &type,
                const std::vector<int64_t> &want) {
  ASSERT_EQ(f.error, "");
  ASSERT_FALSE(f.y.empty());
  EXPECT_EQ(f.y.type().str(), type);
  EXPECT_EQ(f.y.toInts(), want);
}

//===- Arithmetic
//-----------------------------------------------------------===//

TEST(OpFoldTest, SubBroadcasts) {
  expectFold(fold("sub", {f32t({2, 1}, {10, 20}), f32t({1, 3}, {1, 2, 3})}),
             "f32[2,3]", {9, 8, 7, 19, 18, 17});
  expectFold(fold("sub", {f32t({3}, {1, 2, 3}), f32t({}, {1})}), "f32[3]",
             {0, 1, 2});
}

TEST(OpFoldTest, MulBroadcasts) {
  expectFold(fold("mul", {f32t({2, 2}, {1, 2, 3, 4}), f32t({2}, {10, -1})}),
             "f32[2,2]", {10, -2, 30, -4});
}

TEST(OpFoldTest, DivFloatAndInteger) {
  expectFold(fold("div", {f32t({3}, {1, 2, 3}), f32t({1}, {2})}), "f32[3]",
             {0.5, 1.0, 1.5});
  // Integer division truncates toward zero, as C and ONNX Runtime.
  expectInts(fold("div", {i64t({2}, {7, -7}), i64t({}, {2})}), "i64[2]",
             {3, -3});
  EXPECT_EQ(fold("div", {i64t({2}, {1, 2}), i64t({2}, {1, 0})}).error,
            "integer division by zero");
}

TEST(OpFoldTest, SumOfThreeBroadcasts) {
  expectFold(
      fold("sum", {f32t({2}, {1, 2}), f32t({2}, {10, 20}), f32t({1}, {100})}),
      "f32[2]", {111, 122});
  expectFold(fold("sum", {f32t({2}, {1.5, -1})}), "f32[2]", {1.5, -1});
}

//===- Activations
//----------------------------------------------------------===//

TEST(OpFoldTest, Activations) {
  expectFold(fold("leaky_relu", {f32t({3}, {-2, 0, 3})}, {{"alpha", 0.1}}),
             "f32[3]", {-0.2, 0, 3});
  expectFold(fold("leaky_relu", {f32t({2}, {-100, 5})}), "f32[2]", {-1, 5});
  // sigmoid(ln 3) = 1 / (1 + 1/3) = 0.75.
  expectFold(fold("sigmoid", {f32t({2}, {0, std::log(3.0)})}), "f32[2]",
             {0.5, 0.75});
  // tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6.
  expectFold(fold("tanh", {f32t({2}, {0, std::log(2.0)})}), "f32[2]", {0, 0.6});
  expectFold(fold("exp", {f32t({2}, {0, 1})}), "f32[2]", {1, 2.718281828});
  expectFold(fold("log", {f32t({2}, {1, 2.718281828459045})}), "f32[2]",
             {0, 1});
  expectFold(fold("sqrt", {f32t({2}, {4, 2.25})}), "f32[2]", {2, 1.5});
  expectInts(fold("neg", {i64t({2}, {3, -4})}), "i64[2]", {-3, 4});
  expectFold(fold("relu", {f32t({2}, {-1, 2})}), "f32[2]", {0, 2});
}

TEST(OpFoldTest, Clip) {
  expectFold(
      fold("clip", {f32t({3}, {-1, 3, 7})}, {{"min", 0.0}, {"max", 6.0}}),
      "f32[3]", {0, 3, 6});
  // Default bounds are -inf and +inf: nothing changes.
  expectFold(fold("clip", {f32t({2}, {-1e30, 1e30})}), "f32[2]", {-1e30, 1e30},
             1e24);
  expectInts(fold("clip", {i64t({3}, {-5, 0, 5})}, {{"min", -1.0}}), "i64[3]",
             {-1, 0, 5});
  // min > max: everything becomes max (ONNX Clip, numpy.clip).
  expectFold(fold("clip", {f32t({2}, {0, 10})}, {{"min", 5.0}, {"max", 1.0}}),
             "f32[2]", {1, 1});
}

TEST(OpFoldTest, Softmax) {
  // numpy: e = np.exp([1., 2, 3]); e / e.sum()
  expectFold(fold("softmax", {f32t({3}, {1, 2, 3})}), "f32[3]",
             {0.09003057, 0.24472847, 0.66524096});
  // Along axis 0 of [[0, 0], [ln 3, 0]]: columns [1, 3] / 4 and [1, 1] / 2.
  expectFold(
      fold("softmax", {f32t({2, 2}, {0, 0, std::log(3.0), 0})}, {{"axis", 0}}),
      "f32[2,2]", {0.25, 0.5, 0.75, 0.5});
  // Large logits do not overflow (the maximum is subtracted).
  expectFold(fold("softmax", {f32t({2}, {1000, 1000})}), "f32[2]", {0.5, 0.5});
}

TEST(OpFoldTest, LogSoftmax) {
  // log(softmax([0, ln 3])) = log([0.25, 0.75]).
  expectFold(fold("log_softmax", {f32t({2}, {0, std::log(3.0)})}), "f32[2]",
             {-1.38629436, -0.28768207});
}

TEST(OpFoldTest, BatchNorm) {
  // Channel 0: 2 * (x - 1) / sqrt(4) + 0 = x - 1 on [1, 2] -> [0, 1].
  // Channel 1: 1 * (x - 3) / sqrt(0.25) + 1 on [3, 4] -> [1, 3].
  expectFold(fold("batch_norm",
                  {f32t({1, 2, 1, 2}, {1, 2, 3, 4}), f32t({2}, {2, 1}),
                   f32t({2}, {0, 1}), f32t({2}, {1, 3}), f32t({2}, {4, 0.25})},
                  {{"epsilon", 0.0}}),
             "f32[1,2,1,2]", {0, 1, 1, 3});
  // epsilon = 1e-5 default: 1 / sqrt(1 + 1e-5) = 0.999995000037...
  expectFold(
      fold("batch_norm", {f32t({1, 1}, {1}), f32t({1}, {1}), f32t({1}, {0}),
                          f32t({1}, {0}), f32t({1}, {1})}),
      "f32[1,1]", {0.99999500004}, 1e-7);
}

TEST(OpFoldTest, DropoutIsIdentity) {
  expectFold(fold("dropout", {f32t({3}, {1, 2, 3})}, {{"ratio", 0.9}}),
             "f32[3]", {1, 2, 3});
}

//===- Data movement
//--------------------------------------------------------===//

TEST(OpFoldTest, ReshapeFlattenSqueezeUnsqueezeIdentityCopy) {
  Tensor x = f32t({2, 1, 2}, {1, 2, 3, 4});
  expectFold(fold("reshape", {x}, {{"shape", Dims{0, -1}}}), "f32[2,2]",
             {1, 2, 3, 4});
  expectFold(fold("flatten", {x}, {{"axis", 0}}), "f32[1,4]", {1, 2, 3, 4});
  expectFold(fold("squeeze", {x}), "f32[2,2]", {1, 2, 3, 4});
  expectFold(fold("unsqueeze", {x}, {{"axes", Dims{0}}}), "f32[1,2,1,2]",
             {1, 2, 3, 4});
  expectFold(fold("identity", {x}), "f32[2,1,2]", {1, 2, 3, 4});
  // Integers beyond 2^53 survive data movement exactly.
  int64_t big = (int64_t(1) << 60) + 1;
  expectInts(fold("reshape", {i64t({2}, {big, -big})}, {{"shape", Dims{2, 1}}}),
             "i64[2,1]", {big, -big});
}

TEST(OpFoldTest, Transpose) {
  expectFold(fold("transpose", {f32t({2, 3}, {1, 2, 3, 4, 5, 6})}), "f32[3,2]",
             {1, 4, 2, 5, 3, 6});
  // numpy: np.arange(8).reshape(2, 2, 2).transpose(2, 0, 1).ravel()
  expectFold(fold("transpose", {f32t({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7})},
                  {{"perm", Dims{2, 0, 1}}}),
             "f32[2,2,2]", {0, 2, 4, 6, 1, 3, 5, 7});
}

TEST(OpFoldTest, Concat) {
  expectFold(fold("concat", {f32t({1, 2}, {1, 2}), f32t({2, 2}, {3, 4, 5, 6})},
                  {{"axis", 0}}),
             "f32[3,2]", {1, 2, 3, 4, 5, 6});
  expectFold(fold("concat", {f32t({2, 1}, {1, 2}), f32t({2, 2}, {3, 4, 5, 6})},
                  {{"axis", -1}}),
             "f32[2,3]", {1, 3, 4, 2, 5, 6});
  int64_t big = (int64_t(1) << 60) + 1;
  expectInts(
      fold("concat", {i64t({1}, {big}), i64t({2}, {7, -big})}, {{"axis", 0}}),
      "i64[3]", {big, 7, -big});
}

TEST(OpFoldTest, Pad) {
  expectFold(
      fold("pad", {f32t({2}, {1, 2})}, {{"pads", Dims{1, 2}}, {"value", 9.0}}),
      "f32[5]", {9, 1, 2, 9, 9});
  // numpy: np.pad([1, 2, 3], 2, 'reflect') and np.pad([1, 2, 3], (2, 1),
  // 'edge').
  expectFold(fold("pad", {f32t({3}, {1, 2, 3})},
                  {{"pads", Dims{2, 2}}, {"mode", "reflect"}}),
             "f32[7]", {3, 2, 1, 2, 3, 2, 1});
  expectFold(fold("pad", {f32t({3}, {1, 2, 3})},
                  {{"pads", Dims{2, 1}}, {"mode", "edge"}}),
             "f32[6]", {1, 1, 1, 2, 3, 3});
  // 2-D: one row on top, one column on the right.
  expectFold(
      fold("pad", {f32t({2, 2}, {1, 2, 3, 4})}, {{"pads", Dims{1, 0, 0, 1}}}),
      "f32[3,3]", {0, 0, 0, 1, 2, 0, 3, 4, 0});
  // Negative pads crop.
  expectFold(fold("pad", {f32t({4}, {1, 2, 3, 4})}, {{"pads", Dims{-1, -1}}}),
             "f32[2]", {2, 3});
}

TEST(OpFoldTest, ConstantAndShape) {
  Tensor v = i64t({2, 2}, {1, 2, 3, 4});
  expectInts(fold("constant", {}, {{"value", v}}), "i64[2,2]", {1, 2, 3, 4});
  expectInts(fold("shape", {f32t({2, 3, 1}, {0, 0, 0, 0, 0, 0})}), "i64[3]",
             {2, 3, 1});
}

TEST(OpFoldTest, ShapeNeedsOnlyTheType) {
  // x is not a constant: the fold sees an empty tensor and reads the type.
  Graph g;
  Value *x = g.addInput("x", f32({8, 3, 32, 32}));
  Node *n = g.addNode("shape", {x});
  EXPECT_TRUE(n->def().foldNeedsOnlyTypes());
  n->result(0)->setType(i64({4}));
  FoldCtx c(*n, {Tensor()});
  ASSERT_TRUE(n->def().foldFn()(c).ok());
  EXPECT_EQ(c.outputs().at(0).type().str(), "i64[4]");
  EXPECT_EQ(c.outputs().at(0).toInts(), (Dims{8, 3, 32, 32}));
}

TEST(OpFoldTest, Gather) {
  Tensor data = f32t({3, 2}, {1, 2, 3, 4, 5, 6});
  expectFold(fold("gather", {data, i64t({2}, {2, 0})}), "f32[2,2]",
             {5, 6, 1, 2});
  // Negative indices count from the end (numpy.take, ONNX Gather-11).
  expectFold(fold("gather", {data, i64t({1}, {-1})}), "f32[1,2]", {5, 6});
  expectFold(fold("gather", {data, i64t({1}, {1})}, {{"axis", 1}}), "f32[3,1]",
             {2, 4, 6});
  expectFold(fold("gather", {data, i64t({}, {1})}), "f32[2]", {3, 4});
  // The Shape -> Gather idiom of exported models: the batch size.
  expectInts(fold("gather", {i64t({4}, {8, 3, 32, 32}), i64t({}, {0})}),
             "i64[]", {8});
  EXPECT_EQ(fold("gather", {data, i64t({1}, {3})}).error,
            "index 3 is out of range for a dimension of size 3");
  EXPECT_EQ(fold("gather", {data, i64t({1}, {-4})}).error,
            "index -4 is out of range for a dimension of size 3");
}

TEST(OpFoldTest, Cast) {
  // Floats truncate toward zero; anything non-zero is true.
  expectInts(fold("cast", {f32t({3}, {1.7, -1.7, 0})}, {{"to", "i64"}}),
             "i64[3]", {1, -1, 0});
  expectInts(fold("cast", {f32t({3}, {0, 0.5, -2})}, {{"to", "bool"}}),
             "bool[3]", {0, 1, 1});
  expectFold(fold("cast", {i64t({2}, {3, -4})}, {{"to", "f32"}}), "f32[2]",
             {3, -4});
  int64_t big = (int64_t(1) << 53) + 1; // not exact in a double
  expectInts(fold("cast", {i64t({1}, {big})}, {{"to", "i64"}}), "i64[1]",
             {big});
}

TEST(OpFoldTest, ReduceMean) {
  Tensor x = f32t({2, 3}, {1, 2, 3, 4, 5, 6});
  expectFold(fold("reduce_mean", {x}, {{"axes", Dims{1}}, {"keepdims", 0}}),
             "f32[2]", {2, 5});
  expectFold(fold("reduce_mean", {x}, {{"axes", Dims{0}}}), "f32[1,3]",
             {2.5, 3.5, 4.5});
  expectFold(fold("reduce_mean", {x}), "f32[1,1]", {3.5});
  expectFold(fold("reduce_mean", {x}, {{"keepdims", 0}}), "f32[]", {3.5});
}

} // namespace
