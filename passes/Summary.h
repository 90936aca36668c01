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

/// The memory a compiled model needs (filled from its plan by
/// codegen/ModelPlan.h's memorySummary; printed after the table).
struct MemorySummary {
  /// One function's temporaries (see FunctionMemory in codegen/ModelPlan.h).
  struct Function {
    std::string name;
    int64_t arenaBytes = 0, naiveBytes = 0, liveBytes = 0;
    int32_t numTemps = 0, numInPlace = 0, numConcatParts = 0;
  };
  std::vector<Function> functions;
  /// The arena: the largest function's, then the cached steps' results.
  int64_t arenaBytes = 0;
  /// Results kept between runs at the top of the arena (the weights of
  /// Winograd and nchwc convs in their layouts; ModelPlan::cachedBytes).
  int64_t cachedBytes = 0;
  /// The parameter block, each tensor 64-byte aligned, by kind: parameters
  /// (trained or not, running statistics, train.step), gradients
  /// (grad.<p>) and optimizer state (opt.<state>.<p>).
  int64_t paramBytes = 0, gradBytes = 0, optStateBytes = 0;
  /// What create_with_arena needs: the arena, then the parameter block,
  /// each rounded up to 64 bytes (cnnc_rt_arena_size).
  int64_t createBytes = 0;
};

/// The memory plan lines of `--summary`, ending in a newline: a table with
/// one row per function (arena peak, the naive sum of its temporaries, the
/// most bytes live at one step, temporaries, those written in place), then
/// the parameter block (split by kind when there are gradients or optimizer
/// state) and the total create_with_arena needs.
std::string formatMemorySummary(const MemorySummary &m);

/// The summary table of \p g, ending in a newline:
///   layer  op  output  params  FLOPs, one row per node, a total row, and a
///   line with trainable and non-trainable parameter counts and their bytes.
std::string formatSummary(const Graph &g);

} // namespace cnnc
