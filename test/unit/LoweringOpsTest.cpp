//===- test/unit/LoweringOpsTest.cpp - every op's lowering, JIT-checked ---===//
//
// Each op's `.lower` is JIT-compiled and run on random inputs (odd sizes,
// several attribute combinations, f64 and integer dtypes where the shape
// rule takes them) and compared with the op's fold, or, for ops without
// one, with naive loops written here from the ONNX definitions.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"
#include "ir/OpDef.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <random>

using namespace cnnc;

namespace {

using Dims = std::vector<int64_t>;
constexpr double kInf = std::numeric_limits<double>::infinity();

TensorType ty(DType t, Dims d) { return TensorType(t, std::move(d)); }

/// Uniform random values: floats in [lo, hi), integers in [lo, hi] (whole
/// numbers), bool 0 or 1.
Tensor randomTensor(const TensorType &t, uint64_t seed, double lo = -1,
                    double hi = 1) {
  std::mt19937_64 rng(seed);
  Tensor x(t);
  for (int64_t i = 0; i < x.numElements(); ++i) {
    if (isFloat(t.dtype()))
      x.setDouble(i, std::uniform_real_distribution<double>(lo, hi)(rng));
    else if (t.dtype() == DType::Bool)
      x.setInt(i, int64_t(rng() % 2));
    else
      x.setInt(i,
               std::uniform_int_distribution<int64_t>(
                   int64_t(std::llround(lo)), int64_t(std::llround(hi)))(rng));
  }
  return x;
}

/// The default tolerance, relative above magnitude 1: floats are computed
/// in their own precision here but in double by the folds.
double defaultTol(DType t) {
  return t == DType::F32 ? 2e-5 : t == DType::F64 ? 1e-11 : 0.0;
}

/// Expects \p got to equal \p want in type and (within \p tol) values;
/// integers exactly. Reports at most a few elements.
void expectTensorNear(const Tensor &got, const Tensor &want, double tol) {
  ASSERT_EQ(got.type().str(), want.type().str());
  int failures = 0;
  for (int64_t i = 0; i < got.numElements() && failures < 5; ++i) {
    bool ok;
    double a = got.getDouble(i), b = want.getDouble(i);
    if (!isFloat(got.dtype()))
      ok = got.getInt(i) == want.getInt(i);
    else if (std::isnan(b))
      ok = std::isnan(a);
    else if (std::isinf(b))
      ok = a == b;
    else
      ok = std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b));
    if (!ok) {
      ++failures;
      ADD_FAILURE() << "element " << i << ": got " << a << ", want " << b;
    }
  }
}

/// Builds one node of \p op over inputs of the types of \p inputs, runs shape
/// inference, JIT-runs its lowering and, when the op folds, checks the
/// result against the fold. Returns result 0 (empty on failure).
Tensor runOp(const std::string &op, const std::vector<Tensor> &inputs,
             AttrMap attrs = {}, double tol = -1) {
  Graph g;
  std::vector<Value *> operands;
  for (size_t i = 0; i < inputs.size(); ++i)
    operands.push_back(g.addInput("x" + std::to_string(i), inputs[i].type()));
  Node *n = g.addNode(op, operands, std::move(attrs));
  auto types = computeNodeShape(*n);
  EXPECT_TRUE(types.ok()) << types.status().message();
  if (!types.ok())
    return Tensor();
  for (size_t i = 0; i < n->numResults(); ++i)
    n->result(i)->setType((*types)[i]);
  auto jit = evaluateNodeJit(*n, inputs);
  EXPECT_TRUE(jit.ok()) << jit.status().message();
  if (!jit.ok())
    return Tensor();
  if (tol < 0)
    tol = defaultTol((*types)[0].dtype());
  if (n->def().foldFn()) {
    FoldCtx ctx(*n, inputs);
    Status s = n->def().foldFn()(ctx);
    EXPECT_TRUE(s.ok()) << s.message();
    if (s.ok())
      for (size_t r = 0; r < n->numResults(); ++r) {
        SCOPED_TRACE(op + " against its fold, result " + std::to_string(r));
        expectTensorNear((*jit)[r], ctx.outputs()[r], tol);
      }
  }
  return (*jit)[0];
}

/// Runs \p op and compares result 0 with \p want (values of \p type).
void expectOp(const std::string &op, const std::vector<Tensor> &inputs,
              AttrMap attrs, const TensorType &type,
              const std::vector<double> &want, double tol = -1) {
  Tensor got = runOp(op, inputs, std::move(attrs), tol);
  ASSERT_FALSE(got.empty());
  expectTensorNear(got, Tensor::fromDoubles(type, want),
                   tol < 0 ? defaultTol(type.dtype()) : tol);
}

/// Row-major multi-index of \p flat in \p dims.
std::vector<int64_t> unflatten(int64_t flat, const Dims &dims) {
  std::vector<int64_t> idx(dims.size());
  for (size_t i = dims.size(); i-- > 0;) {
    idx[i] = flat % dims[i];
    flat /= dims[i];
  }
  return idx;
}

int64_t flatOf(const std::vector<int64_t> &idx, const Dims &dims) {
  int64_t flat = 0;
  for (size_t i = 0; i < dims.size(); ++i)
    flat = flat * dims[i] + idx[i];
  return flat;
}

int64_t product(const Dims &d) {
  int64_t p = 1;
  for (int64_t x : d)
    p *= x;
  return p;
}

const DType kFloats[] = {DType::F32, DType::F64};
const DType kNumbers[] = {DType::F32, DType::F64, DType::I64, DType::I32};

} // namespace

/// The table walk: every op in the registry can be lowered.
TEST(LoweringOps, EveryOpHasALowering) {
  size_t count = 0;
  for (const OpDef &def : OpRegistry::get().ops()) {
    if (def.name() == "assign")
      continue; // no kernel: the runtime copies (ir/ops/Assign.cpp)
    EXPECT_TRUE(bool(def.lowerFn())) << def.name() << " has no .lower";
    ++count;
  }
  EXPECT_GE(count, 41u);
}

/// add, sub, mul and div broadcast over every numeric dtype and agree with
/// their folds.
TEST(LoweringOps, BinaryArithmetic) {
  std::vector<std::pair<Dims, Dims>> shapes{
      {{2, 3, 5}, {3, 1}}, {{1}, {4, 1, 3}}, {{}, {2, 3}}, {{7, 5}, {7, 5}}};
  uint64_t seed = 100;
  for (const char *op : {"add", "sub", "mul", "div"})
    for (DType t : kNumbers)
      for (const auto &[da, db] : shapes) {
        SCOPED_TRACE(std::string(op) + " " + ty(t, da).str() + " " +
                     ty(t, db).str());
        bool isInt = !isFloat(t);
        Tensor a =
            randomTensor(ty(t, da), ++seed, isInt ? -50 : -2, isInt ? 50 : 2);
        Tensor b =
            randomTensor(ty(t, db), ++seed, isInt ? 1 : 0.5, isInt ? 9 : 2);
        // Mixed signs for the divisor too, never zero.
        std::mt19937 rng{unsigned(seed)};
        for (int64_t i = 0; i < b.numElements(); ++i)
          if (rng() % 2)
            b.setDouble(i, -b.getDouble(i));
        runOp(op, {a, b});
      }
}

/// Integer div truncates toward zero in every sign combination (C, ONNX),
/// not toward -infinity as Halide's own division does.
TEST(LoweringOps, IntegerDivTruncates) {
  for (DType t : {DType::I64, DType::I32})
    expectOp("div",
             {Tensor::fromInts(ty(t, {6}), {-7, 7, -7, 7, -6, 0}),
              Tensor::fromInts(ty(t, {6}), {2, -2, -2, 2, 3, -5})},
             {}, ty(t, {6}), {-3, -3, 3, 3, -2, 0});
}

/// sum takes one to four operands with broadcasting.
TEST(LoweringOps, VariadicSum) {
  std::vector<std::vector<Dims>> cases{{{3, 5}},
                                       {{3, 5}, {5}},
                                       {{2, 1, 4}, {3, 1}, {}},
                                       {{2, 3}, {2, 3}, {1, 3}, {2, 1}}};
  uint64_t seed = 200;
  for (DType t : {DType::F32, DType::F64, DType::I64})
    for (const auto &dims : cases) {
      std::vector<Tensor> in;
      for (const Dims &d : dims)
        in.push_back(randomTensor(ty(t, d), ++seed, -20, 20));
      SCOPED_TRACE(std::to_string(dims.size()) + " operands");
      runOp("sum", in);
    }
}

/// Elementwise activations and copies against their folds.
TEST(LoweringOps, UnaryElementwise) {
  struct Case {
    const char *op;
    double lo, hi;
    std::vector<DType> types;
    AttrMap attrs;
  };
  std::vector<DType> floats{DType::F32, DType::F64};
  std::vector<DType> numbers{DType::F32, DType::F64, DType::I64, DType::I32};
  std::vector<Case> cases{
      {"neg", -30, 30, numbers, {}},
      {"exp", -20, 20, floats, {}},
      {"log", 1e-3, 50, floats, {}},
      {"sqrt", 0, 50, floats, {}},
      {"sigmoid", -30, 30, floats, {}},
      {"tanh", -5, 5, floats, {}},
      {"relu", -3, 3, floats, {}},
      {"leaky_relu", -3, 3, floats, {}},
      {"leaky_relu", -3, 3, floats, {{"alpha", Attribute(0.37)}}},
      {"dropout", -3, 3, floats, {{"ratio", Attribute(0.25)}}},
      {"identity",
       -30,
       30,
       {DType::F32, DType::F64, DType::I64, DType::I32, DType::Bool},
       {}},
  };
  uint64_t seed = 300;
  for (const Case &cs : cases)
    for (DType t : cs.types)
      for (const Dims &d : std::vector<Dims>{{3, 5, 7}, {13}, {}}) {
        SCOPED_TRACE(std::string(cs.op) + " " + ty(t, d).str());
        runOp(cs.op, {randomTensor(ty(t, d), ++seed, cs.lo, cs.hi)}, cs.attrs);
      }
  // Extremes: sigmoid saturates to 0 and 1 without NaN.
  expectOp("sigmoid",
           {Tensor::fromDoubles(ty(DType::F32, {3}), {-200, 0, 200})}, {},
           ty(DType::F32, {3}), {0, 0.5, 1});
}

/// exp, log, sigmoid, tanh and clip keep IEEE results for infinities and
/// NaN (Halide 14's own f32 exp and log, and its float min and max, do
/// not); softmax masks -inf entries.
TEST(LoweringOps, NonFiniteInputs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> specials{kInf, -kInf, nan, 0, -0.5, 1e-30, 100, -100};
  for (DType t : kFloats) {
    Tensor x = Tensor::fromDoubles(ty(t, {8}), specials);
    for (const char *op : {"exp", "log", "sigmoid", "tanh"}) {
      SCOPED_TRACE(std::string(op) + " " + dtypeName(t));
      runOp(op, {x});
    }
    runOp("clip", {x}, {{"min", Attribute(-0.25)}, {"max", Attribute(0.5)}});
    SCOPED_TRACE(std::string("softmax ") + dtypeName(t));
    Tensor masked =
        Tensor::fromDoubles(ty(t, {2, 3}), {0, -kInf, 1, 2, 2, -kInf});
    runOp("softmax", {masked});
    runOp("log_softmax", {masked});
  }
}

/// clip with finite, one-sided and crossed bounds; on integers the bounds
/// truncate as the fold does, and huge bounds saturate.
TEST(LoweringOps, Clip) {
  std::vector<std::pair<double, double>> bounds{
      {-0.5, 0.5},   {-kInf, 0.2}, {0.3, kInf}, {0.6, -0.2},
      {-7.5, 12.25}, {-1e30, 5},   {2, 1e30},   {-kInf, kInf}};
  uint64_t seed = 400;
  for (DType t : kNumbers)
    for (auto [lo, hi] : bounds) {
      SCOPED_TRACE(std::string(dtypeName(t)) + " clip " + std::to_string(lo) +
                   " " + std::to_string(hi));
      bool isInt = !isFloat(t);
      runOp("clip",
            {randomTensor(ty(t, {4, 9}), ++seed, isInt ? -20 : -1,
                          isInt ? 20 : 1)},
            {{"min", Attribute(lo)}, {"max", Attribute(hi)}});
    }
}

/// softmax and log_softmax along every axis, with large values (the max
/// must be subtracted), f32 and f64.
TEST(LoweringOps, SoftmaxAndLogSoftmax) {
  struct Case {
    Dims dims;
    int64_t axis;
    double scale;
  };
  std::vector<Case> cases{{{3, 7}, -1, 1},   {{3, 7}, 0, 1}, {{2, 3, 5}, 1, 1},
                          {{2, 3, 5}, 0, 1}, {{9}, 0, 1},    {{4, 11}, 1, 300}};
  uint64_t seed = 500;
  for (const char *op : {"softmax", "log_softmax"})
    for (DType t : kFloats)
      for (const Case &cs : cases) {
        SCOPED_TRACE(std::string(op) + " " + ty(t, cs.dims).str() + " axis " +
                     std::to_string(cs.axis));
        runOp(op, {randomTensor(ty(t, cs.dims), ++seed, -cs.scale, cs.scale)},
              {{"axis", Attribute(cs.axis)}});
      }
}

/// batch_norm against its fold on rank 2, 3 and 4 inputs.
TEST(LoweringOps, BatchNorm) {
  uint64_t seed = 600;
  for (DType t : kFloats)
    for (const Dims &d : std::vector<Dims>{{2, 3, 4, 5}, {3, 4}, {1, 5, 7}}) {
      SCOPED_TRACE("batch_norm " + ty(t, d).str());
      Dims c{d[1]};
      runOp("batch_norm",
            {randomTensor(ty(t, d), ++seed), randomTensor(ty(t, c), ++seed),
             randomTensor(ty(t, c), ++seed), randomTensor(ty(t, c), ++seed),
             randomTensor(ty(t, c), ++seed, 0.1, 2)},
            {{"epsilon", Attribute(1e-3)}});
    }
}

/// flatten, reshape, squeeze and unsqueeze keep the row-major order,
/// including merges and splits of axes that do not line up.
TEST(LoweringOps, ReshapeLike) {
  struct Case {
    const char *op;
    Dims in;
    AttrMap attrs;
  };
  std::vector<Case> cases{
      {"flatten", {2, 3, 4, 5}, {{"axis", Attribute(int64_t(0))}}},
      {"flatten", {2, 3, 4, 5}, {}},
      {"flatten", {2, 3, 4, 5}, {{"axis", Attribute(int64_t(2))}}},
      {"flatten", {2, 3, 4, 5}, {{"axis", Attribute(int64_t(-1))}}},
      {"flatten", {2, 3, 4, 5}, {{"axis", Attribute(int64_t(4))}}},
      {"reshape", {2, 3, 4}, {{"shape", Attribute(Dims{4, 6})}}},
      {"reshape", {2, 3, 4}, {{"shape", Attribute(Dims{0, -1})}}},
      {"reshape", {2, 3, 4}, {{"shape", Attribute(Dims{24})}}},
      {"reshape", {2, 3, 4}, {{"shape", Attribute(Dims{2, 1, 3, 4, 1})}}},
      {"reshape", {6, 4}, {{"shape", Attribute(Dims{3, 8})}}},
      {"reshape", {6, 10}, {{"shape", Attribute(Dims{4, 15})}}},
      {"reshape", {3, 1, 10, 7}, {{"shape", Attribute(Dims{5, 2, 21})}}},
      {"reshape", {1}, {{"shape", Attribute(Dims{})}}},
      {"squeeze", {1, 3, 1, 5}, {}},
      {"squeeze", {1, 3, 1, 5}, {{"axes", Attribute(Dims{0})}}},
      {"squeeze", {1, 3, 1, 5}, {{"axes", Attribute(Dims{-2})}}},
      {"unsqueeze", {3, 5}, {{"axes", Attribute(Dims{0})}}},
      {"unsqueeze", {3, 5}, {{"axes", Attribute(Dims{1, 3})}}},
      {"unsqueeze", {3, 5}, {{"axes", Attribute(Dims{-1})}}},
      {"unsqueeze", {}, {{"axes", Attribute(Dims{0})}}},
  };
  uint64_t seed = 700;
  for (const Case &cs : cases)
    for (DType t : {DType::F32, DType::I64}) {
      SCOPED_TRACE(std::string(cs.op) + " " + ty(t, cs.in).str());
      runOp(cs.op, {randomTensor(ty(t, cs.in), ++seed, -1000, 1000)}, cs.attrs);
    }
}

/// transpose with the default (reversed) and explicit permutations.
TEST(LoweringOps, Transpose) {
  std::vector<std::pair<Dims, Dims>> cases{{{3, 5}, {}},
                                           {{2, 3, 5}, {0, 2, 1}},
                                           {{2, 3, 5, 7}, {2, 0, 1, 3}},
                                           {{2, 3, 5}, {}}};
  uint64_t seed = 800;
  for (DType t : {DType::F32, DType::F64, DType::I64})
    for (const auto &[d, perm] : cases) {
      SCOPED_TRACE("transpose " + ty(t, d).str());
      AttrMap attrs;
      if (!perm.empty())
        attrs["perm"] = Attribute(perm);
      runOp("transpose", {randomTensor(ty(t, d), ++seed, -1000, 1000)}, attrs);
    }
}

/// concat of one to three inputs along every axis.
TEST(LoweringOps, Concat) {
  uint64_t seed = 900;
  for (DType t : {DType::F32, DType::I64})
    for (int64_t axis : {0, 1, 2, -1}) {
      int64_t a = axis < 0 ? axis + 3 : axis;
      for (size_t count : {1, 2, 3}) {
        std::vector<Tensor> in;
        for (size_t i = 0; i < count; ++i) {
          Dims d{2, 3, 4};
          d[size_t(a)] = int64_t(i) + 1 + (a == 1);
          in.push_back(randomTensor(ty(t, d), ++seed, -1000, 1000));
        }
        SCOPED_TRACE("concat axis " + std::to_string(axis) + " of " +
                     std::to_string(count));
        runOp("concat", in, {{"axis", Attribute(axis)}});
      }
    }
}

/// pad in every mode, with crops (negative pads) and a non-zero value.
TEST(LoweringOps, Pad) {
  struct Case {
    Dims in, pads;
  };
  std::vector<Case> cases{{{3, 4}, {1, 2, 2, 1}},
                          {{3, 4}, {0, 0, 0, 3}},
                          {{2, 4, 5}, {0, 1, -1, 1, 2, 3}},
                          {{4, 5}, {-1, 0, 1, -2}},
                          {{5}, {4, 4}}};
  uint64_t seed = 1000;
  for (const char *mode : {"constant", "reflect", "edge"})
    for (DType t : {DType::F32, DType::F64, DType::I64})
      for (const Case &cs : cases) {
        SCOPED_TRACE(std::string("pad ") + mode + " " + ty(t, cs.in).str());
        runOp("pad", {randomTensor(ty(t, cs.in), ++seed, -1000, 1000)},
              {{"pads", Attribute(cs.pads)},
               {"mode", Attribute(mode)},
               {"value", Attribute(1.5)}});
      }
}

/// gather along each axis with scalar, vector and matrix indices, negative
/// ones included, i64 and i32.
TEST(LoweringOps, Gather) {
  uint64_t seed = 1100;
  for (DType dt : {DType::F32, DType::I64})
    for (DType it : {DType::I64, DType::I32})
      for (int64_t axis : {0, 1, -1})
        for (const Dims &id : std::vector<Dims>{{}, {3}, {2, 2}}) {
          Dims d{4, 5, 3};
          int64_t n = d[size_t(axis < 0 ? axis + 3 : axis)];
          SCOPED_TRACE("gather axis " + std::to_string(axis) + " indices " +
                       ty(it, id).str());
          runOp("gather",
                {randomTensor(ty(dt, d), ++seed, -1000, 1000),
                 randomTensor(ty(it, id), ++seed, double(-n), double(n - 1))},
                {{"axis", Attribute(axis)}});
        }
}

/// cast between every pair of dtypes; floats truncate toward zero, bool is
/// x != 0.
TEST(LoweringOps, Cast) {
  const DType all[] = {DType::F32, DType::F64, DType::I64, DType::I32,
                       DType::Bool};
  std::vector<double> values{-2.7, 2.7, 0, -0.5, 0.5, 3, -3, 100.25, 1};
  for (DType from : all)
    for (DType to : all) {
      SCOPED_TRACE(std::string("cast ") + dtypeName(from) + " to " +
                   dtypeName(to));
      Tensor x =
          Tensor::fromDoubles(ty(from, {int64_t(values.size())}), values);
      runOp("cast", {x}, {{"to", Attribute(dtypeName(to))}});
    }
  expectOp("cast",
           {Tensor::fromDoubles(ty(DType::F32, {4}), {-2.7, 2.7, -0.5, 0})},
           {{"to", Attribute("i64")}}, ty(DType::I64, {4}), {-2, 2, 0, 0});
  expectOp("cast", {Tensor::fromDoubles(ty(DType::F64, {3}), {-0.5, 0, 7})},
           {{"to", Attribute("bool")}}, ty(DType::Bool, {3}), {1, 0, 1});
}

/// shape gives the dims of x whatever its dtype.
TEST(LoweringOps, Shape) {
  for (const Dims &d : std::vector<Dims>{{7}, {3, 5}, {2, 3, 4, 5}})
    for (DType t : {DType::F32, DType::I64}) {
      Dims shape{int64_t(d.size())};
      std::vector<double> want(d.begin(), d.end());
      expectOp("shape", {randomTensor(ty(t, d), 1)}, {}, ty(DType::I64, shape),
               want);
    }
}

/// reduce_mean over various axes, keepdims on and off; integer means
/// truncate toward zero like the fold.
TEST(LoweringOps, ReduceMean) {
  std::vector<Dims> axesCases{{}, {1}, {0, 2}, {-1}, {0, 1, 2}};
  uint64_t seed = 1200;
  for (DType t : {DType::F32, DType::F64, DType::I64})
    for (const Dims &axes : axesCases)
      for (int64_t keep : {0, 1}) {
        SCOPED_TRACE("reduce_mean " + std::string(dtypeName(t)) + " keepdims " +
                     std::to_string(keep) + " axes " +
                     std::to_string(axes.size()));
        runOp("reduce_mean", {randomTensor(ty(t, {3, 5, 7}), ++seed, -50, 50)},
              {{"axes", Attribute(axes)}, {"keepdims", Attribute(keep)}});
      }
}

/// constant yields its value for every dtype, scalars included.
TEST(LoweringOps, Constant) {
  uint64_t seed = 1300;
  for (DType t : {DType::F32, DType::F64, DType::I64, DType::I32, DType::Bool})
    for (const Dims &d : std::vector<Dims>{{2, 3}, {5}, {}, {2, 1, 3}}) {
      SCOPED_TRACE("constant " + ty(t, d).str());
      Tensor v = randomTensor(ty(t, d), ++seed, -1e6, 1e6);
      Tensor got = runOp("constant", {}, {{"value", Attribute(v)}});
      ASSERT_FALSE(got.empty());
      EXPECT_TRUE(got == v);
    }
}

namespace {

/// One pooling case: input dims and the attributes.
struct PoolCase {
  Dims x, kernel, strides, pads, dilations;
  int64_t ceil = 0;
};

AttrMap poolAttrs(const PoolCase &cs) {
  AttrMap a{{"kernel_shape", Attribute(cs.kernel)},
            {"ceil_mode", Attribute(cs.ceil)}};
  if (!cs.strides.empty())
    a["strides"] = Attribute(cs.strides);
  if (!cs.pads.empty())
    a["pads"] = Attribute(cs.pads);
  if (!cs.dilations.empty())
    a["dilations"] = Attribute(cs.dilations);
  return a;
}

/// Naive ONNX MaxPool / AveragePool over the output dims \p ydims: taps
/// outside x are skipped; the average divides by the taps inside the padded
/// input (count_include_pad) or inside x.
std::vector<double> naivePool(const Tensor &x, const Dims &ydims,
                              const PoolCase &cs, bool average,
                              bool includePad) {
  size_t spatial = cs.kernel.size();
  auto get = [&](const Dims &v, size_t i, int64_t dflt) {
    return v.empty() ? dflt : v[i];
  };
  std::vector<double> y;
  for (int64_t flat = 0; flat < product(ydims); ++flat) {
    std::vector<int64_t> o = unflatten(flat, ydims);
    double acc = average ? 0 : -kInf;
    int64_t count = 0;
    for (int64_t k = 0; k < product(cs.kernel); ++k) {
      std::vector<int64_t> tap = unflatten(k, cs.kernel);
      std::vector<int64_t> xi{o[0], o[1]};
      bool inside = true, inPadded = true;
      for (size_t i = 0; i < spatial; ++i) {
        int64_t pb = get(cs.pads, i, 0), pe = get(cs.pads, i + spatial, 0);
        int64_t p = o[2 + i] * get(cs.strides, i, 1) - pb +
                    tap[i] * get(cs.dilations, i, 1);
        int64_t in = cs.x[2 + i];
        inside &= p >= 0 && p < in;
        inPadded &= p >= -pb && p < in + pe;
        xi.push_back(p);
      }
      if (includePad ? inPadded : inside)
        ++count;
      if (!inside)
        continue;
      double v = x.getDouble(flatOf(xi, cs.x));
      acc = average ? acc + v : std::max(acc, v);
    }
    y.push_back(average ? acc / double(count) : acc);
  }
  return y;
}

const std::vector<PoolCase> &poolCases() {
  static const std::vector<PoolCase> cases{
      {{1, 2, 7, 7}, {3, 3}, {}, {}, {}, 0},
      {{2, 3, 9, 8}, {3, 2}, {2, 2}, {1, 0, 1, 1}, {}, 0},
      {{1, 2, 8, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 1},
      {{1, 2, 10, 7}, {2, 3}, {3, 2}, {0, 1, 1, 2}, {2, 1}, 1},
      {{1, 1, 6, 6}, {2, 2}, {2, 2}, {}, {}, 1},
      {{1, 2, 7, 7}, {3, 3}, {1, 2}, {2, 1, 2, 1}, {2, 2}, 0},
      {{2, 3, 11}, {4}, {3}, {1, 2}, {}, 1},
      {{1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {1, 1, 0, 0, 1, 1}, {}, 1},
  };
  return cases;
}

} // namespace

/// max_pool against naive loops: pads, strides, dilations, ceil_mode, 1-D
/// to 3-D windows; padding never wins.
TEST(LoweringOps, MaxPool) {
  uint64_t seed = 1400;
  for (DType t : kFloats)
    for (const PoolCase &cs : poolCases()) {
      SCOPED_TRACE("max_pool " + ty(t, cs.x).str() + " ceil " +
                   std::to_string(cs.ceil));
      // All negative: a padding zero would win if it counted.
      Tensor x = randomTensor(ty(t, cs.x), ++seed, -3, -1);
      Tensor y = runOp("max_pool", {x}, poolAttrs(cs));
      ASSERT_FALSE(y.empty());
      expectTensorNear(y,
                       Tensor::fromDoubles(
                           y.type(), naivePool(x, y.dims(), cs, false, false)),
                       defaultTol(t));
    }
}

/// avg_pool against naive loops, with and without count_include_pad,
/// including ceil_mode windows that run past the padded input.
TEST(LoweringOps, AvgPool) {
  uint64_t seed = 1500;
  for (DType t : kFloats)
    for (int64_t include : {0, 1})
      for (const PoolCase &cs : poolCases()) {
        SCOPED_TRACE("avg_pool " + ty(t, cs.x).str() + " ceil " +
                     std::to_string(cs.ceil) + " count_include_pad " +
                     std::to_string(include));
        Tensor x = randomTensor(ty(t, cs.x), ++seed);
        AttrMap attrs = poolAttrs(cs);
        attrs["count_include_pad"] = Attribute(include);
        Tensor y = runOp("avg_pool", {x}, attrs);
        ASSERT_FALSE(y.empty());
        expectTensorNear(
            y,
            Tensor::fromDoubles(y.type(),
                                naivePool(x, y.dims(), cs, true, include != 0)),
            defaultTol(t));
      }
}

/// A ceil_mode window past the padded input: ONNX (as ONNX Runtime)
/// divides by the taps inside the padded input with count_include_pad, by
/// the taps inside x without.
TEST(LoweringOps, AvgPoolCeilModeDivisorByHand) {
  // x = [1 .. 6], kernel 3, stride 2, pads [1, 1], ceil_mode: 4 windows,
  // starting at -1, 1, 3 and 5; the last covers x[5], the end pad and one
  // tap past the padded input.
  Tensor x = Tensor::fromDoubles(ty(DType::F32, {1, 1, 6}), {1, 2, 3, 4, 5, 6});
  AttrMap a{{"kernel_shape", Attribute(Dims{3})},
            {"strides", Attribute(Dims{2})},
            {"pads", Attribute(Dims{1, 1})},
            {"ceil_mode", Attribute(int64_t(1))}};
  a["count_include_pad"] = Attribute(int64_t(1));
  expectOp("avg_pool", {x}, a, ty(DType::F32, {1, 1, 4}),
           {3.0 / 3, 9.0 / 3, 15.0 / 3, 6.0 / 2});
  a["count_include_pad"] = Attribute(int64_t(0));
  expectOp("avg_pool", {x}, a, ty(DType::F32, {1, 1, 4}),
           {3.0 / 2, 9.0 / 3, 15.0 / 3, 6.0 / 1});
}

/// global_avg_pool and global_max_pool against naive loops.
TEST(LoweringOps, GlobalPools) {
  uint64_t seed = 1600;
  for (DType t : kFloats)
    for (const Dims &d :
         std::vector<Dims>{{2, 3, 5, 4}, {1, 2, 7}, {2, 1, 3, 2, 3}})
      for (bool average : {false, true}) {
        const char *op = average ? "global_avg_pool" : "global_max_pool";
        SCOPED_TRACE(std::string(op) + " " + ty(t, d).str());
        Tensor x = randomTensor(ty(t, d), ++seed);
        Tensor y = runOp(op, {x});
        ASSERT_FALSE(y.empty());
        int64_t space = product(d) / (d[0] * d[1]);
        std::vector<double> want;
        for (int64_t nc = 0; nc < d[0] * d[1]; ++nc) {
          double acc = average ? 0 : -kInf;
          for (int64_t i = 0; i < space; ++i) {
            double v = x.getDouble(nc * space + i);
            acc = average ? acc + v : std::max(acc, v);
          }
          want.push_back(average ? acc / double(space) : acc);
        }
        expectTensorNear(y, Tensor::fromDoubles(y.type(), want), defaultTol(t));
      }
}

/// gemm against naive loops: transposes, alpha and beta, every form of c.
TEST(LoweringOps, Gemm) {
  const int64_t M = 5, N = 7, K = 3;
  std::vector<Dims> cShapes{{}, {N}, {M, N}, {1, N}, {M, 1}};
  uint64_t seed = 1700;
  for (DType t : {DType::F32, DType::F64, DType::I64})
    for (int64_t ta : {0, 1})
      for (int64_t tb : {0, 1})
        for (int ci = -1; ci < int(cShapes.size()); ++ci) {
          double alpha = ci % 2 ? 1.0 : 0.5, beta = ci == 2 ? 1.0 : -2.0;
          if (!isFloat(t)) {
            alpha = ci % 2 ? 1.0 : 2.0;
            beta = ci == 2 ? 1.0 : -3.0;
          }
          bool hasC = ci >= 0;
          SCOPED_TRACE(std::string("gemm ") + dtypeName(t) + " trans " +
                       std::to_string(ta) + std::to_string(tb) + " c " +
                       (hasC ? ty(t, cShapes[size_t(ci)]).str() : "none"));
          Tensor a =
              randomTensor(ty(t, ta ? Dims{K, M} : Dims{M, K}), ++seed, -9, 9);
          Tensor b =
              randomTensor(ty(t, tb ? Dims{N, K} : Dims{K, N}), ++seed, -9, 9);
          std::vector<Tensor> in{a, b};
          if (hasC)
            in.push_back(
                randomTensor(ty(t, cShapes[size_t(ci)]), ++seed, -9, 9));
          Tensor y = runOp("gemm", in,
                           {{"alpha", Attribute(alpha)},
                            {"beta", Attribute(beta)},
                            {"trans_a", Attribute(ta)},
                            {"trans_b", Attribute(tb)}});
          ASSERT_FALSE(y.empty());
          std::vector<double> want;
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              double acc = 0;
              for (int64_t k = 0; k < K; ++k)
                acc += a.getDouble(ta ? k * M + m : m * K + k) *
                       b.getDouble(tb ? n * K + k : k * N + n);
              double v = alpha * acc;
              if (hasC) {
                const Dims &cd = cShapes[size_t(ci)];
                int64_t idx = cd.empty()       ? 0
                              : cd.size() == 1 ? n
                                               : (cd[0] == 1 ? 0 : m) * cd[1] +
                                                     (cd[1] == 1 ? 0 : n);
                v += beta * in[2].getDouble(idx);
              }
              want.push_back(v);
            }
          expectTensorNear(y, Tensor::fromDoubles(y.type(), want),
                           defaultTol(t));
        }
}

namespace {

/// numpy.matmul of \p a and \p b, row-major.
std::vector<double> naiveMatMul(const Tensor &a, const Tensor &b) {
  const Dims &da = a.dims(), &db = b.dims();
  // Promote 1-D operands, broadcast the batch, drop added axes.
  Dims pa = da, pb = db;
  if (pa.size() == 1)
    pa.insert(pa.begin(), 1);
  if (pb.size() == 1)
    pb.push_back(1);
  size_t nb = std::max(pa.size(), pb.size()) - 2;
  while (pa.size() < nb + 2)
    pa.insert(pa.begin(), 1);
  while (pb.size() < nb + 2)
    pb.insert(pb.begin(), 1);
  Dims full;
  for (size_t i = 0; i < nb; ++i)
    full.push_back(std::max(pa[i], pb[i]));
  int64_t M = pa[nb], K = pa[nb + 1], N = pb[nb + 1];
  full.push_back(M);
  full.push_back(N);
  std::vector<double> want;
  for (int64_t flat = 0; flat < product(full); ++flat) {
    std::vector<int64_t> o = unflatten(flat, full);
    double acc = 0;
    for (int64_t k = 0; k < K; ++k) {
      std::vector<int64_t> ai, bi;
      for (size_t i = 0; i < nb; ++i) {
        ai.push_back(pa[i] == 1 ? 0 : o[i]);
        bi.push_back(pb[i] == 1 ? 0 : o[i]);
      }
      ai.push_back(o[nb]);
      ai.push_back(k);
      bi.push_back(k);
      bi.push_back(o[nb + 1]);
      acc += a.getDouble(flatOf(ai, pa)) * b.getDouble(flatOf(bi, pb));
    }
    want.push_back(acc);
  }
  return want;
}

} // namespace

/// matmul against naive loops: 1-D operands, batches that broadcast.
TEST(LoweringOps, MatMul) {
  std::vector<std::pair<Dims, Dims>> cases{{{3, 4}, {4, 5}},
                                           {{4}, {4, 5}},
                                           {{3, 4}, {4}},
                                           {{4}, {4}},
                                           {{2, 3, 4}, {4, 5}},
                                           {{3, 4}, {2, 4, 5}},
                                           {{2, 1, 3, 4}, {5, 4, 2}},
                                           {{7}, {2, 7, 3}},
                                           {{2, 3, 4}, {4}}};
  uint64_t seed = 1800;
  for (DType t : {DType::F32, DType::F64, DType::I64})
    for (const auto &[da, db] : cases) {
      SCOPED_TRACE("matmul " + ty(t, da).str() + " " + ty(t, db).str());
      Tensor a = randomTensor(ty(t, da), ++seed, -9, 9);
      Tensor b = randomTensor(ty(t, db), ++seed, -9, 9);
      Tensor y = runOp("matmul", {a, b});
      ASSERT_FALSE(y.empty());
      std::vector<double> want = naiveMatMul(a, b);
      ASSERT_EQ(y.numElements(), int64_t(want.size()));
      expectTensorNear(y, Tensor::fromDoubles(y.type(), want), defaultTol(t));
    }
}

namespace {

/// ONNX LRN over x [N, C, ...]: the square sum runs over channels
/// c - floor((size-1)/2) .. c + ceil((size-1)/2) inside [0, C).
std::vector<double> naiveLrn(const Tensor &x, int64_t size, double alpha,
                             double beta, double bias) {
  const Dims &d = x.dims();
  int64_t C = d[1], inner = product(d) / (d[0] * C);
  std::vector<double> want;
  for (int64_t flat = 0; flat < product(d); ++flat) {
    int64_t c = (flat / inner) % C;
    double sq = 0;
    for (int64_t j = c - (size - 1) / 2; j <= c + size / 2; ++j)
      if (j >= 0 && j < C) {
        double v = x.getDouble(flat + (j - c) * inner);
        sq += v * v;
      }
    want.push_back(x.getDouble(flat) /
                   std::pow(bias + alpha / double(size) * sq, beta));
  }
  return want;
}

} // namespace

/// lrn against the ONNX formula: the square sum runs over channels
/// c - floor((size-1)/2) .. c + ceil((size-1)/2).
TEST(LoweringOps, Lrn) {
  uint64_t seed = 1900;
  for (DType t : kFloats)
    for (int64_t size : {1, 2, 3, 5, 8})
      for (const Dims &d : std::vector<Dims>{{2, 7, 3, 3}, {1, 5, 4}}) {
        SCOPED_TRACE("lrn size " + std::to_string(size) + " " + ty(t, d).str());
        double alpha = 0.3, beta = 0.6, bias = 1.5;
        Tensor x = randomTensor(ty(t, d), ++seed, -2, 2);
        Tensor y = runOp("lrn", {x},
                         {{"size", Attribute(size)},
                          {"alpha", Attribute(alpha)},
                          {"beta", Attribute(beta)},
                          {"bias", Attribute(bias)}});
        ASSERT_FALSE(y.empty());
        expectTensorNear(
            y,
            Tensor::fromDoubles(y.type(), naiveLrn(x, size, alpha, beta, bias)),
            defaultTol(t));
      }
}

/// gemm with b transposed ([N, K], a Linear layer's weights), which sums
/// vectors across k in groups of 4 rows of b: K below, at and off a
/// multiple of the vector width (the tail summed apart), N off a multiple
/// of 4 (the last group's extra rows), one and several rows of a, with c,
/// f32, f64 and i64.
TEST(LoweringOps, GemmTransposedB) {
  uint64_t seed = 1750;
  for (DType t : {DType::F32, DType::F64, DType::I64})
    for (int64_t K : {5, 37, 64})
      for (int64_t N : {3, 10})
        for (int64_t M : {1, 3}) {
          SCOPED_TRACE(std::string(dtypeName(t)) + " M " + std::to_string(M) +
                       " N " + std::to_string(N) + " K " + std::to_string(K));
          Tensor a = randomTensor(ty(t, {M, K}), ++seed, -9, 9);
          Tensor b = randomTensor(ty(t, {N, K}), ++seed, -9, 9);
          Tensor cv = randomTensor(ty(t, {N}), ++seed, -9, 9);
          double alpha = isFloat(t) ? 0.5 : 2.0;
          Tensor y = runOp("gemm", {a, b, cv},
                           {{"alpha", Attribute(alpha)},
                            {"trans_b", Attribute(int64_t(1))}});
          ASSERT_FALSE(y.empty());
          std::vector<double> want;
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              double acc = 0;
              for (int64_t k = 0; k < K; ++k)
                acc += a.getDouble(m * K + k) * b.getDouble(n * K + k);
              want.push_back(alpha * acc + cv.getDouble(n));
            }
          expectTensorNear(y, Tensor::fromDoubles(y.type(), want),
                           t == DType::F32 ? 1e-4 : 1e-9);
        }
}

/// conv in f64 (LoweringTest checks f32 against naive loops): a grouped,
/// strided, dilated, padded case against a naive loop nest.
/// conv of \p x, \p w and \p b by naive loops, 2-D, zero padding.
std::vector<double> naiveConv2d(const Tensor &x, const Tensor &w,
                                const Tensor &b, const Dims &yd,
                                const Dims &strides, const Dims &pads,
                                const Dims &dil, int64_t group) {
  const Dims &xd = x.dims(), &wd = w.dims();
  std::vector<double> want;
  for (int64_t flat = 0; flat < product(yd); ++flat) {
    std::vector<int64_t> o = unflatten(flat, yd);
    double acc = b.getDouble(o[1]);
    int64_t g0 = o[1] / (wd[0] / group);
    for (int64_t c = 0; c < wd[1]; ++c)
      for (int64_t kh = 0; kh < wd[2]; ++kh)
        for (int64_t kw = 0; kw < wd[3]; ++kw) {
          int64_t ih = o[2] * strides[0] - pads[0] + kh * dil[0];
          int64_t iw = o[3] * strides[1] - pads[1] + kw * dil[1];
          if (ih < 0 || ih >= xd[2] || iw < 0 || iw >= xd[3])
            continue;
          acc += x.getDouble(flatOf({o[0], g0 * wd[1] + c, ih, iw}, xd)) *
                 w.getDouble(flatOf({o[1], c, kh, kw}, wd));
        }
    want.push_back(acc);
  }
  return want;
}

TEST(LoweringOps, ConvF64) {
  Dims xd{1, 4, 7, 6}, wd{6, 2, 3, 2};
  Dims strides{2, 1}, pads{1, 0, 1, 1}, dil{1, 2};
  int64_t group = 2;
  Tensor x = randomTensor(ty(DType::F64, xd), 1),
         w = randomTensor(ty(DType::F64, wd), 2);
  Tensor b = randomTensor(ty(DType::F64, {6}), 3);
  Tensor y = runOp("conv", {x, w, b},
                   {{"group", Attribute(group)},
                    {"strides", Attribute(strides)},
                    {"pads", Attribute(pads)},
                    {"dilations", Attribute(dil)}});
  ASSERT_FALSE(y.empty());
  expectTensorNear(y,
                   Tensor::fromDoubles(y.type(), naiveConv2d(x, w, b, y.dims(),
                                                             strides, pads, dil,
                                                             group)),
                   1e-11);
}

/// The Winograd form (schedule layout=winograd, F(2x2, 3x3)) against the
/// naive loops: two images, odd output sizes (9x7, so the last 2x2 tiles
/// run past them), asymmetric pads, 11 filters (not a whole block of 2
/// vectors of 4), f64 and f32.
TEST(LoweringOps, ConvWinograd) {
  Dims xd{2, 5, 9, 8}, wd{11, 5, 3, 3}, pads{0, 1, 2, 0}, one{1, 1};
  for (DType t : {DType::F64, DType::F32}) {
    SCOPED_TRACE(dtypeName(t));
    Tensor x = randomTensor(ty(t, xd), 11), w = randomTensor(ty(t, wd), 12),
           b = randomTensor(ty(t, {11}), 13);
    std::string sched = t == DType::F64
                            ? "vector=4 layout=winograd tile=2x3 parallel=outer"
                            : "vector=8 layout=winograd tile=2x3 parallel=none";
    Tensor y = runOp("conv", {x, w, b},
                     {{"pads", Attribute(pads)}, {kScheduleAttr, Attribute(sched)}});
    ASSERT_FALSE(y.empty());
    EXPECT_EQ(y.dims(), (Dims{2, 11, 9, 7}));
    expectTensorNear(
        y,
        Tensor::fromDoubles(y.type(), naiveConv2d(x, w, b, y.dims(), one, pads,
                                                  one, 1)),
        t == DType::F64 ? 1e-11 : 1e-5);
  }
}

/// A parallel loop shorter than kMinParallelTasks is fused with the loop
/// inside it (parallelLoop): nchw's rows of tiles with its filter tiles,
/// nchwc's rows with its filter blocks (and the blocks with the rows),
/// Winograd's output transform's filter blocks with its tile rows. One
/// image, so no schedule falls back to the batch; the results against the
/// naive loops, the loops run on the JIT's thread pool.
TEST(LoweringOps, ConvShortParallelLoopsFused) {
  Dims xd{1, 9, 10, 11}, wd{13, 9, 3, 3}, one{1, 1}, pads{1, 1, 1, 1};
  Tensor x = randomTensor(ty(DType::F64, xd), 41),
         w = randomTensor(ty(DType::F64, wd), 42),
         b = randomTensor(ty(DType::F64, {13}), 43);
  std::vector<double> want = naiveConv2d(x, w, b, {1, 13, 10, 11}, one, pads,
                                         one, 1);
  for (const char *sched :
       {"vector=4 layout=nchw tile=2x3 parallel=rows",
        "vector=4 layout=nchwc tile=1x4 parallel=rows",
        "vector=4 layout=nchwc tile=1x4 parallel=filters",
        "vector=4 layout=winograd tile=1x3 parallel=outer"}) {
    SCOPED_TRACE(sched);
    Tensor y = runOp("conv", {x, w, b},
                     {{"pads", Attribute(pads)}, {kScheduleAttr, Attribute(sched)}});
    ASSERT_FALSE(y.empty());
    EXPECT_EQ(y.dims(), (Dims{1, 13, 10, 11}));
    expectTensorNear(y, Tensor::fromDoubles(y.type(), want), 1e-11);
  }
}

/// nchw with band=R: the sums computed per band of R output rows inside
/// the output's loops (scheduleInRowBands), against the naive loops: bands
/// that divide the 20 rows and one that does not (the last band shifted
/// in), tiles of rows that do not divide the band, one image (parallel
/// over the bands) and two (over the images), a stride and uneven pads.
TEST(LoweringOps, ConvInRowBands) {
  Dims wd{7, 5, 3, 3}, strides{1, 1}, pads{1, 2, 0, 1}, one{1, 1};
  for (int64_t images : {1, 2}) {
    Dims xd{images, 5, 21, 13};
    Tensor x = randomTensor(ty(DType::F64, xd), 51),
           w = randomTensor(ty(DType::F64, wd), 52),
           b = randomTensor(ty(DType::F64, {7}), 53);
    Dims yd{images, 7, 20, 14};
    std::vector<double> want = naiveConv2d(x, w, b, yd, strides, pads, one, 1);
    for (const char *sched : {"vector=4 layout=nchw tile=2x3 band=6 parallel=rows",
                              "vector=4 layout=nchw tile=2x2 band=4 parallel=rows",
                              "vector=4 layout=nchw tile=3x2 band=7 parallel=none"}) {
      SCOPED_TRACE(std::string(sched) + ", images " + std::to_string(images));
      Tensor y = runOp("conv", {x, w, b},
                       {{"pads", Attribute(pads)},
                        {kScheduleAttr, Attribute(sched)}});
      ASSERT_FALSE(y.empty());
      EXPECT_EQ(y.dims(), yd);
      expectTensorNear(y, Tensor::fromDoubles(y.type(), want), 1e-11);
    }
  }
}

/// A schedule that says winograd for a conv Winograd can not compute is an
/// error naming the schedule and what the layout needs.
TEST(LoweringOps, ConvWinogradRefusesOtherConvs) {
  Tensor x = randomTensor(ty(DType::F32, {1, 2, 8, 8}), 1);
  for (auto [wd, strides] :
       std::vector<std::pair<Dims, Dims>>{{{3, 2, 3, 3}, {2, 2}},
                                          {{3, 2, 5, 5}, {1, 1}}}) {
    Graph g;
    Value *xv = g.addInput("x", x.type());
    Value *wv = g.addInput("w", ty(DType::F32, wd));
    Node *n = g.addNode(
        "conv", {xv, wv},
        {{"strides", Attribute(strides)},
         {kScheduleAttr,
          Attribute("vector=8 layout=winograd tile=2x3 parallel=none")}});
    auto types = computeNodeShape(*n);
    ASSERT_TRUE(types.ok()) << types.status().message();
    n->result(0)->setType((*types)[0]);
    auto jit = evaluateNodeJit(*n, {x, randomTensor(ty(DType::F32, wd), 2)});
    ASSERT_FALSE(jit.ok());
    EXPECT_NE(jit.status().message().find(
                  "schedule 'vector=8 layout=winograd tile=2x3 parallel=none': "
                  "layout winograd needs a 2-D conv of one group with a 3x3 "
                  "kernel, stride 1 and dilation 1"),
              std::string::npos)
        << jit.status().message();
  }
}

/// nchwc_weights against its definition: wb[mo, cb, ky, kx, ci, mi] =
/// w[mo * block + mi, cb * cblock + ci, ky, kx], zero past the 11 filters
/// (2 blocks of 8) and the 5 channels (2 blocks of 4).
TEST(LoweringOps, NchwcWeights) {
  Tensor w = randomTensor(ty(DType::F32, {11, 5, 2, 3}), 21);
  Tensor wb = runOp("nchwc_weights", {w},
                    {{"block", Attribute(int64_t(8))},
                     {"cblock", Attribute(int64_t(4))}});
  ASSERT_FALSE(wb.empty());
  const Dims want{2, 2, 2, 3, 4, 8};
  ASSERT_EQ(wb.dims(), want);
  std::vector<double> expect;
  for (int64_t flat = 0; flat < product(want); ++flat) {
    std::vector<int64_t> i = unflatten(flat, want);
    int64_t f = i[0] * 8 + i[5], ch = i[1] * 4 + i[4];
    expect.push_back(f < 11 && ch < 5
                         ? w.getDouble(flatOf({f, ch, i[2], i[3]}, w.dims()))
                         : 0.0);
  }
  expectTensorNear(wb, Tensor::fromDoubles(wb.type(), expect), 0);
}

/// conv_nchwc (the pack-weights pass's form of a conv scheduled nchwc)
/// over nchwc_weights' blocks against the naive loops: two images, 13
/// channels (not whole blocks of a vector), 11 filters (not whole blocks
/// of the tile), a stride and a dilation on different axes, asymmetric
/// pads, 9 output columns (not whole tiles: the last one shifted in), f64
/// and f32.
TEST(LoweringOps, ConvNchwc) {
  Dims xd{2, 13, 9, 11}, wd{11, 13, 3, 3}, strides{2, 1}, pads{1, 0, 0, 2},
      dil{1, 2};
  for (DType t : {DType::F64, DType::F32}) {
    SCOPED_TRACE(dtypeName(t));
    Tensor x = randomTensor(ty(t, xd), 31), w = randomTensor(ty(t, wd), 32),
           b = randomTensor(ty(t, {11}), 33);
    int64_t lanes = t == DType::F64 ? 4 : 8;
    std::string sched = t == DType::F64
                            ? "vector=4 layout=nchwc tile=2x4 parallel=filters"
                            : "vector=8 layout=nchwc tile=1x4 parallel=none";
    int64_t block = lanes * (t == DType::F64 ? 2 : 1);
    Tensor wb = runOp("nchwc_weights", {w},
                      {{"block", Attribute(block)}, {"cblock", Attribute(lanes)}});
    ASSERT_FALSE(wb.empty());
    Tensor y = runOp("conv_nchwc", {x, wb, b},
                     {{"filters", Attribute(int64_t(11))},
                      {"strides", Attribute(strides)},
                      {"pads", Attribute(pads)},
                      {"dilations", Attribute(dil)},
                      {kScheduleAttr, Attribute(sched)}});
    ASSERT_FALSE(y.empty());
    EXPECT_EQ(y.dims(), (Dims{2, 11, 4, 9}));
    expectTensorNear(
        y,
        Tensor::fromDoubles(y.type(), naiveConv2d(x, w, b, y.dims(), strides,
                                                  pads, dil, 1)),
        t == DType::F64 ? 1e-11 : 1e-5);
  }
}

/// conv_nchwc's shapes and schedule must match its weights' blocks: each
/// mismatch is an error naming it.
TEST(LoweringOps, ConvNchwcErrors) {
  auto node = [](Graph &g, const Dims &xd, const Dims &wbd, int64_t filters,
                 const std::string &sched) {
    Value *xv = g.addInput("x", ty(DType::F32, xd));
    Value *wv = g.addInput("wb", ty(DType::F32, wbd));
    return g.addNode("conv_nchwc", {xv, wv},
                     {{"filters", Attribute(filters)},
                      {kScheduleAttr, Attribute(sched)}});
  };
  const std::string ok = "vector=8 layout=nchwc tile=2x5 parallel=none";
  struct Case {
    Dims xd, wbd;
    int64_t filters;
    std::string message;
  } cases[] = {
      {{1, 20, 8, 8}, {2, 2, 1, 1, 8, 16}, 20,
       "weights f32[2,2,1,1,8,16] are not blocks of 8 of the input's 20 channels"},
      {{1, 16, 8, 8}, {2, 2, 1, 1, 8, 16}, 40,
       "40 filters do not fill the 2 blocks of 16 of the weights"},
      {{1, 16, 8, 8}, {2, 2, 1, 8, 16}, 20,
       "input must be [N, C, spatial...] and the weights [filter blocks, "
       "channel blocks, kernel..., cblock, block]"},
  };
  for (const Case &k : cases) {
    Graph g;
    Node *n = node(g, k.xd, k.wbd, k.filters, ok);
    auto types = computeNodeShape(*n);
    ASSERT_FALSE(types.ok()) << k.message;
    EXPECT_NE(types.status().message().find(k.message), std::string::npos)
        << types.status().message();
  }
  // Shapes that agree, under a schedule of other blocks.
  Graph g;
  Node *n = node(g, {1, 16, 8, 8}, {2, 2, 1, 1, 8, 16}, 20,
                 "vector=8 layout=nchwc tile=3x4 parallel=none");
  auto types = computeNodeShape(*n);
  ASSERT_TRUE(types.ok()) << types.status().message();
  n->result(0)->setType((*types)[0]);
  auto jit = evaluateNodeJit(
      *n, {randomTensor(ty(DType::F32, {1, 16, 8, 8}), 1),
           randomTensor(ty(DType::F32, {2, 2, 1, 1, 8, 16}), 2)});
  ASSERT_FALSE(jit.ok());
  EXPECT_NE(jit.status().message().find(
                "schedule 'vector=8 layout=nchwc tile=3x4 parallel=none' is "
                "not an nchwc schedule of the weights' blocks (8 channels, 16 "
                "filters)"),
            std::string::npos)
      << jit.status().message();
}

/// conv_grad_weight's register tiles summing the batch in chunks of
/// images (schedule chunk=K, which the schedule pass sets where x and dy
/// exceed half of L2) against naive loops: 6 images in chunks of 2 and 3
/// and unchunked, 5 filters and 3 channels (not whole 2x2 or 3x1 tiles), a
/// stride and asymmetric pads, f64 and f32.
TEST(LoweringOps, ConvGradWeightInBatchChunks) {
  Dims xd{6, 3, 9, 10}, wd{5, 3, 3, 3}, strides{2, 1}, pads{1, 0, 0, 1};
  for (DType t : {DType::F64, DType::F32})
    for (const char *tile : {"2x2", "3x1"})
    for (int chunk : {0, 2, 3}) {
      SCOPED_TRACE(std::string(dtypeName(t)) + " tile " + tile + " chunk " +
                   std::to_string(chunk));
      Tensor x = randomTensor(ty(t, xd), 41);
      Dims yd{6, 5, (9 + 1 - 3) / 2 + 1, (10 + 1 - 3) / 1 + 1};
      Tensor dy = randomTensor(ty(t, yd), 42);
      std::string sched = std::string(t == DType::F64 ? "vector=4" : "vector=8") +
                          " tile=" + tile +
                          (chunk ? " chunk=" + std::to_string(chunk) : "") +
                          " parallel=filters";
      Tensor dw = runOp("conv_grad_weight", {x, dy},
                        {{"w_shape", Attribute(wd)},
                         {"strides", Attribute(strides)},
                         {"pads", Attribute(pads)},
                         {kScheduleAttr, Attribute(sched)}});
      ASSERT_FALSE(dw.empty());
      ASSERT_EQ(dw.dims(), wd);
      std::vector<double> want;
      for (int64_t flat = 0; flat < product(wd); ++flat) {
        std::vector<int64_t> k = unflatten(flat, wd); // m, c, ky, kx
        double acc = 0;
        for (int64_t n = 0; n < yd[0]; ++n)
          for (int64_t oy = 0; oy < yd[2]; ++oy)
            for (int64_t ox = 0; ox < yd[3]; ++ox) {
              int64_t iy = oy * strides[0] - pads[0] + k[2];
              int64_t ix = ox * strides[1] - pads[1] + k[3];
              if (iy < 0 || iy >= xd[2] || ix < 0 || ix >= xd[3])
                continue;
              acc += dy.getDouble(flatOf({n, k[0], oy, ox}, yd)) *
                     x.getDouble(flatOf({n, k[1], iy, ix}, xd));
            }
        want.push_back(acc);
      }
      expectTensorNear(dw, Tensor::fromDoubles(dw.type(), want),
                       t == DType::F64 ? 1e-10 : 1e-4);
    }
}

/// softmax_cross_entropy and hinge_loss against naive loops, i64 and i32
/// labels, f32 and f64 logits.
TEST(LoweringOps, Losses) {
  uint64_t seed = 2000;
  for (DType t : kFloats)
    for (DType lt : {DType::I64, DType::I32})
      for (const Dims &d : std::vector<Dims>{{5, 7}, {1, 3}, {8, 10}}) {
        SCOPED_TRACE(ty(t, d).str() + " labels " + dtypeName(lt));
        int64_t N = d[0], C = d[1];
        Tensor logits = randomTensor(ty(t, d), ++seed, -4, 4);
        Tensor labels = randomTensor(ty(lt, {N}), ++seed, 0, double(C - 1));
        double ce = 0, hinge = 0, margin = 0.75;
        for (int64_t n = 0; n < N; ++n) {
          int64_t y = labels.getInt(n);
          double m = -kInf, s = 0;
          for (int64_t j = 0; j < C; ++j)
            m = std::max(m, logits.getDouble(n * C + j));
          for (int64_t j = 0; j < C; ++j)
            s += std::exp(logits.getDouble(n * C + j) - m);
          ce += -(logits.getDouble(n * C + y) - m - std::log(s));
          for (int64_t j = 0; j < C; ++j)
            if (j != y)
              hinge += std::max(0.0, logits.getDouble(n * C + j) -
                                         logits.getDouble(n * C + y) + margin);
        }
        expectOp("softmax_cross_entropy", {logits, labels}, {}, ty(t, {}),
                 {ce / double(N)});
        expectOp("hinge_loss", {logits, labels},
                 {{"margin", Attribute(margin)}}, ty(t, {}),
                 {hinge / double(N)});
      }
}

/// Reductions and their copies at innermost extents below, equal to, a
/// multiple of and off a multiple of the vector width: the default
/// schedule vectorizes updates only without a tail (Halide 14 miscompiles
/// some predicated tails) and copies vectorized reductions out of a
/// Halide-allocated Func (it assumes aligned outputs in such updates).
TEST(LoweringOps, VectorWidths) {
  uint64_t seed = 2100;
  for (int64_t w : {3, 4, 8, 12, 16, 17, 32})
    for (DType t : kFloats) {
      SCOPED_TRACE("width " + std::to_string(w) + " " + dtypeName(t));
      Tensor a = randomTensor(ty(t, {5, 3}), ++seed);
      Tensor b = randomTensor(ty(t, {3, w}), ++seed);
      Tensor y = runOp("matmul", {a, b});
      ASSERT_FALSE(y.empty());
      expectTensorNear(y, Tensor::fromDoubles(y.type(), naiveMatMul(a, b)),
                       defaultTol(t));
      for (DType rt : {t, DType::I64})
        for (int64_t axis : {0, 1})
          runOp("reduce_mean", {randomTensor(ty(rt, {3, w}), ++seed, -50, 50)},
                {{"axes", Attribute(Dims{axis})},
                 {"keepdims", Attribute(int64_t(0))}});
      runOp("softmax", {randomTensor(ty(t, {3, w}), ++seed)},
            {{"axis", Attribute(int64_t(0))}});
      // A 1x2 window with one end pad keeps the width w.
      PoolCase pc{{1, 2, 3, w}, {1, 2}, {}, {0, 0, 0, 1}, {}, 0};
      for (bool average : {false, true}) {
        Tensor x = randomTensor(ty(t, pc.x), ++seed);
        Tensor p = runOp(average ? "avg_pool" : "max_pool", {x}, poolAttrs(pc));
        ASSERT_FALSE(p.empty());
        expectTensorNear(
            p,
            Tensor::fromDoubles(p.type(),
                                naivePool(x, p.dims(), pc, average, false)),
            defaultTol(t));
      }
      Tensor lx = randomTensor(ty(t, {1, 3, 2, w}), ++seed);
      Tensor l = runOp("lrn", {lx},
                       {{"size", Attribute(int64_t(3))},
                        {"alpha", Attribute(0.5)},
                        {"beta", Attribute(0.75)},
                        {"bias", Attribute(1.0)}});
      ASSERT_FALSE(l.empty());
      expectTensorNear(
          l, Tensor::fromDoubles(l.type(), naiveLrn(lx, 3, 0.5, 0.75, 1.0)),
          defaultTol(t));
    }
}

/// Ahead-of-time compilation (as cnnc does for model.so) accepts the
/// lowerings with AOT-specific parts: constant's baked-in Buffer, the
/// intermediate Funcs of softmax and the losses, and the copied-out
/// reductions.
TEST(LoweringOps, CompilesAheadOfTime) {
  struct Case {
    const char *op;
    std::vector<TensorType> inputs;
    AttrMap attrs;
  };
  Tensor value = randomTensor(ty(DType::F32, {3, 5}), 1);
  std::vector<Case> cases{
      {"constant", {}, {{"value", Attribute(value)}}},
      {"softmax", {ty(DType::F32, {4, 9})}, {}},
      {"gemm", {ty(DType::F32, {5, 3}), ty(DType::F32, {3, 16})}, {}},
      {"avg_pool",
       {ty(DType::F32, {1, 2, 9, 9})},
       {{"kernel_shape", Attribute(Dims{3, 3})},
        {"pads", Attribute(Dims{1, 1, 1, 1})}}},
      {"reduce_mean", {ty(DType::I64, {3, 8})}, {}},
      {"softmax_cross_entropy",
       {ty(DType::F32, {4, 7}), ty(DType::I64, {4})},
       {}},
  };
  std::string dir = ::testing::TempDir();
  for (const Case &cs : cases) {
    SCOPED_TRACE(cs.op);
    Graph g;
    std::vector<Value *> operands;
    for (size_t i = 0; i < cs.inputs.size(); ++i)
      operands.push_back(g.addInput("x" + std::to_string(i), cs.inputs[i]));
    Node *n = g.addNode(cs.op, operands, cs.attrs);
    auto types = computeNodeShape(*n);
    ASSERT_TRUE(types.ok()) << types.status().message();
    n->result(0)->setType((*types)[0]);
    std::string fn = std::string("aot_") + cs.op;
    auto m = lowerNodeToModule(
        *n, fn,
        Halide::get_host_target().with_feature(Halide::Target::NoRuntime));
    ASSERT_TRUE(m.ok()) << m.status().message();
    std::string obj = dir + fn + ".o";
    EXPECT_NO_THROW(m->compile({{Halide::OutputFileType::object, obj}}));
    EXPECT_TRUE(std::ifstream(obj).good()) << obj;
    std::remove(obj.c_str());
  }
}
