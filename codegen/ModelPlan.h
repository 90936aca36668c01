//===- codegen/ModelPlan.h - tensors, steps and memory of a compiled model -===//
//
// The plan is what the glue module emits as tables (runtime/cnnc_rt_model.h):
// every tensor with its storage and offset, every step with its kernel and
// arguments, the arena size, and the weights blob.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"
#include "passes/Summary.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc {

/// Storage kinds; the values match cnnc_rt_storage.
enum class Storage { Input = 0, Output = 1, Param = 2, Const = 3, Temp = 4 };

struct PlanTensor {
  std::string name;
  TensorType type;
  Storage storage;
  int32_t index = -1;  ///< Input/Output/Param: position in that list
  int64_t offset = 0;  ///< see cnnc_rt_tensor::offset
  int64_t bytes = 0;
  bool trainable = false;
  /// TEMP written in place: the operand tensor whose bytes it took (its
  /// step's operand that died there, see OpDef::inPlace); -1 otherwise.
  int32_t inPlaceOf = -1;
  /// TEMP that is a part of another temporary: a concat's operand that its
  /// producer writes straight into the concat's result, at byte
  /// \p partOffset (see planModel); -1 otherwise. The concat runs no step.
  int32_t partOf = -1;
  int64_t partOffset = 0;
};

struct PlanStep {
  /// The node's first result name; for a fused group, its nodes' joined by
  /// '+' ("c1+relu1+maxpool1"); an assign: "assign <target>".
  std::string name;
  /// The Halide pipeline's function name; empty for a copy step (assign):
  /// args = {target, value}, performed by the runtime.
  std::string kernel;
  /// Tensor indices: the operands (numOperands of them), then the results.
  /// A fused group's operands are the values its nodes read from outside
  /// it, in the order they are first read; its results, the values of its
  /// nodes that a step outside it reads or that are graph outputs.
  std::vector<int32_t> args;
  /// The IR value of each argument.
  std::vector<const Value *> argValues;
  int32_t numOperands = 0;
  int64_t flops = 0;
  /// The node, or the first node (the anchor) of a fused group.
  const Node *node = nullptr;
  /// Every node of the step: one, or a fused group's (fusion_group) in
  /// graph order.
  std::vector<const Node *> nodes;
  /// A step whose operands are all parameters or constants, in a function
  /// that writes no parameter (no assign): its results (temporaries kept
  /// at the top of the arena, see ModelPlan::cachedBytes) stay valid until
  /// a parameter changes, and the runtime runs it only then (the
  /// transformed weights of the `pack-weights` pass).
  bool cached = false;
  bool fused() const { return nodes.size() > 1; }
};

/// How one function's temporaries fit the arena (see planModel).
struct FunctionMemory {
  int64_t arenaBytes = 0; ///< the arena its placement needs (the peak)
  int64_t naiveBytes = 0; ///< every temporary in bytes of its own (the sum)
  /// The most bytes live at one step, after in-place sharing: no placement
  /// of these lifetimes needs less, so arenaBytes / liveBytes measures the
  /// placement's fragmentation.
  int64_t liveBytes = 0;
  int32_t numTemps = 0;
  int32_t numInPlace = 0; ///< temporaries written over an operand
  int32_t numConcatParts = 0; ///< concat operands written into its result
};

/// One entry point: a range of steps with its own inputs and outputs.
struct PlanFunction {
  std::string name;
  std::vector<int32_t> inputs, outputs;
  int32_t firstStep = 0, numSteps = 0;
  FunctionMemory memory;
};

struct ModelPlan {
  std::vector<PlanTensor> tensors;
  /// Every function's steps, function after function.
  std::vector<PlanStep> steps;
  /// Function 0 is inference; `inputs` and `outputs` repeat its lists.
  std::vector<PlanFunction> functions;
  std::vector<int32_t> inputs, outputs, params;
  int64_t arenaBytes = 0, paramBytes = 0;
  /// The results of cached steps (PlanStep::cached): temporaries of their
  /// own at the top of the arena, above every function's, included in
  /// arenaBytes.
  int64_t cachedBytes = 0;
  /// The parameter block's initial image (paramBytes), then the constants.
  std::vector<uint8_t> weights;
};

/// Rounds up to the 64-byte alignment of every tensor.
inline int64_t alignTo64(int64_t n) { return (n + 63) & ~int64_t(63); }

/// Plans the functions \p fns (each graph one function, named after the
/// graph), whose outputs must all be distinct node results that are not
/// constants (see prepareForCodegen). Parameters are shared by name: one
/// tensor in one parameter block, whose type must agree everywhere; the
/// first declaration gives its initial value. The assigns of a function
/// become its last steps. Kernel names are `<prefix>_<index>_<op>`. Random
/// initial values are drawn from \p seed.
///
/// Memory: each function's temporaries start at arena offset 0 (functions
/// never run at the same time), every offset a multiple of 64. A
/// temporary lives from the step that writes it to its last reader. An
/// op's result is written over an operand that dies at that step when the
/// op allows it (OpDef::inPlace) and the types are equal; such chains then
/// share one block. Blocks are placed greedily by size, largest first, each
/// at the best-fitting gap (the smallest that holds it) among the blocks
/// already placed whose lifetimes overlap its own, else above them all
/// (the greedy-by-size planners of TFLite and ONNX Runtime); the same with
/// first fit (the lowest gap) is tried too, and the smaller arena kept. Two
/// temporaries share bytes only when their lifetimes are disjoint or one
/// was written in place over the other.
///
/// A concat along a dimension that only ones precede (as stored: channels
/// of one image, in NCHW or in blocks of whole channel blocks) runs no
/// step when its operands are distinct temporaries that no other concat
/// takes and it is not a graph output: each operand is a part of the
/// result (PlanTensor::partOf), which its producer writes in place, at
/// the operand's offset along the dimension. The result's block lives
/// from the first part's step to the last read of the result or of any
/// part; no part is written in place over an operand, and nothing in
/// place over a part or the result. Only with \p concatParts: a GPU
/// model's runtime gives every tensor a device allocation of its own
/// (runtime/cnnc_rt_device.c), where parts would not alias their result.
Expected<ModelPlan> planModel(const std::vector<const Graph *> &fns,
                              const std::string &prefix, uint64_t seed,
                              bool concatParts = true);
/// A model with one function.
inline Expected<ModelPlan> planModel(const Graph &g, const std::string &prefix,
                                     uint64_t seed, bool concatParts = true) {
  return planModel(std::vector<const Graph *>{&g}, prefix, seed, concatParts);
}

/// Checks \p plan's memory from its steps alone (planModel runs it on every
/// plan): every TEMP, PARAM offset 64-byte aligned and inside its function's
/// arena or the parameter block; parameters disjoint; the parts of a
/// concat's result disjoint and inside it (a result lives from its first
/// part's step to the last read of it or of a part); and two other
/// temporaries of a function whose lifetimes overlap share no byte unless
/// the later was written in place over the other where its op allows it
/// (OpDef::inPlace).
Status verifyMemoryPlan(const ModelPlan &plan);

/// The memory lines of `--summary` for \p plan: each function's arena,
/// the parameter block by kind (by name: grad.*, opt.*, the rest) and
/// what create_with_arena needs.
MemorySummary memorySummary(const ModelPlan &plan);

/// Makes \p g ready to plan: every graph output becomes the result of its
/// own non-constant node (an identity copy is inserted for an output that is
/// an input, a parameter, a constant, or listed twice).
void prepareForCodegen(Graph &g);

} // namespace cnnc
