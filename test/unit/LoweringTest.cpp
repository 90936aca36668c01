//===- test/unit/LoweringTest.cpp - Halide lowerings against references ----===//
//
// Each op's `.lower` is JIT-compiled and run on random inputs, and compared
// with an independent reference: the op's constant fold (a plain C++ loop
// nest in the op file) or a naive loop written here.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"
#include "ir/OpDef.h"

#include <gtest/gtest.h>
#include <random>

using namespace cnnc;

namespace {

Tensor randomTensor(const TensorType &t, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  Tensor x(t);
  for (int64_t i = 0; i < x.numElements(); ++i)
    x.setDouble(i, dist(rng));
  return x;
}

/// Runs \p n through the JIT lowering and, when the op has one, its fold;
/// returns the JIT results after checking they match the fold to \p tol.
std::vector<Tensor> runAndCompareWithFold(Node &n,
                                          const std::vector<Tensor> &inputs,
                                          double tol = 1e-5) {
  auto types = computeNodeShape(n);
  EXPECT_TRUE(types.ok()) << types.status().message();
  for (size_t i = 0; i < n.numResults(); ++i)
    n.result(i)->setType((*types)[i]);
  auto jit = evaluateNodeJit(n, inputs);
  EXPECT_TRUE(jit.ok()) << jit.status().message();
  if (!jit.ok())
    return {};
  if (n.def().foldFn()) {
    FoldCtx ctx(n, inputs);
    Status s = n.def().foldFn()(ctx);
    EXPECT_TRUE(s.ok()) << s.message();
    for (size_t r = 0; r < n.numResults(); ++r)
      for (int64_t i = 0; i < (*jit)[r].numElements(); ++i)
        EXPECT_NEAR((*jit)[r].getDouble(i), ctx.outputs()[r].getDouble(i), tol)
            << n.op() << " result " << r << " element " << i;
  }
  return *jit;
}

} // namespace

/// relu and add (with broadcasting) agree with their folds.
TEST(Lowering, ReluAndAddMatchFold) {
  Graph g;
  Value *a = g.addInput("a", TensorType(DType::F32, {2, 3, 4}));
  Value *b = g.addInput("b", TensorType(DType::F32, {3, 1}));
  Node *relu = g.addNode("relu", {a});
  Node *add = g.addNode("add", {a, b});
  Tensor ta = randomTensor(a->type(), 1), tb = randomTensor(b->type(), 2);
  runAndCompareWithFold(*relu, {ta});
  auto out = runAndCompareWithFold(*add, {ta, tb});
  ASSERT_EQ(out.size(), 1u);
  // a[1, 2, 3] + b[2, 0], by hand.
  EXPECT_NEAR(out[0].getDouble(1 * 12 + 2 * 4 + 3),
              ta.getDouble(1 * 12 + 2 * 4 + 3) + tb.getDouble(2), 1e-6);
}

/// A naive conv: strides, pads, dilations and groups, against the lowering.
TEST(Lowering, ConvMatchesNaiveLoops) {
  struct Case {
    std::vector<int64_t> x, w;
    int64_t group;
    std::vector<int64_t> strides, pads, dilations;
    bool bias;
  };
  for (const Case &cs : std::vector<Case>{
           {{1, 3, 7, 7}, {4, 3, 3, 3}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, true},
           {{2, 4, 9, 8}, {6, 2, 3, 2}, 2, {2, 1}, {1, 0, 2, 1}, {1, 2}, true},
           {{1, 4, 6, 6}, {4, 1, 3, 3}, 4, {1, 1}, {1, 1, 1, 1}, {1, 1}, false},
           // Grouped and strided along the columns: the padded copy read
           // through its deinterleaved phases (depthwise; then stride 3,
           // dilation 2, two channels per group, uneven pads).
           {{1, 6, 9, 11}, {6, 1, 3, 3}, 6, {2, 2}, {1, 1, 1, 1}, {1, 1}, true},
           {{2, 4, 8, 13}, {8, 2, 3, 3}, 2, {1, 3}, {0, 2, 1, 1}, {1, 2}, false},
           // Depthwise over rows of several vectors and tiles: the copy of
           // x each tile of rows reads (its border columns selected, the
           // rest dense vectors), slid down the rows; 7 and 5 channels,
           // not whole tiles of filters.
           {{1, 7, 21, 37}, {7, 1, 3, 3}, 7, {2, 2}, {1, 1, 1, 1}, {1, 1}, true},
           {{2, 5, 19, 35}, {5, 1, 3, 3}, 5, {1, 1}, {1, 1, 1, 1}, {1, 1}, false},
           {{1, 6, 17, 40}, {6, 1, 5, 5}, 6, {1, 1}, {2, 1, 2, 3}, {1, 1}, true},
       }) {
    Graph g;
    Value *x = g.addInput("x", TensorType(DType::F32, cs.x));
    Value *w = g.addInput("w", TensorType(DType::F32, cs.w));
    std::vector<Value *> ops{x, w};
    if (cs.bias)
      ops.push_back(g.addInput("b", TensorType(DType::F32, {cs.w[0]})));
    Node *n = g.addNode("conv", ops,
                        {{"group", Attribute(cs.group)},
                         {"strides", Attribute(cs.strides)},
                         {"pads", Attribute(cs.pads)},
                         {"dilations", Attribute(cs.dilations)}});
    std::vector<Tensor> in;
    for (size_t i = 0; i < ops.size(); ++i)
      in.push_back(randomTensor(ops[i]->type(), 10 + i));
    auto out = runAndCompareWithFold(*n, in);
    ASSERT_EQ(out.size(), 1u);
    const Tensor &y = out[0];
    int64_t N = cs.x[0], C = cs.x[1], H = cs.x[2], W = cs.x[3];
    int64_t M = cs.w[0], Cg = cs.w[1], KH = cs.w[2], KW = cs.w[3];
    int64_t OH = y.dims()[2], OW = y.dims()[3];
    EXPECT_EQ(OH, (H + cs.pads[0] + cs.pads[2] - cs.dilations[0] * (KH - 1) - 1) /
                          cs.strides[0] + 1);
    for (int64_t n_ = 0; n_ < N; ++n_)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            double acc = cs.bias ? in[2].getDouble(m) : 0.0;
            int64_t g0 = m / (M / cs.group);
            for (int64_t c = 0; c < Cg; ++c)
              for (int64_t kh = 0; kh < KH; ++kh)
                for (int64_t kw = 0; kw < KW; ++kw) {
                  int64_t ih = oh * cs.strides[0] - cs.pads[0] + kh * cs.dilations[0];
                  int64_t iw = ow * cs.strides[1] - cs.pads[1] + kw * cs.dilations[1];
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                    continue;
                  acc += in[0].getDouble(((n_ * C + g0 * Cg + c) * H + ih) * W + iw) *
                         in[1].getDouble(((m * Cg + c) * KH + kh) * KW + kw);
                }
            EXPECT_NEAR(y.getDouble(((n_ * M + m) * OH + oh) * OW + ow), acc, 1e-4);
          }
  }
}
