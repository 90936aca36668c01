//===- ir/Verifier.h - structural and type checks of a graph ---------------===//
#pragma once

#include "ir/Diag.h"
#include "ir/Graph.h"

namespace cnnc {

/// Checks \p g and reports every problem through \p diag at the node's
/// location: operand and result counts, unknown, missing or mistyped
/// attributes, operands used before they are defined, parameter
/// initialisers, the op's shape rule, and that each declared result type is
/// compatible with the inferred one. Returns false if there was an error.
bool verifyGraph(const Graph &g, DiagEngine &diag);

} // namespace cnnc
