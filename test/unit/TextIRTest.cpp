//===- test/unit/TextIRTest.cpp - print(parse(x)) == x and parse errors ----===//
#include "ir/OpDef.h"
#include "ir/TextIR.h"

#include <gtest/gtest.h>
#include <sstream>

using namespace cnnc;

namespace {

/// Parses \p text; returns null and fills \p errors on failure.
std::unique_ptr<Graph> parse(const std::string &text, std::string *errors) {
  static SourceMgr sm; // graphs keep no pointer into it; fine for tests
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  auto g = parseGraphString(text, sm, diag, "t.cnnir");
  if (errors)
    *errors = os.str();
  return g;
}

} // namespace

/// A graph with params, attributes, multiple uses and a quoted name prints
/// back to exactly its own text.
TEST(TextIR, RoundTrip) {
  const std::string text =
      "graph @net(%x: f32[1,3,8,8]) attributes {loss = \"hinge\"} {\n"
      "  param %w: f32[4,3,3,3] = he\n"
      "  param %b: f32[4] = fill {value = 0.1}\n"
      "  param %s: f32[2] = dense [1.5, -2.0] frozen\n"
      "  %c = conv(%x, %w, %b) {pads = [1, 1, 1, 1], strides = [2, 2]} : "
      "f32[1,4,4,4]\n"
      "  %\"onnx::Relu_1\" = relu(%c) : f32[1,4,4,4]\n"
      "  %y = add(%\"onnx::Relu_1\", %c) : f32[1,4,4,4]\n"
      "  return %y, %c\n"
      "}\n";
  std::string errors;
  auto g = parse(text, &errors);
  ASSERT_TRUE(g) << errors;
  EXPECT_EQ(printGraph(*g), text);
  EXPECT_EQ(g->params().size(), 3u);
  EXPECT_FALSE(g->params()[2]->trainable());
  EXPECT_EQ(g->outputs().size(), 2u);
}

/// Attributes equal to the op's default are left out when printing.
TEST(TextIR, DefaultsLeftOut) {
  auto g = parse("graph @g(%x: f32[1,3,8,8], %w: f32[4,3,3,3]) {\n"
                 "  %y = conv(%x, %w) {group = 1} : f32[1,4,6,6]\n"
                 "  return %y\n}\n",
                 nullptr);
  ASSERT_TRUE(g);
  EXPECT_EQ(printGraph(*g).find("group"), std::string::npos);
}

/// Float values print in their shortest round-trip form.
TEST(TextIR, FloatFormatting) {
  EXPECT_EQ(formatDouble(1.0), "1.0");
  EXPECT_EQ(formatDouble(0.1), "0.1");
  EXPECT_EQ(formatDouble(1e-5), "1e-05");
  EXPECT_EQ(formatFloat(0.1f), "0.1");
  EXPECT_EQ(formatDouble(-2.5), "-2.5");
}

/// Errors name the culprit with a line and column.
TEST(TextIR, ErrorsHaveLocations) {
  std::string errors;
  EXPECT_FALSE(parse("graph @g(%x: f32[2]) {\n"
                     "  %y = frobnicate(%x) : f32[2]\n"
                     "  return %y\n}\n",
                     &errors));
  EXPECT_NE(errors.find("t.cnnir:2:8: error: unknown op 'frobnicate'"),
            std::string::npos)
      << errors;
  EXPECT_FALSE(parse("graph @g(%x: f32[2]) {\n  %y = relu(%z) : f32[2]\n"
                     "  return %y\n}\n",
                     &errors));
  EXPECT_NE(errors.find("2:13: error: use of undefined value %z"),
            std::string::npos)
      << errors;
}

/// A diagnostic at a location of another source manager's buffer (a graph
/// parsed with one, its passes run with a fresh one, as the compiler does)
/// prints its message without the location instead of reading past the
/// buffers.
TEST(TextIR, DiagnosticsOfAnotherManagersBuffer) {
  SourceMgr parsed, fresh;
  std::ostringstream os;
  DiagEngine parseDiag(parsed, &os);
  auto g = parseGraphString("graph @g(%x: f32[2]) {\n  return %x\n}\n",
                            parsed, parseDiag, "t.cnnir");
  ASSERT_TRUE(g);
  ASSERT_NE(g->loc().buffer, 0u);
  std::ostringstream out;
  DiagEngine diag(fresh, &out);
  diag.error(g->loc(), "pack-weights: conv 'c' is scheduled 'x'");
  EXPECT_EQ(out.str(), "error: pack-weights: conv 'c' is scheduled 'x'\n");
  EXPECT_TRUE(diag.hadError());
}
