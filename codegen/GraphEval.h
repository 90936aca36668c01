//===- codegen/GraphEval.h - a whole graph through the Halide JIT ----------===//
//
// Evaluates a Graph node by node with each node's own Halide lowering (the
// code that goes into model.so), JIT-compiled for the host. Each node is
// compiled once, on first use, and re-run on new inputs: gradient checks
// evaluate a graph hundreds of times with one input element perturbed.
// Any dtype the lowerings support works, f64 included. Constants come from
// their value attribute; parameters from their initialisers (seeded as
// ModelPlan does, seed + parameter index) unless overridden.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace cnnc {

class JitNode;

class GraphEvaluator {
public:
  /// \p g must outlive the evaluator and keep its nodes; every result type
  /// must be static (run infer-shapes first).
  explicit GraphEvaluator(const Graph &g, uint64_t seed = 0);
  ~GraphEvaluator();

  /// Sets the value of an input or parameter of the graph (its type must
  /// match). Parameters not set take their initial value.
  Status set(const Value *v, Tensor t);
  /// set() by the value's name.
  Status set(const std::string &name, Tensor t);

  /// Computes \p wanted (any values of the graph), running only the nodes
  /// they depend on. Every input they depend on must have been set.
  Expected<std::vector<Tensor>> evaluate(const std::vector<const Value *> &wanted);
  /// evaluate(the graph's outputs).
  Expected<std::vector<Tensor>> run();

  /// Number of nodes compiled so far (each compiles once).
  size_t numCompiled() const { return compiled_.size(); }

private:
  const Graph &g_;
  uint64_t seed_;
  std::map<const Value *, Tensor> fixed_; // inputs and parameters
  std::map<const Node *, std::unique_ptr<JitNode>> compiled_;
};

/// A deep copy of \p t (Tensor copies share their data).
Tensor cloneTensor(const Tensor &t);

} // namespace cnnc
