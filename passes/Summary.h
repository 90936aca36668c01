//===- passes/Summary.h - per-layer shapes, parameters and FLOPs -----------===//
//
// What `cnnc --summary` prints: one row per node with its output shape, the
// parameters it reads (each counted once, at its first user) and its FLOPs
// (OpDef::flopsFn(): a multiply-add counts 2), then the totals.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc {

/// One row of the summary.
struct LayerSummary {
  std::string name;       ///< the node's first result
  std::string op;         ///< IR op name
  TensorType outputType;  ///< type of the first result
  int64_t params = 0;     ///< elements of parameters first read by this node
  int64_t flops = 0;      ///< 0 when the op defines no count or shapes are unknown
};

/// One row per node, in graph order. Types should be inferred already.
std::vector<LayerSummary> summarize(const Graph &g);

/// Totals over every parameter of the graph.
struct ParamTotals {
  int64_t trainable = 0, nonTrainable = 0, bytes = 0;
};
ParamTotals paramTotals(const Graph &g);

/// 61706 -> "61,706"; negative numbers keep their sign.
std::string formatThousands(int64_t n);

/// The summary table of \p g, ending in a newline:
///   layer  op  output  params  FLOPs, one row per node, a total row, and a
///   line with trainable and non-trainable parameter counts and their bytes.
std::string formatSummary(const Graph &g);

} // namespace cnnc
