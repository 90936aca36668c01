//===- test/unit/NetworkParserTest.cpp - the network language -> graph -----===//
#include "frontend/dsl/NetworkParser.h"
#include "ir/ParamInit.h"
#include "ir/Verifier.h"
#include "passes/Summary.h"

#include <gtest/gtest.h>
#include <sstream>

using namespace cnnc;

namespace {

/// Parses \p text; returns null and fills \p errors on failure.
std::unique_ptr<Graph> parse(const std::string &text, std::string *errors,
                             int64_t batch = 1) {
  static SourceMgr sm; // graphs keep no pointer into it
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  NetworkOptions opts;
  opts.batch = batch;
  auto g = parseNetworkString(text, sm, diag, opts, "t.cnn");
  if (errors)
    *errors = os.str();
  return g;
}

const char *kLeNet = "network lenet5\n"
                     "input data 1x28x28\n"
                     "conv c1 filters=6 size=5x5 pad=2\n"
                     "relu\n"
                     "maxpool size=2 stride=2\n"
                     "conv c2 filters=16 size=5\n"
                     "relu\n"
                     "maxpool size=2 stride=2\n"
                     "fc f5 units=120\n"
                     "relu\n"
                     "fc f6 units=84\n"
                     "relu\n"
                     "fc out units=10\n"
                     "loss softmax_cross_entropy\n";

} // namespace

/// LeNet-5 lowers to a graph that verifies, with one output, the loss as a
/// graph attribute, and 61,706 parameters in 10 tensors.
TEST(NetworkParser, LeNet) {
  std::string errors;
  auto g = parse(kLeNet, &errors);
  ASSERT_TRUE(g) << errors;
  std::ostringstream os;
  SourceMgr sm;
  DiagEngine diag(sm, &os);
  EXPECT_TRUE(verifyGraph(*g, diag)) << os.str();
  EXPECT_EQ(g->name(), "lenet5");
  ASSERT_EQ(g->outputs().size(), 1u);
  EXPECT_EQ(g->outputs()[0]->name(), "out");
  EXPECT_EQ(g->outputs()[0]->type().str(), "f32[1,10]");
  EXPECT_EQ(g->attrs().at("loss").getString(), "softmax_cross_entropy");
  EXPECT_EQ(g->params().size(), 10u);
  EXPECT_EQ(paramTotals(*g).trainable, 61706);
  for (const Value *p : g->params())
    EXPECT_TRUE(validateParamInit(p->init(), p->type()).ok()) << p->name();
}

/// Every node and parameter carries the location of its layer line.
TEST(NetworkParser, Locations) {
  auto g = parse(kLeNet, nullptr);
  ASSERT_TRUE(g);
  for (const Node *n : g->nodes())
    EXPECT_TRUE(n->loc().valid()) << n->result(0)->name();
  Value *w = g->lookup("c2.w");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->loc().line, 6u);
  EXPECT_EQ(w->loc().col, 1u);
}

/// The batch size is dimension 0 of the input and flows through the net.
TEST(NetworkParser, Batch) {
  auto g = parse(kLeNet, nullptr, /*batch=*/16);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->inputs()[0]->type().str(), "f32[16,1,28,28]");
  EXPECT_EQ(g->outputs()[0]->type().str(), "f32[16,10]");
}

/// Running statistics of batchnorm are parameters that training leaves alone.
TEST(NetworkParser, BatchNormStateIsFrozen) {
  auto g = parse("network n\ninput x 3x4x4\nbatchnorm bn\n", nullptr);
  ASSERT_TRUE(g);
  EXPECT_TRUE(g->lookup("bn.scale")->trainable());
  EXPECT_TRUE(g->lookup("bn.bias")->trainable());
  EXPECT_FALSE(g->lookup("bn.mean")->trainable());
  EXPECT_FALSE(g->lookup("bn.var")->trainable());
  ParamTotals t = paramTotals(*g);
  EXPECT_EQ(t.trainable, 6);
  EXPECT_EQ(t.nonTrainable, 6);
}

/// Option errors on several lines are all reported in one run.
TEST(NetworkParser, ReportsEveryLine) {
  std::string errors;
  auto g = parse("network n\ninput x 3x8x8\nconv a filter=2 size=3\n"
                 "maxpool b stride=2\n",
                 &errors);
  EXPECT_FALSE(g);
  EXPECT_NE(errors.find("t.cnn:3:8: error: conv: unknown option 'filter'"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("t.cnn:4:1: error: maxpool: missing required option "
                        "'size'"),
            std::string::npos)
      << errors;
}

/// Content detection: the first word decides, after comments.
TEST(NetworkParser, IsNetworkSource) {
  EXPECT_TRUE(isNetworkSource("// c\n# c\n\nnetwork n\n"));
  EXPECT_FALSE(isNetworkSource("graph @g() {\n}\n"));
  EXPECT_FALSE(isNetworkSource(""));
}

/// The summary counts a parameter once even when two nodes read it.
TEST(Summary, SharedParamCountedOnce) {
  auto g = parse("network n\ninput x 4\nfc a units=4\n", nullptr);
  ASSERT_TRUE(g);
  Value *w = g->lookup("a.w");
  Node *second = g->addNode("gemm", {g->lookup("a"), w},
                            {{"trans_b", int64_t(1)}}, {"b"});
  second->result(0)->setType(TensorType(DType::F32, {1, 4}));
  std::vector<LayerSummary> rows = summarize(*g);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].params, 4 * 4 + 4);
  EXPECT_EQ(rows[1].params, 0);
  EXPECT_EQ(rows[1].flops, 2 * 4 * 4);
}

/// Thousands separators, including negative numbers and the extremes.
TEST(Summary, FormatThousands) {
  EXPECT_EQ(formatThousands(0), "0");
  EXPECT_EQ(formatThousands(999), "999");
  EXPECT_EQ(formatThousands(1000), "1,000");
  EXPECT_EQ(formatThousands(61706), "61,706");
  EXPECT_EQ(formatThousands(1234567), "1,234,567");
  EXPECT_EQ(formatThousands(-1234), "-1,234");
  EXPECT_EQ(formatThousands(INT64_MIN), "-9,223,372,036,854,775,808");
}
