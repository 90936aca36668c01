//===- codegen/Compiler.h - graph to model.so / model.a + model.h ----------===//
#pragma once

#include "codegen/ModelPlan.h"
#include "ir/Diag.h"
#include "ir/Graph.h"
#include "ir/Support.h"

#include <memory>
#include <string>
#include <vector>

namespace cnnc {

struct CompileOptions {
  /// Output library: ".so" gives a shared library, ".a" a static one.
  std::string output;
  /// The header; default: the output with its extension replaced by ".h".
  std::string header;
  /// Prefix of every exported symbol (a C identifier).
  std::string name = "model";
  /// A Halide target string: host, x86-64-linux-avx2, arm-64-linux, ...
  std::string target = "host";
  /// Keep the weights in NAME.weights next to the library.
  bool externalWeights = false;
  /// Seed of random parameter initialisers.
  uint64_t seed = 0;
  /// --train: the optimizer the training functions use ("" otherwise).
  std::string optimizer;
  /// Keep intermediate objects (for debugging) next to the output.
  bool keepTemps = false;
};

/// Compiles \p g (verified, shapes inferable) into a library and header.
/// Writes nothing at the output paths unless everything succeeded.
Status compileModel(Graph &g, const CompileOptions &opts);
/// Compiles several functions sharing parameters by name into one library
/// (passes/Training.h); the first is the inference function.
Status compileModel(const std::vector<Graph *> &fns,
                    const CompileOptions &opts);

/// The plan compileModel makes for \p fns, without compiling (--summary,
/// tests): the graphs are copied and prepared as compileModel prepares
/// them, and \p fns stay as they are. The plan's steps point into the
/// copies, so it lives with them.
struct PlannedModel {
  std::vector<std::unique_ptr<Graph>> graphs;
  ModelPlan plan;
};
Expected<PlannedModel> planGraphs(const std::vector<const Graph *> &fns,
                                  const std::string &name = "model",
                                  uint64_t seed = 0);

/// True if \p s is a valid C identifier (for --name).
bool isCIdentifier(const std::string &s);

/// The model.h text for \p g compiled with \p opts.
std::string modelHeader(const Graph &g, const CompileOptions &opts);

} // namespace cnnc
