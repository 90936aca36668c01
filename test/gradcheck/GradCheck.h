//===- test/gradcheck/GradCheck.h - analytic vs numerical gradients --------===//
//
// A gradient check of one op (Glow's GradCheckTest, CS231n's recipe): the
// op runs in double precision on small seeded random inputs; the loss is
// sum(y * R) over its results y for fixed random R (built in IR: mul by a
// constant, then reduce_sum), so every element of dy is distinct; autodiff
// (passes/Autodiff.cpp) builds the backward graph, and the whole graph runs
// through each node's Halide lowering (codegen/GraphEval.h). Every element
// of every differentiated input is then checked against centered
// differences (L(x + h) - L(x - h)) / 2h:
//   rel = |analytic - numeric| / max(|analytic| + |numeric|, 1e-12).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace cnnc::gradcheck {

/// Builds the forward graph of one case: inputs with their values (the
/// differentiated ones among them) and the results that enter the loss.
class CaseBuilder {
public:
  explicit CaseBuilder(uint64_t seed) : rng_(seed) {}

  Graph &graph() { return g_; }
  std::mt19937_64 &rng() { return rng_; }

  /// A differentiated f64 input with uniform values in [lo, hi).
  Value *input(const std::string &name, std::vector<int64_t> dims,
               double lo = -1.0, double hi = 1.0);
  /// An input with the given value; differentiated when \p wrt.
  Value *input(const std::string &name, Tensor value, bool wrt);
  /// Appends a node; its result types are inferred at once (a shape error
  /// fails the test). Returns result 0.
  Value *node(const std::string &op, std::vector<Value *> operands,
              AttrMap attrs = {});
  /// As node(), for ops with several results.
  Node *nodeN(const std::string &op, std::vector<Value *> operands,
              AttrMap attrs = {});
  /// Adds \p y's weighted sum to the loss.
  void loss(Value *y) { lossTerms_.push_back(y); }

  /// f64 values in [lo, hi) that avoid the points in \p kinks by at least
  /// \p margin (relu at 0, clip at its bounds).
  Tensor away(std::vector<int64_t> dims, double lo, double hi,
              std::vector<double> kinks, double margin = 0.05);
  /// f64 values that are pairwise at least \p spacing apart (a random
  /// permutation of a grid, plus jitter below spacing / 4), centred on 0:
  /// no ties for max_pool, no hinge margin at 0.
  Tensor distinct(std::vector<int64_t> dims, double spacing = 0.1);
  /// i64 values uniform in [0, n).
  Tensor labels(std::vector<int64_t> dims, int64_t n);

  const std::map<Value *, Tensor> &feeds() const { return feeds_; }
  const std::vector<Value *> &wrt() const { return wrt_; }
  const std::vector<Value *> &lossTerms() const { return lossTerms_; }
  /// First error of node() / nodeN() (shape inference), if any.
  const Status &status() const { return status_; }

private:
  Graph g_;
  std::mt19937_64 rng_;
  std::map<Value *, Tensor> feeds_;
  std::vector<Value *> wrt_, lossTerms_;
  Status status_;
};

struct Options {
  /// h of the centered differences: the truncation error h^2 f'''/6 stays
  /// below 1e-9 relative for the ops here, and the rounding error of the
  /// loss, about 1e-16 |L| / h, matters only for gradients near 0 (a conv
  /// input element in one corner of its windows); h = 1e-6 leaves such
  /// elements at 6e-7.
  double step = 1e-5;
  /// Mutates the graph after autodiff, before it runs: a deliberately
  /// wrong backward graph, to show the check fails.
  std::function<void(Graph &, const std::map<const Value *, Value *> &)> tamper;
  /// Mutates the analytic gradients before the comparison.
  std::function<void(std::vector<Tensor> &)> perturb;
};

struct Result {
  double maxRelError = 0;   ///< over every element of every input
  std::string worst;        ///< where it was: input[index] analytic numeric
  int64_t elements = 0;     ///< number of elements checked
  size_t backwardNodes = 0; ///< nodes autodiff added
};

/// Adds to \p b's graph the scalar loss the check differentiates: the sum
/// over its loss terms y of reduce_sum(y * R_y), R_y seeded random.
Expected<Value *> buildLoss(CaseBuilder &b);

/// Builds the loss and the backward graph of \p b's graph and compares
/// analytic and numerical gradients. Fails on a graph that cannot be built
/// or run (an op with no gradient rule, ...).
Expected<Result> check(CaseBuilder &b, const Options &opts = {});

} // namespace cnnc::gradcheck
