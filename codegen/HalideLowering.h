//===- codegen/HalideLowering.h - one node as a Halide pipeline ------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <Halide.h>

#include <memory>
#include <string>
#include <vector>

namespace cnnc {

/// Lowers \p node with its op's `.lower` rule into a Halide module holding
/// one pipeline named \p fnName for \p target. The pipeline's arguments are
/// the node's operands then its results, as dense buffers of static shape
/// (Halide dim 0 = the last IR dim), after the user context.
Expected<Halide::Module> lowerNodeToModule(const Node &node,
                                           const std::string &fnName,
                                           const Halide::Target &target);

/// Lowers the nodes of one plan step (a node, or a fused group in graph
/// order, see passes/Fuse.cpp) into one pipeline named \p fnName: its
/// arguments are \p inputs (for a single node, its operands position by
/// position), then \p outputs; values computed and read inside the group
/// are never stored as tensors. With \p autoScheduler (one of
/// autoSchedulerNames()) Halide's autoscheduler of that name schedules the
/// pipeline instead of the rules and the schedule pass (CPU targets only).
Expected<Halide::Module> lowerStepToModule(
    const std::vector<const Node *> &nodes,
    const std::vector<const Value *> &inputs,
    const std::vector<const Value *> &outputs, const std::string &fnName,
    const Halide::Target &target, const std::string &autoScheduler = "");

/// The autoschedulers --schedule accepts: mullapudi2016, adams2019, li2018
/// (Halide 14's plugins, loaded from CNNC_HALIDE_PLUGIN_DIR).
const std::vector<std::string> &autoSchedulerNames();

/// Evaluates \p node with its Halide lowering, JIT-compiled for the host,
/// on \p inputs (one per operand, of the operand types). For tests: compares
/// the lowering against folds and hand-computed values without a runtime.
Expected<std::vector<Tensor>> evaluateNodeJit(const Node &node,
                                              const std::vector<Tensor> &inputs);

/// A node lowered and JIT-compiled for the host once, then run on any number
/// of inputs (codegen/GraphEval.h, gradient checks). It copies what it needs
/// of the node (result types), so the node may change or go afterwards.
class JitNode {
public:
  static Expected<std::unique_ptr<JitNode>> compile(const Node &node);
  ~JitNode();
  /// Runs the pipeline on \p inputs (one per operand, of the operand types
  /// the node had when compiled); returns one tensor per result.
  Expected<std::vector<Tensor>> run(const std::vector<Tensor> &inputs);

private:
  struct Impl;
  explicit JitNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace cnnc
