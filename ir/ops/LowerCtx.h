//===- ir/ops/LowerCtx.h - what an op's Halide lowering sees ---------------===//
//
// An op's `.lower(...)` defines its results as Halide Funcs over the inputs.
// Indices are given in IR order (outermost first: n, c, h, w); the context
// reverses them into Halide's order (innermost first) so that no op file
// has to think about it. Shapes are static: every extent is known here.
//
// Implemented by codegen (codegen/HalideLowering.cpp); op files see only this
// abstract interface and Halide.h.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <Halide.h>

#include <string>
#include <vector>

namespace cnnc {

/// An index into a tensor, outermost dimension first.
using Index = std::vector<Halide::Expr>;

class LowerCtx {
public:
  virtual ~LowerCtx() = default;

  virtual const Node &node() const = 0;
  /// True when the pipeline runs on a GPU (CUDA, OpenCL). Lowering rules
  /// then leave the CPU schedules (vectorize, parallel, bound) out: codegen
  /// maps every Func computed at root to GPU blocks and threads.
  virtual bool gpu() const = 0;
  /// True when a Halide autoscheduler schedules the pipeline (cnnc
  /// --schedule=adams2019, ...): rules then leave their CPU schedules out
  /// as on a GPU, and codegen resets what they computed at root.
  virtual bool autoScheduled() const { return false; }
  /// Should the rule apply its own CPU schedule (vectorize, parallel,
  /// register tiles)? Neither on a GPU nor under an autoscheduler.
  bool cpuSchedule() const { return !gpu() && !autoScheduled(); }
  /// A C identifier unique to this lowering, to prefix the names of the
  /// Funcs, Vars and RDoms a rule makes. Never the node's result name: IR
  /// names may start with a digit or hold '.', '/', ':', which the GPU
  /// backends print into OpenCL C and PTX as they are.
  virtual const std::string &name() const = 0;
  size_t numInputs() const { return node().numOperands(); }
  const TensorType &inType(size_t i) const {
    return node().operand(i)->type();
  }
  const TensorType &outType(size_t i = 0) const {
    return node().result(i)->type();
  }

  /// Input \p i at \p index (IR order). The index must stay in bounds.
  virtual Halide::Expr in(size_t i, const Index &index) = 0;
  /// The channels per block where input \p i is stored in blocks (the
  /// block-layout pass: [N, C/L, H, W, L]), 0 where it is stored as its
  /// type says. in() reads either at the same N, C, H, W index.
  virtual int inBlock(size_t i) const {
    (void)i;
    return 0;
  }
  /// Input \p i, stored in blocks (inBlock(i) > 0), at \p index of its
  /// blocks: n, channel block, spatial..., channel in the block.
  virtual Halide::Expr inBlocked(size_t i, const Index &index) {
    (void)i;
    (void)index;
    return Halide::Expr();
  }
  /// Input \p i at \p index, or \p outside where the index is out of bounds
  /// (zero padding for conv and pad, -inf for max_pool).
  virtual Halide::Expr inOr(size_t i, const Index &index,
                            Halide::Expr outside) = 0;
  /// One Var per dimension of result \p i (IR order).
  virtual const std::vector<Halide::Var> &outVars(size_t i = 0) = 0;
  /// Defines result \p i: out(outVars(i)) = value. Call once per result
  /// (then optionally update(i, ...) for reductions).
  virtual void define(size_t i, Halide::Expr value) = 0;
  /// An update definition of result \p i at \p index (IR order), e.g. a
  /// reduction over an RDom: out(index) = value.
  virtual void update(size_t i, const Index &index, Halide::Expr value) = 0;
  /// The Func of result \p i itself (Halide order), e.g. to read the running
  /// value in an update: call(outFunc(0), index).
  virtual Halide::Func &outFunc(size_t i = 0) = 0;
  /// A fresh Func over IR-ordered args for intermediate values; call it
  /// through call().
  virtual Halide::Func func(const std::string &name) = 0;
  /// f(index) with \p index in IR order.
  static Halide::Expr call(const Halide::Func &f, const Index &index) {
    std::vector<Halide::Expr> rev(index.rbegin(), index.rend());
    return f(rev);
  }
  /// Defines f(vars) = value with \p vars in IR order.
  static void set(Halide::Func &f, const std::vector<Halide::Var> &vars,
                  Halide::Expr value) {
    std::vector<Halide::Var> rev(vars.rbegin(), vars.rend());
    f(rev) = value;
  }
  /// Asks codegen to compute \p f, which result 0 reads (a conv's sums),
  /// band by band of \p rows output rows inside the loops that store the
  /// kernel's output, instead of at root: the sums of a band stay in L2
  /// between the rule's loops and the element-wise ops fused after it.
  /// Codegen may decline (a GPU, several outputs, an output of another
  /// shape, a pool after the conv) and leave \p f as the rule scheduled
  /// it; the rule therefore still schedules \p f completely, but must not
  /// make its loops parallel (the bands are). Returns whether codegen
  /// takes it.
  virtual bool computeInRowBands(const Halide::Func &f, int rows) {
    (void)f;
    (void)rows;
    return false;
  }
  /// The same in blocks of \p channels channels of the output (a grouped
  /// conv, whose blocks of filters read only their groups' channels).
  virtual bool computeInChannelBands(const Halide::Func &f, int channels) {
    (void)f;
    (void)channels;
    return false;
  }
  /// The Halide element type for a dtype (f32, f64, i64, i32, bool as u8).
  static Halide::Type halideType(DType t);
  /// \p e converted to the element type of result \p i.
  Halide::Expr cast(size_t i, Halide::Expr e) {
    return Halide::cast(halideType(outType(i).dtype()), e);
  }
};

} // namespace cnnc
