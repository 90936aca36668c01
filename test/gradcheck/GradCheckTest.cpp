//===- test/gradcheck/GradCheckTest.cpp - every op's gradient, numerically -===//
//
// One case per op with a gradient rule, and per interesting attribute
// combination, each checked in double precision against centered
// differences (GradCheck.h). The table "op case max-rel-error" is printed
// at the end of a run; a case fails above kTolerance. GradCheckSelf shows
// that the check fails on wrong gradients.
//
//===----------------------------------------------------------------------===//
#include "GradCheck.h"

#include "codegen/HalideLowering.h"
#include "ir/OpDef.h"
#include "passes/Autodiff.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>

using namespace cnnc;
using namespace cnnc::gradcheck;

namespace {

/// In double precision the errors are about 1e-8 or smaller (Options::step
/// explains h); a wrong rule is off by 1e-3 or (much) more.
constexpr double kTolerance = 1e-6;

struct Case {
  std::string op, name;
  std::function<void(CaseBuilder &)> build;
  /// h of the centered differences (Options::step).
  double step = Options().step;
};

/// gtest prints a case by its name (ctest shows it).
void PrintTo(const Case &c, std::ostream *os) { *os << c.op << "/" << c.name; }

using Ints = std::vector<int64_t>;
Attribute ints(Ints v) { return Attribute(std::move(v)); }
Attribute i64(int64_t v) { return Attribute(v); }

/// A case of a unary op on one input of \p dims with values in [lo, hi).
Case unary(const std::string &op, double lo = -1, double hi = 1,
           AttrMap attrs = {}, const std::string &name = "basic") {
  return {op, name, [=](CaseBuilder &b) {
            b.loss(b.node(op, {b.input("x", {2, 3, 4}, lo, hi)}, attrs));
          }};
}

/// A case of a binary broadcasting op on shapes \p a and \p b.
Case binary(const std::string &op, Ints a, Ints bd, const std::string &name,
            double lo = -1, double hi = 1) {
  return {op, name, [=](CaseBuilder &b) {
            Value *x = b.input("a", a, lo, hi);
            Value *y = b.input("b", bd, lo, hi);
            b.loss(b.node(op, {x, y}));
          }};
}

Case gemm(int64_t ta, int64_t tb, bool fullC) {
  std::string name = "trans_a" + std::to_string(ta) + "_trans_b" +
                     std::to_string(tb) + (fullC ? "_c_full" : "_c_row");
  return {"gemm", name, [=](CaseBuilder &b) {
            int64_t m = 3, k = 4, n = 2;
            Value *a = b.input("a", ta ? Ints{k, m} : Ints{m, k});
            Value *w = b.input("b", tb ? Ints{n, k} : Ints{k, n});
            Value *c = b.input("c", fullC ? Ints{m, n} : Ints{n});
            b.loss(b.node("gemm", {a, w, c},
                          {{"alpha", Attribute(0.7)},
                           {"beta", Attribute(1.3)},
                           {"trans_a", i64(ta)},
                           {"trans_b", i64(tb)}}));
          }};
}

Case conv(const std::string &name, Ints x, Ints w, AttrMap attrs,
          bool bias = true) {
  return {"conv", name, [=](CaseBuilder &b) {
            std::vector<Value *> ops{b.input("x", x), b.input("w", w)};
            if (bias)
              ops.push_back(b.input("b", {w[0]}));
            b.loss(b.node("conv", ops, attrs));
          }};
}

/// Pooling of distinct values (no ties in a max window).
Case pool(const std::string &op, const std::string &name, Ints x,
          AttrMap attrs) {
  return {op, name, [=](CaseBuilder &b) {
            b.loss(b.node(op, {b.input("x", b.distinct(x), true)}, attrs));
          }};
}

std::vector<Case> allCases() {
  std::vector<Case> cs;
  // Elementwise arithmetic, with broadcasting on either side.
  cs.push_back(binary("add", {2, 3, 4}, {2, 3, 4}, "same_shape"));
  cs.push_back(binary("add", {2, 3, 4}, {3, 1}, "broadcast_b"));
  cs.push_back(binary("add", {1, 3}, {2, 1}, "broadcast_both"));
  cs.push_back(binary("sub", {2, 3}, {3}, "broadcast_b"));
  cs.push_back(binary("sub", {3, 1}, {2, 1, 4}, "broadcast_both"));
  cs.push_back(binary("mul", {2, 3, 4}, {4}, "broadcast_b"));
  cs.push_back(binary("mul", {2, 1, 4}, {3, 1}, "broadcast_both"));
  cs.push_back({"mul", "scalar", [](CaseBuilder &b) {
                  b.loss(b.node("mul", {b.input("a", {}), b.input("b", {2, 3})}));
                }});
  cs.push_back({"div", "broadcast_both", [](CaseBuilder &b) {
                  Value *x = b.input("a", {2, 1, 3});
                  Value *y = b.input("b", b.away({4, 1}, -2, 2, {0}, 0.5), true);
                  b.loss(b.node("div", {x, y}));
                }});
  cs.push_back({"sum", "variadic_broadcast", [](CaseBuilder &b) {
                  Value *x = b.input("a", {2, 3}), *y = b.input("b", {3});
                  Value *z = b.input("c", {2, 1});
                  b.loss(b.node("sum", {x, y, z}));
                }});
  cs.push_back({"sum", "fan_out", [](CaseBuilder &b) {
                  Value *x = b.input("a", {2, 3});
                  b.loss(b.node("sum", {x, x, b.node("mul", {x, x})}));
                }});
  // Unary.
  cs.push_back(unary("neg"));
  cs.push_back(unary("exp"));
  cs.push_back(unary("log", 0.5, 2));
  cs.push_back(unary("sqrt", 0.5, 2));
  cs.push_back(unary("tanh", -2, 2));
  cs.push_back(unary("sigmoid", -3, 3));
  cs.push_back({"relu", "basic", [](CaseBuilder &b) {
                  b.loss(b.node("relu", {b.input("x", b.away({2, 3, 4}, -1, 1, {0}), true)}));
                }});
  cs.push_back(unary("identity"));
  cs.push_back(unary("cast", -1, 1, {{"to", Attribute("f64")}}, "to_f64"));
  // Data movement.
  cs.push_back(unary("reshape", -1, 1, {{"shape", ints({4, 6})}}));
  cs.push_back(unary("flatten", -1, 1, {{"axis", i64(2)}}, "axis2"));
  cs.push_back(unary("transpose", -1, 1, {{"perm", ints({2, 0, 1})}}, "perm201"));
  cs.push_back(unary("unsqueeze", -1, 1, {{"axes", ints({0, 3})}}, "axes03"));
  cs.push_back({"squeeze", "axis1", [](CaseBuilder &b) {
                  b.loss(b.node("squeeze", {b.input("x", {2, 1, 3})},
                                {{"axes", ints({1})}}));
                }});
  cs.push_back({"expand", "broadcast", [](CaseBuilder &b) {
                  b.loss(b.node("expand", {b.input("x", {3, 1})},
                                {{"shape", ints({2, 3, 4})}}));
                }});
  // Reductions.
  cs.push_back(unary("reduce_sum", -1, 1,
                     {{"axes", ints({1})}, {"keepdims", i64(0)}}, "axis1"));
  cs.push_back(unary("reduce_sum", -1, 1,
                     {{"axes", ints({0, 2})}, {"keepdims", i64(1)}},
                     "axes02_keepdims"));
  cs.push_back(unary("reduce_mean", -1, 1, {}, "all"));
  cs.push_back(unary("reduce_mean", -1, 1,
                     {{"axes", ints({-1})}, {"keepdims", i64(0)}}, "last"));
  // Matrix products.
  for (int64_t ta : {0, 1})
    for (int64_t tb : {0, 1})
      cs.push_back(gemm(ta, tb, ta == tb));
  cs.push_back({"gemm", "no_c", [](CaseBuilder &b) {
                  b.loss(b.node("gemm", {b.input("a", {3, 4}), b.input("b", {4, 2})}));
                }});
  cs.push_back(binary("matmul", {3, 4}, {4, 5}, "2d"));
  cs.push_back(binary("matmul", {2, 1, 3, 4}, {3, 4, 2}, "batched_broadcast"));
  // Convolution.
  cs.push_back(conv("basic", {1, 2, 5, 5}, {3, 2, 3, 3}, {}));
  cs.push_back(conv("stride2_pads_dilation2_group2", {2, 4, 7, 8},
                    {4, 2, 3, 3},
                    {{"strides", ints({2, 2})},
                     {"pads", ints({1, 0, 2, 1})},
                     {"dilations", ints({2, 2})},
                     {"group", i64(2)}}));
  cs.push_back(conv("1d_stride2_no_bias", {1, 2, 9}, {3, 2, 3},
                    {{"strides", ints({2})}, {"pads", ints({1, 1})}}, false));
  cs.push_back(conv("depthwise", {1, 3, 5, 5}, {3, 1, 3, 3},
                    {{"group", i64(3)}, {"pads", ints({1, 1, 1, 1})}}));
  // The CPU lowerings of the gradients as register-tiled convs
  // (ir/ops/ConvGrad.cpp): conv_grad_data by phases of the stride (odd and
  // even sizes, asymmetric pads, a 1x1 stride-2 kernel whose odd phases
  // get no tap, a dilation at stride 1), conv_grad_weight in tiles over
  // deinterleaved columns, with widths of whole vectors and with a tail.
  cs.push_back(conv("stride2_asymmetric_pads", {2, 3, 9, 10}, {4, 3, 3, 3},
                    {{"strides", ints({2, 2})}, {"pads", ints({1, 0, 0, 1})}}));
  cs.push_back(conv("1x1_stride2", {1, 4, 8, 8}, {5, 4, 1, 1},
                    {{"strides", ints({2, 2})}}, false));
  cs.push_back(conv("dilation2_stride1", {1, 2, 8, 9}, {3, 2, 3, 3},
                    {{"dilations", ints({2, 2})}, {"pads", ints({2, 2, 2, 2})}}));
  cs.push_back(conv("width16_stride2", {2, 3, 6, 33}, {8, 3, 3, 3},
                    {{"strides", ints({1, 2})}, {"pads", ints({1, 1, 1, 1})}}));
  // Big enough for the nchwc form (ir/Schedule.h, chooseConvLayout: 30
  // channels x 9 taps >= 256 terms, 81 > 64 positions, and 30 channels
  // below winograd's 32; in f64 vector=4 layout=nchwc tile=2x5), forward
  // and, with 32 filters, conv_grad_data's stride-1 conv too (32 x 9
  // terms; winograd is never chosen there); the 9 columns are not whole
  // tiles of 5, so the shifted last tile is covered.
  // Its loss sums 2,592 outputs of 270 terms: the rounding error of the
  // loss over h (1e-16 |L| / h) reached 5e-6 relative on its smallest
  // gradients with the default h. A conv is linear in each input, so the
  // centered difference has no truncation error: a larger h is exact.
  cs.push_back(conv("nchwc_filter_vectors", {1, 30, 9, 9}, {32, 30, 3, 3},
                    {{"pads", ints({1, 1, 1, 1})}}));
  cs.back().step = 1e-2;
  // nchw in channel chunks (chooseConvChunk): a row of 3x4 tiles reads
  // 6 rows x 258 columns x 8 bytes of x per channel, 24 channels > half
  // of L2, so chunks of 4 channels (f64: vector=4 tile=3x4 chunk=4; 24 x
  // 9 taps < 256 terms keeps it nchw); 5 filters are not whole tiles of 3,
  // so the clamped weights of the rounded-up last tile are covered.
  cs.push_back(conv("nchw_channel_chunks", {1, 24, 4, 256}, {5, 24, 3, 3},
                    {{"pads", ints({1, 1, 1, 1})}}));
  cs.back().step = 1e-2;
  // Winograd F(2x2, 3x3) (layout=winograd, forced by the schedule; the
  // default chooses it from 32 channels up): its 2x2 tiles run past the
  // odd output width 7 and the asymmetric pads, and 10 filters are not a
  // whole block of 2 vectors of 4 (f64), so the zeroed weights past the
  // last filter and the shifted last tile of 3 are covered. Only the
  // forward conv takes it: the gradients' convs choose their own.
  cs.push_back(conv("winograd", {1, 6, 7, 8}, {10, 6, 3, 3},
                    {{"pads", ints({1, 0, 0, 1})},
                     {"schedule", Attribute("vector=4 layout=winograd "
                                            "tile=2x3 parallel=none")}}));
  cs.back().step = 1e-2;
  // Pooling.
  cs.push_back(pool("max_pool", "k2_s2", {1, 2, 4, 4},
                    {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}));
  cs.push_back(pool("max_pool", "k3_s2_pads_overlap", {2, 2, 5, 5},
                    {{"kernel_shape", ints({3, 3})},
                     {"strides", ints({2, 2})},
                     {"pads", ints({1, 1, 1, 1})}}));
  cs.push_back(pool("max_pool", "ceil_mode_dilation", {1, 1, 6, 7},
                    {{"kernel_shape", ints({2, 2})},
                     {"strides", ints({2, 2})},
                     {"dilations", ints({2, 1})},
                     {"ceil_mode", i64(1)}}));
  cs.push_back(pool("global_max_pool", "2d", {2, 3, 3, 4}, {}));
  cs.push_back(unary("global_avg_pool", -1, 1, {}, "2d"));
  // Average pooling: the divisor with and without the padding.
  cs.push_back(pool("avg_pool", "k2_s2", {1, 2, 4, 4},
                    {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}));
  for (int64_t include : {0, 1})
    cs.push_back(pool("avg_pool",
                      "k3_s2_pads_overlap_include_pad" + std::to_string(include),
                      {2, 2, 5, 6},
                      {{"kernel_shape", ints({3, 3})},
                       {"strides", ints({2, 2})},
                       {"pads", ints({1, 1, 1, 2})},
                       {"count_include_pad", i64(include)}}));
  for (int64_t include : {0, 1})
    cs.push_back(pool("avg_pool",
                      "ceil_mode_pads_include_pad" + std::to_string(include),
                      {1, 2, 6, 5},
                      {{"kernel_shape", ints({3, 2})},
                       {"strides", ints({2, 2})},
                       {"pads", ints({1, 0, 0, 0})},
                       {"ceil_mode", i64(1)},
                       {"count_include_pad", i64(include)}}));
  cs.push_back(pool("avg_pool", "1d_dilation2", {1, 2, 9},
                    {{"kernel_shape", ints({3})},
                     {"dilations", ints({2})},
                     {"pads", ints({2, 1})}}));
  // Activations with kinks, values kept away from them.
  cs.push_back({"leaky_relu", "alpha_0_1", [](CaseBuilder &b) {
                  b.loss(b.node("leaky_relu",
                                {b.input("x", b.away({2, 3, 4}, -1, 1, {0}), true)},
                                {{"alpha", Attribute(0.1)}}));
                }});
  cs.push_back({"clip", "min_max", [](CaseBuilder &b) {
                  b.loss(b.node("clip",
                                {b.input("x", b.away({2, 3, 4}, -1, 1, {-0.4, 0.5}), true)},
                                {{"min", Attribute(-0.4)}, {"max", Attribute(0.5)}}));
                }});
  cs.push_back({"clip", "min_only", [](CaseBuilder &b) {
                  b.loss(b.node("clip",
                                {b.input("x", b.away({2, 3, 4}, -1, 1, {0.2}), true)},
                                {{"min", Attribute(0.2)}}));
                }});
  cs.push_back({"lrn", "size3", [](CaseBuilder &b) {
                  b.loss(b.node("lrn", {b.input("x", {2, 5, 2, 3})},
                                {{"size", i64(3)},
                                 {"alpha", Attribute(0.5)},
                                 {"beta", Attribute(0.75)},
                                 {"bias", Attribute(1.5)}}));
                }});
  cs.push_back({"lrn", "size4_even", [](CaseBuilder &b) {
                  b.loss(b.node("lrn", {b.input("x", {1, 6, 3})},
                                {{"size", i64(4)},
                                 {"alpha", Attribute(0.3)},
                                 {"beta", Attribute(0.6)},
                                 {"bias", Attribute(2.0)}}));
                }});
  // Softmax along an inner and the last axis.
  cs.push_back(unary("softmax", -2, 2, {{"axis", i64(1)}}, "axis1"));
  cs.push_back(unary("softmax", -2, 2, {{"axis", i64(-1)}}, "last_axis"));
  cs.push_back(unary("log_softmax", -2, 2, {{"axis", i64(0)}}, "axis0"));
  cs.push_back(unary("log_softmax", -2, 2, {}, "last_axis"));
  // Joining and cutting.
  cs.push_back({"concat", "three_axis1", [](CaseBuilder &b) {
                  Value *x = b.input("a", {2, 1, 3}), *y = b.input("b", {2, 3, 3});
                  Value *z = b.input("c", {2, 2, 3});
                  b.loss(b.node("concat", {x, y, z}, {{"axis", i64(1)}}));
                }});
  cs.push_back({"concat", "fan_in_last_axis", [](CaseBuilder &b) {
                  Value *x = b.input("a", {2, 3});
                  b.loss(b.node("concat", {x, b.input("b", {2, 2}), x},
                                {{"axis", i64(-1)}}));
                }});
  cs.push_back(unary("slice", -1, 1,
                     {{"starts", ints({1, -3})}, {"ends", ints({2, 100})},
                      {"axes", ints({0, 2})}},
                     "negative_start_clamped_end"));
  cs.push_back(unary("pad", -1, 1, {{"pads", ints({0, 1, 2, 1, 0, 1})}},
                     "constant"));
  cs.push_back(unary("pad", -1, 1,
                     {{"pads", ints({1, -1, 0, 0, 1, -2})},
                      {"value", Attribute(0.5)}},
                     "pad_and_crop"));
  cs.push_back(unary("dropout", -1, 1, {{"ratio", Attribute(0.3)}},
                     "inference_identity"));
  cs.push_back({"batch_norm", "running_stats", [](CaseBuilder &b) {
                  Value *x = b.input("x", {2, 3, 2, 2});
                  Value *s = b.input("scale", {3}), *bias = b.input("bias", {3});
                  Value *m = b.input("mean", b.away({3}, -1, 1, {}), false);
                  Value *v = b.input("var", b.away({3}, 0.5, 2, {}), false);
                  b.loss(b.node("batch_norm", {x, s, bias, m, v}));
                }});
  // Training-mode ops.
  cs.push_back({"batch_norm_train", "nchw_y", [](CaseBuilder &b) {
                  Node *n = b.nodeN("batch_norm_train",
                                    {b.input("x", {3, 2, 2, 3}, -2, 2),
                                     b.input("scale", {2}), b.input("bias", {2})},
                                    {{"epsilon", Attribute(1e-3)}});
                  b.loss(n->result(0));
                }});
  // A last axis of whole vectors: the channel sums run in lanes.
  cs.push_back({"batch_norm_train", "nchw_width16", [](CaseBuilder &b) {
                  Node *n = b.nodeN("batch_norm_train",
                                    {b.input("x", {2, 2, 3, 16}, -2, 2),
                                     b.input("scale", {2}), b.input("bias", {2})});
                  for (size_t i = 0; i < 3; ++i)
                    b.loss(n->result(i));
                }});
  cs.push_back({"batch_norm_train", "nc_y_mean_invstd", [](CaseBuilder &b) {
                  Node *n = b.nodeN("batch_norm_train",
                                    {b.input("x", {4, 3}, -2, 2),
                                     b.input("scale", {3}), b.input("bias", {3})});
                  for (size_t i = 0; i < 3; ++i)
                    b.loss(n->result(i));
                }});
  cs.push_back({"dropout_train", "ratio_0_3", [](CaseBuilder &b) {
                  Value *seed = b.input(
                      "seed", Tensor::fromInts(TensorType(DType::I64, {}), {1234}),
                      false);
                  Node *n = b.nodeN("dropout_train", {b.input("x", {2, 3, 4}), seed},
                                    {{"ratio", Attribute(0.3)}});
                  b.loss(n->result(0));
                }});
  // Losses.
  cs.push_back({"softmax_cross_entropy", "basic", [](CaseBuilder &b) {
                  Value *x = b.input("logits", {3, 5}, -2, 2);
                  Value *l = b.input("labels", b.labels({3}, 5), false);
                  b.loss(b.node("softmax_cross_entropy", {x, l}));
                }});
  cs.push_back({"nll_loss", "log_softmax_input", [](CaseBuilder &b) {
                  Value *x = b.input("logits", {3, 5}, -2, 2);
                  Value *l = b.input("labels", b.labels({3}, 5), false);
                  Value *lp = b.node("log_softmax", {x});
                  b.loss(b.node("nll_loss", {lp, l}));
                }});
  cs.push_back({"hinge_loss", "margin1", [](CaseBuilder &b) {
                  // Distinct logits 0.3 apart: no margin at 0.
                  Value *x = b.input("logits", b.distinct({4, 5}, 0.3), true);
                  Value *l = b.input("labels", b.labels({4}, 5), false);
                  b.loss(b.node("hinge_loss", {x, l}));
                }});
  cs.push_back({"hinge_loss", "margin_0_5_i32_labels", [](CaseBuilder &b) {
                  Value *x = b.input("logits", b.distinct({3, 4}, 0.3), true);
                  Tensor l(TensorType(DType::I32, {3}));
                  for (int64_t i = 0; i < 3; ++i)
                    l.setInt(i, (i * 3 + 1) % 4);
                  b.loss(b.node("hinge_loss", {x, b.input("labels", l, false)},
                                {{"margin", Attribute(0.5)}}));
                }});
  // A small network: the chain rule across ops, fan-out of parameters.
  cs.push_back({"network", "conv_relu_pool_gemm_loss", [](CaseBuilder &b) {
                  Value *x = b.input("x", {2, 1, 6, 6});
                  Value *w = b.input("w", {2, 1, 3, 3}), *cb = b.input("cb", {2});
                  Value *c = b.node("conv", {x, w, cb}, {{"pads", ints({1, 1, 1, 1})}});
                  Value *p = b.node("max_pool", {b.node("relu", {c})},
                                    {{"kernel_shape", ints({3, 3})},
                                     {"strides", ints({3, 3})}});
                  Value *fc = b.node("gemm", {b.node("flatten", {p}),
                                              b.input("fw", {8, 3}),
                                              b.input("fb", {3})});
                  Value *l = b.input("labels", b.labels({2}, 3), false);
                  b.loss(b.node("softmax_cross_entropy", {fc, l}));
                }});
  return cs;
}

struct Row {
  std::string op, name;
  double err;
  int64_t elements;
};
std::vector<Row> &table() {
  static std::vector<Row> rows;
  return rows;
}

/// Prints the table after every case ran.
class TableEnv : public ::testing::Environment {
public:
  void TearDown() override {
    if (table().empty())
      return;
    std::printf("\n%-24s %-34s %9s %14s\n", "op", "case", "elements",
                "max-rel-error");
    for (const Row &r : table())
      std::printf("%-24s %-34s %9lld %14.3e\n", r.op.c_str(), r.name.c_str(),
                  (long long)r.elements, r.err);
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new TableEnv);

class GradCheck : public ::testing::TestWithParam<Case> {};

TEST_P(GradCheck, MatchesCenteredDifferences) {
  const Case &c = GetParam();
  uint64_t seed = 14695981039346656037ull; // FNV-1a of "op/case"
  for (char ch : c.op + "/" + c.name)
    seed = (seed ^ uint8_t(ch)) * 1099511628211ull;
  CaseBuilder b(seed);
  c.build(b);
  Options opts;
  opts.step = c.step;
  auto r = check(b, opts);
  ASSERT_TRUE(r.ok()) << c.op << " " << c.name << ": " << r.status().message();
  table().push_back({c.op, c.name, r->maxRelError, r->elements});
  std::printf("%-24s %-34s %14.3e  (%lld elements, %zu backward nodes; worst %s)\n",
              c.op.c_str(), c.name.c_str(), r->maxRelError,
              (long long)r->elements, r->backwardNodes, r->worst.c_str());
  EXPECT_LE(r->maxRelError, kTolerance)
      << c.op << " " << c.name << ": worst at " << r->worst;
}

INSTANTIATE_TEST_SUITE_P(
    Ops, GradCheck, ::testing::ValuesIn(allCases()),
    [](const ::testing::TestParamInfo<Case> &info) {
      return info.param.op + "_" + info.param.name;
    });

/// Whether a lowered pipeline launches a CUDA kernel (lowering replaces the
/// GPU loops by halide_cuda_run calls): code that runs on the device.
struct GpuLoopFinder : Halide::Internal::IRVisitor {
  using Halide::Internal::IRVisitor::visit;
  bool found = false;
  void visit(const Halide::Internal::Call *op) override {
    found |= op->name == "halide_cuda_run";
    Halide::Internal::IRVisitor::visit(op);
  }
};

/// Every node of every case, forward and backward (the gradient ops, the
/// loss), lowers with the GPU schedule for CUDA: codegen's scheduleGpu
/// accepts every op's Funcs (a reduction, a scatter, a scalar), and Halide
/// lowers the pipeline for the device. The whole-model and training tests
/// (test/gpu) run a subset of these on OpenCL; this covers the rest.
TEST(GradCheckGpu, EveryNodeLowersForCuda) {
  Halide::Target cuda("x86-64-linux-cuda-cuda_capability_80-no_runtime-user_context");
  std::set<std::string> lowered, ops;
  int cases = 0;
  for (const Case &c : allCases()) {
    CaseBuilder b(1);
    c.build(b);
    auto loss = buildLoss(b);
    ASSERT_TRUE(loss.ok()) << c.op << " " << c.name << ": " << loss.status().message();
    ASSERT_TRUE(buildGradients(b.graph(), *loss, b.wrt()).ok()) << c.op << " " << c.name;
    for (const Node *n : b.graph().nodes()) {
      if (!n->def().lowerFn())
        continue;
      std::string key = n->op() + n->result()->type().str();
      for (const Value *v : n->operands())
        key += "," + v->type().str();
      for (const auto &[k, v] : n->attrs())
        key += ";" + k + "=" + v.str();
      if (!lowered.insert(key).second)
        continue;
      ops.insert(n->op());
      auto m = lowerNodeToModule(*n, "k", cuda);
      EXPECT_TRUE(m.ok()) << c.op << "/" << c.name << ": node " << n->op()
                          << ": " << m.status().message();
      if (!m.ok())
        continue;
      GpuLoopFinder gpu;
      for (const Halide::Internal::LoweredFunc &f : m->functions())
        f.body.accept(&gpu);
      EXPECT_TRUE(gpu.found) << c.op << "/" << c.name << ": node " << n->op()
                             << " launches no kernel: it would run on the host";
    }
    ++cases;
  }
  std::printf("%zu distinct kernels of %zu ops from %d cases lowered for CUDA\n",
              lowered.size(), ops.size(), cases);
  EXPECT_GT(lowered.size(), 100u);
}

} // namespace

namespace {

/// Every op with a gradient rule has a case above ("Every op's gradient
/// passes a gradient check in CI"); the ops without one are listed.
TEST(GradCheckCoverage, EveryGradientRuleHasACase) {
  std::set<std::string> covered;
  for (const Case &c : allCases())
    covered.insert(c.op);
  std::string without;
  for (const OpDef &op : OpRegistry::get().ops()) {
    if (!op.gradFn()) {
      without += " " + op.name();
      continue;
    }
    EXPECT_TRUE(covered.count(op.name())) << op.name() << " has no gradcheck case";
  }
  std::printf("ops without a gradient rule:%s\n", without.c_str());
}

/// The check must fail on a wrong gradient, or it proves nothing.
class GradCheckSelf : public ::testing::Test {
protected:
  static void gemmCase(CaseBuilder &b) {
    b.loss(b.node("gemm", {b.input("a", {3, 4}), b.input("b", {4, 2}),
                           b.input("c", {2})},
                  {{"alpha", Attribute(0.7)}}));
  }
};

/// One element of one gradient off by a relative 1e-4 is caught.
TEST_F(GradCheckSelf, FailsOnOneElementOff) {
  CaseBuilder b(1);
  gemmCase(b);
  Options o;
  o.perturb = [](std::vector<Tensor> &g) {
    g[1].setDouble(5, g[1].getDouble(5) * (1 + 1e-4));
  };
  auto r = check(b, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->maxRelError, 1e-5) << r->worst;
  EXPECT_NE(r->worst.find("b[5]"), std::string::npos) << r->worst;
}

/// A wrong backward graph (the gradient gemm with a slightly wrong alpha,
/// as a rule that forgot a factor would build) is caught.
TEST_F(GradCheckSelf, FailsOnWrongRule) {
  CaseBuilder b(2);
  gemmCase(b);
  Options o;
  int tampered = 0;
  o.tamper = [&](Graph &g, const std::map<const Value *, Value *> &) {
    std::vector<Node *> nodes = g.nodes();
    // The backward gemms come after the forward one.
    for (size_t i = 1; i < nodes.size(); ++i)
      if (nodes[i]->op() == "gemm") {
        nodes[i]->setAttr("alpha", Attribute(0.7 * 1.001));
        ++tampered;
      }
  };
  auto r = check(b, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(tampered, 2);
  EXPECT_GT(r->maxRelError, 1e-4) << r->worst;
}

/// A conv gradient with the wrong padding (a classic off-by-one) is caught.
TEST_F(GradCheckSelf, FailsOnShiftedConvGradient) {
  CaseBuilder b(3);
  b.loss(b.node("conv", {b.input("x", {1, 1, 5, 5}), b.input("w", {2, 1, 3, 3})},
                {{"pads", ints({1, 1, 1, 1})}}));
  Options o;
  o.tamper = [](Graph &g, const std::map<const Value *, Value *> &) {
    for (Node *n : g.nodes())
      if (n->op() == "conv_grad_data")
        n->setAttr("pads", ints({0, 0, 2, 2}));
  };
  auto r = check(b, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->maxRelError, 1e-2) << r->worst;
}

/// The right gradient with the sign flipped is caught, everywhere.
TEST_F(GradCheckSelf, FailsOnFlippedSign) {
  CaseBuilder b(4);
  b.loss(b.node("tanh", {b.input("x", {2, 3})}));
  Options o;
  o.perturb = [](std::vector<Tensor> &g) {
    for (int64_t i = 0; i < g[0].numElements(); ++i)
      g[0].setDouble(i, -g[0].getDouble(i));
  };
  auto r = check(b, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->maxRelError, 0.99) << r->worst;
}

/// An op without a gradient rule on a differentiated value is an error that
/// names the node and the op.
TEST(GradCheckErrors, GatherHasNoGradient) {
  CaseBuilder b(5);
  Value *idx = b.input("idx", Tensor::fromInts(TensorType(DType::I64, {2}), {1, 0}),
                       false);
  Value *y = b.node("gather", {b.input("data", {3, 2}), idx});
  b.graph().rename(y, "picked");
  b.loss(y);
  auto r = check(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node 'picked' (gather)"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("no gradient rule"), std::string::npos)
      << r.status().message();
}

} // namespace
