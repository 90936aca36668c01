//===- test/unit/TrainingOpsTest.cpp - training ops, slice, graph eval -----===//
//
// dropout_train's mask (kept fraction, seeds, salts, and the hash as
// documented in ir/ops/DropoutTrain.cpp), batch_norm_train against naive
// loops, slice's lowering against its fold, and GraphEvaluator.
//
//===----------------------------------------------------------------------===//
#include "codegen/GraphEval.h"
#include "codegen/HalideLowering.h"
#include "ir/OpDef.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace cnnc;

namespace {

void inferTypes(Node *n) {
  auto types = computeNodeShape(*n);
  ASSERT_TRUE(types.ok()) << types.status().message();
  for (size_t i = 0; i < n->numResults(); ++i)
    n->result(i)->setType((*types)[i]);
}

Tensor randomTensor(const TensorType &t, uint64_t seed, double lo = -1,
                    double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor x(t);
  for (int64_t i = 0; i < x.numElements(); ++i)
    x.setDouble(i, u(rng));
  return x;
}

/// The mask of dropout_train as ir/ops/DropoutTrain.cpp documents it.
uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}
double referenceMask(int64_t seed, uint32_t salt, uint32_t i, double ratio) {
  uint32_t h = fmix32(salt ^ 0x9e3779b9u);
  h = fmix32(h ^ uint32_t(uint64_t(seed)));
  h = fmix32(h ^ uint32_t(uint64_t(seed) >> 32));
  h = fmix32(h ^ i);
  uint32_t threshold = uint32_t(std::ceil(ratio * 16777216.0));
  return (h >> 8) >= threshold ? 1.0 / (1.0 - ratio) : 0.0;
}

struct Dropout {
  Tensor y, mask;
};
Dropout runDropout(const Tensor &x, const Tensor &seed, double ratio,
                   int64_t salt = 0) {
  Graph g;
  Value *xv = g.addInput("x", x.type());
  Value *sv = g.addInput("seed", seed.type());
  Node *n = g.addNode("dropout_train", {xv, sv},
                      {{"ratio", Attribute(ratio)}, {"salt", Attribute(salt)}});
  inferTypes(n);
  auto r = evaluateNodeJit(*n, {x, seed});
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok())
    return {};
  return {(*r)[0], (*r)[1]};
}

Tensor i64Scalar(int64_t v) {
  return Tensor::fromInts(TensorType(DType::I64, {}), {v});
}

} // namespace

/// About 1 - ratio of the elements are kept, scaled by 1 / (1 - ratio);
/// y = x * mask; the mask is the documented hash, bit for bit.
TEST(DropoutTrain, KeptFractionScaleAndHash) {
  Tensor x = randomTensor(TensorType(DType::F32, {40, 500}), 1, 0.5, 1.5);
  for (double ratio : {0.1, 0.3, 0.5, 0.8}) {
    Dropout d = runDropout(x, i64Scalar(42), ratio);
    ASSERT_FALSE(d.mask.empty());
    int64_t kept = 0, n = x.numElements();
    for (int64_t i = 0; i < n; ++i) {
      double m = d.mask.getDouble(i);
      ASSERT_EQ(m, float(referenceMask(42, 0, uint32_t(i), ratio))) << i;
      kept += m != 0;
      EXPECT_EQ(d.y.getDouble(i), double(float(x.getDouble(i)) * float(m)));
    }
    double fraction = double(kept) / double(n);
    // 20000 Bernoulli draws: the standard deviation is below 0.0036.
    EXPECT_NEAR(fraction, 1 - ratio, 0.015) << "ratio " << ratio;
  }
}

/// Another seed or salt gives another mask; the same seed the same one,
/// whatever the seed's dtype.
TEST(DropoutTrain, SeedAndSaltChangeTheMask) {
  Tensor x = randomTensor(TensorType(DType::F64, {1000}), 2);
  Dropout a = runDropout(x, i64Scalar(7), 0.5);
  Dropout b = runDropout(x, i64Scalar(8), 0.5);
  Dropout c = runDropout(x, i64Scalar(7), 0.5, /*salt=*/1);
  Dropout same = runDropout(x, i64Scalar(7), 0.5);
  Dropout f32 =
      runDropout(x, Tensor::fromDoubles(TensorType(DType::F32, {}), {7.0}), 0.5);
  Dropout big = runDropout(x, i64Scalar(7 + (int64_t(1) << 32)), 0.5);
  auto differ = [&](const Tensor &p, const Tensor &q) {
    int64_t n = 0;
    for (int64_t i = 0; i < p.numElements(); ++i)
      n += p.getDouble(i) != q.getDouble(i);
    return n;
  };
  // Two independent masks of ratio 0.5 differ in about half the elements.
  EXPECT_GT(differ(a.mask, b.mask), 400);
  EXPECT_GT(differ(a.mask, c.mask), 400);
  EXPECT_GT(differ(a.mask, big.mask), 400); // the seed's high bits count
  EXPECT_EQ(differ(a.mask, same.mask), 0);
  EXPECT_EQ(differ(a.mask, f32.mask), 0);
}

/// ratio 0 keeps everything, unscaled.
TEST(DropoutTrain, RatioZeroIsIdentity) {
  Tensor x = randomTensor(TensorType(DType::F32, {3, 7}), 3);
  Dropout d = runDropout(x, i64Scalar(5), 0.0);
  for (int64_t i = 0; i < x.numElements(); ++i) {
    EXPECT_EQ(d.mask.getDouble(i), 1.0);
    EXPECT_EQ(d.y.getDouble(i), x.getDouble(i));
  }
}

/// y, mean and invstd against naive loops over N and the spatial axes.
TEST(BatchNormTrain, MatchesNaiveStatistics) {
  int64_t n = 3, ch = 2, hw = 5;
  Tensor x = randomTensor(TensorType(DType::F64, {n, ch, hw}), 4, -3, 3);
  Tensor s = randomTensor(TensorType(DType::F64, {ch}), 5);
  Tensor b = randomTensor(TensorType(DType::F64, {ch}), 6);
  Graph g;
  Node *node = g.addNode(
      "batch_norm_train",
      {g.addInput("x", x.type()), g.addInput("s", s.type()),
       g.addInput("b", b.type())},
      {{"epsilon", Attribute(1e-3)}});
  inferTypes(node);
  auto r = evaluateNodeJit(*node, {x, s, b});
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (int64_t c = 0; c < ch; ++c) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k)
        sum += x.getDouble((i * ch + c) * hw + k);
    double mean = sum / double(n * hw);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        double d = x.getDouble((i * ch + c) * hw + k) - mean;
        sq += d * d;
      }
    double invstd = 1 / std::sqrt(sq / double(n * hw) + 1e-3);
    EXPECT_NEAR((*r)[1].getDouble(c), mean, 1e-12);
    EXPECT_NEAR((*r)[2].getDouble(c), invstd, 1e-12);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        int64_t at = (i * ch + c) * hw + k;
        EXPECT_NEAR((*r)[0].getDouble(at),
                    s.getDouble(c) * (x.getDouble(at) - mean) * invstd +
                        b.getDouble(c),
                    1e-12);
      }
  }
}

/// The lowering of slice agrees with its fold, negative steps included.
TEST(Slice, LoweringMatchesFold) {
  struct C {
    std::vector<int64_t> starts, ends, axes, steps;
  } cases[] = {
      {{1, -3}, {2, 100}, {}, {}},
      {{-1, 0}, {-100, 5}, {2, 0}, {-2, 2}},
      {{4}, {0}, {1}, {-3}},
      {{0, 1, 1}, {3, 4, 5}, {0, 1, 2}, {1, 2, 3}},
  };
  Tensor x = randomTensor(TensorType(DType::F32, {3, 6, 5}), 7);
  for (const C &c : cases) {
    Graph g;
    Node *n = g.addNode("slice", {g.addInput("x", x.type())},
                        {{"starts", Attribute(c.starts)},
                         {"ends", Attribute(c.ends)},
                         {"axes", Attribute(c.axes)},
                         {"steps", Attribute(c.steps)}});
    inferTypes(n);
    auto jit = evaluateNodeJit(*n, {x});
    ASSERT_TRUE(jit.ok()) << jit.status().message();
    FoldCtx fold(*n, {x});
    ASSERT_TRUE(n->def().foldFn()(fold).ok());
    ASSERT_EQ((*jit)[0].type(), fold.outputs()[0].type());
    EXPECT_TRUE((*jit)[0] == fold.outputs()[0]);
  }
}

/// A graph runs node by node; each node compiles once, parameters take
/// their initial values unless set, and a missing input is an error.
TEST(GraphEval, RunsCompilesOnceAndUsesParams) {
  Graph g;
  Value *x = g.addInput("x", TensorType(DType::F64, {2, 3}));
  Value *w = g.addParam("w", TensorType(DType::F64, {3}), ParamInit::fill(2.0));
  Node *m = g.addNode("mul", {x, w});
  inferTypes(m);
  Node *r = g.addNode("relu", {m->result(0)});
  inferTypes(r);
  Tensor k(TensorType(DType::F64, {}));
  k.setDouble(0, 0.5);
  Node *c = g.addNode("constant", {}, {{"value", Attribute(k)}});
  inferTypes(c);
  Node *a = g.addNode("add", {r->result(0), c->result(0)});
  inferTypes(a);
  g.addOutput(a->result(0));

  GraphEvaluator ev(g);
  auto missing = ev.run();
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("input 'x' has no value"),
            std::string::npos)
      << missing.status().message();

  Tensor xv = Tensor::fromDoubles(x->type(), {-1, 0.5, 2, 3, -4, 1});
  ASSERT_TRUE(ev.set("x", xv).ok());
  auto out = ev.run();
  ASSERT_TRUE(out.ok()) << out.status().message();
  std::vector<double> want{0.5, 1.5, 4.5, 6.5, 0.5, 2.5};
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_EQ((*out)[0].getDouble(i), want[size_t(i)]);
  EXPECT_EQ(ev.numCompiled(), 3u); // mul, relu, add; the constant is data

  ASSERT_TRUE(ev.set(w, Tensor::fromDoubles(w->type(), {1, -1, 1})).ok());
  out = ev.evaluate({m->result(0)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].getDouble(1), -0.5);
  EXPECT_EQ(ev.numCompiled(), 3u);

  EXPECT_FALSE(ev.set("x", Tensor(TensorType(DType::F32, {2, 3}))).ok());
}
