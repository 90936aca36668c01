//===- passes/Training.h - the functions of a training artifact -----------===//
//
// `cnnc --train` compiles one model into several functions that share its
// parameters by name (codegen plans them into one parameter block):
//
//   infer            (x) -> (y)                the model as it is
//   eval             (x, labels) -> (loss, y)  inference mode
//   train_step       (x, labels, hyper) -> (loss, y)
//                    forward in training mode, loss, backward, optimizer
//                    update, running statistics, step count
//   forward_backward (x, labels, hyper) -> (loss, y)
//                    the same up to the gradients, which are stored into
//                    the parameters grad.<p>
//   apply_gradients  (hyper) -> ()            the update from grad.<p>
//
// Parameters are updated by `assign` nodes. The optimizer's state lives in
// parameters named opt.<state>.<p>, the step count in `train.step`; all are
// frozen (not trainable) and saved with the others in a checkpoint.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <memory>
#include <string>
#include <vector>

namespace cnnc {

struct TrainOptions {
  /// sgd, momentum, nesterov, adam, adagrad, rmsprop or adadelta.
  std::string optimizer = "sgd";
  /// softmax_cross_entropy or hinge; empty: the model's `loss` attribute.
  std::string loss;
  /// Parameters to freeze: names or glob patterns ('*', '?'), e.g. "c1.*".
  std::vector<std::string> freeze;
};

/// The optimizer names, for --help and errors.
const std::vector<std::string> &optimizerNames();

/// True if \p name matches the glob \p pattern ('*' any run, '?' one char).
bool globMatch(const std::string &pattern, const std::string &name);

/// Transfer learning: replaces the classifier head (the last gemm, whose
/// result leads to the output through elementwise ops only) by a new one
/// with \p classes outputs: a fresh weight (he) and zero bias named
/// "<old>.new". Shapes are re-inferred.
Status replaceClassifierHead(Graph &g, int64_t classes);

/// The functions above for \p model (shapes inferable, one output: the
/// scores [N, C]; when that output is a softmax, the loss reads its input).
Expected<std::vector<std::unique_ptr<Graph>>>
buildTrainingFunctions(const Graph &model, const TrainOptions &opts);

} // namespace cnnc
