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
