//===- test/unit/CodegenTest.cpp - compile a graph to model.so and run it --===//
#include "codegen/Compiler.h"
#include "codegen/HalideLowering.h"
#include "ir/OpDef.h"
#include "tools/driver/ModelLoader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

using namespace cnnc;
namespace fs = std::filesystem;

namespace {

/// A conv + relu + add graph with a parameter, compiled to a temp .so.
std::unique_ptr<Graph> smallNet() {
  auto g = std::make_unique<Graph>("small");
  Value *x = g->addInput("x", TensorType(DType::F32, {1, 2, 5, 5}));
  std::vector<double> wv(3 * 2 * 3 * 3);
  for (size_t i = 0; i < wv.size(); ++i)
    wv[i] = 0.1 * double(i % 7) - 0.3;
  Value *w = g->addParam("w", TensorType(DType::F32, {3, 2, 3, 3}),
                         ParamInit::dense(Tensor::fromDoubles(
                             TensorType(DType::F32, {3, 2, 3, 3}), wv)));
  Value *b = g->addParam("b", TensorType(DType::F32, {3}), ParamInit::fill(0.5));
  Node *conv = g->addNode("conv", {x, w, b},
                          {{"pads", Attribute(std::vector<int64_t>{1, 1, 1, 1})}},
                          {"conv"});
  Node *relu = g->addNode("relu", {conv->result()}, {}, {"relu"});
  g->addOutput(relu->result());
  return g;
}

fs::path tempDir() {
  fs::path p = fs::temp_directory_path() /
               ("cnnc-codegen-test-" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}

} // namespace

/// The compiled library's output equals the JIT lowering of the same nodes,
/// and its reflective API describes the model.
TEST(Codegen, SharedLibraryRunsAndMatchesJit) {
  auto g = smallNet();
  fs::path dir = tempDir();
  CompileOptions o;
  o.output = (dir / "small.so").string();
  o.name = "small";
  Status s = compileModel(*g, o);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(fs::exists(dir / "small.h"));

  auto m = LoadedModel::load(o.output);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const cnnc_model_api &api = m->api();
  ASSERT_EQ(api.num_inputs, 1u);
  ASSERT_EQ(api.num_outputs, 1u);
  ASSERT_EQ(api.num_params, 2u);
  EXPECT_STREQ(api.inputs[0].name, "x");
  EXPECT_EQ(api.outputs[0].num_elements, 3 * 5 * 5);

  std::vector<float> x(2 * 5 * 5), y(3 * 5 * 5, -1.0f);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(i % 5) - 2.0f;
  cnnc_ctx *ctx = nullptr;
  ASSERT_EQ(api.create(&ctx), CNNC_OK) << api.last_error(nullptr);
  cnnc_tensor in{x.data(), CNNC_F32, 4, {1, 2, 5, 5}};
  cnnc_tensor out{y.data(), CNNC_F32, 4, {1, 3, 5, 5}};
  ASSERT_EQ(api.run(ctx, &in, 1, &out, 1), CNNC_OK) << api.last_error(ctx);

  // Wrong input shape: a clear error, no crash.
  cnnc_tensor bad{x.data(), CNNC_F32, 4, {1, 2, 5, 4}};
  EXPECT_EQ(api.run(ctx, &bad, 1, &out, 1), CNNC_ERR_SHAPE_MISMATCH);
  EXPECT_NE(std::string(api.last_error(ctx)).find("'x'"), std::string::npos)
      << api.last_error(ctx);
  api.destroy(ctx);

  // Reference: the same nodes through the JIT.
  auto ref = smallNet();
  Node *conv = ref->nodes()[0], *relu = ref->nodes()[1];
  for (Node *n : {conv, relu})
    n->result()->setType((*computeNodeShape(*n))[0]);
  Tensor tx = Tensor::fromDoubles(TensorType(DType::F32, {1, 2, 5, 5}),
                                  std::vector<double>(x.begin(), x.end()));
  Tensor tw = *ref->params()[0]->init().data;
  Tensor tb = Tensor::fromDoubles(TensorType(DType::F32, {3}), {0.5, 0.5, 0.5});
  auto c = evaluateNodeJit(*conv, {tx, tw, tb});
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto r = evaluateNodeJit(*relu, {(*c)[0]});
  ASSERT_TRUE(r.ok());
  for (size_t i = 0; i < y.size(); ++i)
    EXPECT_NEAR(y[i], (*r)[0].getDouble(int64_t(i)), 1e-5) << i;
  fs::remove_all(dir);
}

/// An inference library reads its embedded weights in place: a conv whose
/// weights pack-weights transforms (Winograd, a cached step; 147 KB of
/// weights, whose pages the runtime hands back after that step) gives the
/// JIT's output on every run, get_param still reads the weights the library
/// holds, and set_param's new weights take effect (the parameters copied,
/// the cached step run again on the copy).
TEST(Codegen, InferenceReadsWeightsInPlace) {
  auto makeGraph = []() {
    auto g = std::make_unique<Graph>("inplace");
    Value *x = g->addInput("x", TensorType(DType::F32, {1, 64, 8, 8}));
    std::vector<double> wv(64 * 64 * 9);
    for (size_t i = 0; i < wv.size(); ++i)
      wv[i] = 0.01 * double(int(i % 13) - 6);
    TensorType wt(DType::F32, {64, 64, 3, 3});
    Value *w = g->addParam("w", wt, ParamInit::dense(Tensor::fromDoubles(wt, wv)));
    Node *conv = g->addNode("conv", {x, w},
                            {{"pads", Attribute(std::vector<int64_t>{1, 1, 1, 1})}},
                            {"conv"});
    g->addOutput(conv->result());
    return g;
  };
  auto g = makeGraph();
  fs::path dir = tempDir();
  CompileOptions o;
  o.output = (dir / "inplace.so").string();
  o.name = "inplace";
  Status s = compileModel(*g, o);
  ASSERT_TRUE(s.ok()) << s.message();
  auto m = LoadedModel::load(o.output);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const cnnc_model_api &api = m->api();
  bool cached = false; // the Winograd transform of w, a step of its own
  for (size_t i = 0; i < api.num_steps; ++i)
    cached |= std::string(api.step_name(i)) == "w.winograd";
  EXPECT_TRUE(cached) << "no step w.winograd: the test needs one";

  // The JIT's conv of x with weights wt.
  auto ref = makeGraph();
  Node *conv = ref->nodes()[0];
  conv->result()->setType((*computeNodeShape(*conv))[0]);
  std::vector<float> x(64 * 8 * 8);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(int(i % 11) - 5) * 0.1f;
  Tensor tx = Tensor::fromDoubles(TensorType(DType::F32, {1, 64, 8, 8}),
                                  std::vector<double>(x.begin(), x.end()));
  auto expect = [&](const std::vector<float> &y, const Tensor &tw) {
    auto r = evaluateNodeJit(*conv, {tx, tw});
    ASSERT_TRUE(r.ok()) << r.status().message();
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(y[i], (*r)[0].getDouble(int64_t(i)), 1e-4) << i;
  };
  Tensor w0 = *ref->params()[0]->init().data;

  cnnc_ctx *ctx = nullptr;
  ASSERT_EQ(api.create(&ctx), CNNC_OK) << api.last_error(nullptr);
  std::vector<float> y(64 * 8 * 8);
  cnnc_tensor in{x.data(), CNNC_F32, 4, {1, 64, 8, 8}};
  cnnc_tensor out{y.data(), CNNC_F32, 4, {1, 64, 8, 8}};
  for (int run = 0; run < 2; ++run) {
    std::fill(y.begin(), y.end(), -1.0f);
    ASSERT_EQ(api.run(ctx, &in, 1, &out, 1), CNNC_OK) << api.last_error(ctx);
    expect(y, w0);
  }
  std::vector<float> w(64 * 64 * 9);
  ASSERT_EQ(api.get_param(ctx, "w", w.data(), w.size() * 4), CNNC_OK);
  for (size_t i = 0; i < w.size(); ++i)
    ASSERT_EQ(w[i], float(w0.getDouble(int64_t(i)))) << i;

  for (float &v : w)
    v = -0.5f * v + 0.01f;
  ASSERT_EQ(api.set_param(ctx, "w", w.data(), w.size() * 4), CNNC_OK);
  ASSERT_EQ(api.run(ctx, &in, 1, &out, 1), CNNC_OK) << api.last_error(ctx);
  expect(y, Tensor::fromDoubles(w0.type(), std::vector<double>(w.begin(), w.end())));
  api.destroy(ctx);

  // A new ctx starts from the library's weights again.
  ASSERT_EQ(api.create(&ctx), CNNC_OK);
  ASSERT_EQ(api.run(ctx, &in, 1, &out, 1), CNNC_OK) << api.last_error(ctx);
  expect(y, w0);
  api.destroy(ctx);
  fs::remove_all(dir);
}

/// Bad options are refused before anything is written.
TEST(Codegen, RejectsBadOptions) {
  auto g = smallNet();
  CompileOptions o;
  o.output = "/nonexistent-dir/x.so";
  o.name = "3bad";
  Status s = compileModel(*g, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a C identifier"), std::string::npos);
  o.name = "ok";
  o.output = "x.dll";
  s = compileModel(*g, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(".so"), std::string::npos);
  o.output = "x.so";
  o.target = "sparc-32-solaris";
  s = compileModel(*g, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown target"), std::string::npos) << s.message();
}
