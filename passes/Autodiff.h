//===- passes/Autodiff.h - reverse-mode automatic differentiation ----------===//
//
// Appends to a graph the backward nodes that compute the gradient of a
// scalar loss with respect to chosen values (trainable parameters, or any
// value), by walking the forward nodes in reverse and applying each op's
// gradient rule (`.grad` in ir/ops/*.cpp, seen through ir/ops/GradCtx.h).
// Gradients of a value used more than once are summed; only the nodes the
// requested gradients need are built.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <map>
#include <vector>

namespace cnnc {

/// Builds d(loss)/d(v) for every v in \p wrt. \p loss must be a scalar
/// (rank 0) float value of \p g, and shapes must be inferred. The result
/// maps each v to its gradient value (a value of v's type); a v that the
/// loss does not depend on gets a zero constant. Fails naming the node
/// whose op has no gradient rule, or whose rule fails; that node is then
/// stored in \p failed when given (for a diagnostic at its location).
Expected<std::map<const Value *, Value *>>
buildGradients(Graph &g, Value *loss, const std::vector<Value *> &wrt,
               const Node **failed = nullptr);

} // namespace cnnc
