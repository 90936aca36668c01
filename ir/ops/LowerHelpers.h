//===- ir/ops/LowerHelpers.h - Halide lowering rules shared by op files ----===//
//
// Private to ir/ops/. Reusable lowerings for the `.lower(...)` facets.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/OpDef.h"
#include "ir/ops/LowerCtx.h"
#include "ir/ops/OpHelpers.h"

#include <functional>

namespace cnnc::ops {

/// The output index as an Index (IR order).
Index outIndex(LowerCtx &c, size_t result = 0);

/// The index into input \p input that numpy broadcasting maps \p out to:
/// leading dims dropped, size-1 dims pinned to 0.
Index broadcastIndexOf(LowerCtx &c, size_t input, const Index &out);

/// Lowering of y = f(x) elementwise.
LowerFn unaryLower(std::function<Halide::Expr(Halide::Expr)> f);

/// Lowering of y = f(a, b, ...) with broadcasting over every operand.
LowerFn broadcastLower(
    std::function<Halide::Expr(const std::vector<Halide::Expr> &)> f);

/// \p v as a constant of type \p t (exact for f64; for integer types \p v
/// must be in range).
Halide::Expr constOf(Halide::Type t, double v);

/// exp(x), also right for x = +inf and NaN (Halide 14's f32 exp is a
/// polynomial that returns 0 for both; f64 calls libm).
Halide::Expr safeExp(Halide::Expr x);

/// log(x), also right for x = +inf and NaN (Halide 14's f32 log returns
/// about 88.7 and 89.1 for them).
Halide::Expr safeLog(Halide::Expr x);

/// a / b as ONNX and C compute it: exact for floats, truncated toward zero
/// for integers (Halide's own `/` rounds toward -infinity). An integer
/// division by zero gives 0 instead of trapping.
Halide::Expr truncDiv(Halide::Expr a, Halide::Expr b);

/// f(index) = value on an intermediate Func, \p index in IR order (an
/// empty index defines a scalar Func).
void updateAt(Halide::Func &f, const Index &index, Halide::Expr value);

/// f(index) with \p index in IR order; empty for a scalar Func.
Halide::Expr callAt(const Halide::Func &f, const Index &index);

/// The fewest tasks a parallel loop should give the thread pool: with
/// fewer, the threads' shares are uneven (3 tasks on 2 threads: one
/// waits a third of the time) and a finished thread has nothing to take.
constexpr int64_t kMinParallelTasks = 16;

/// Makes loop \p outer of \p s (\p outerExtent iterations) its parallel
/// loop. With fewer than kMinParallelTasks iterations it is first fused
/// with \p inner, the loop directly inside it (a pure Var of \p s, or
/// null: none to fuse), into one loop named \p fused.
void parallelLoop(Halide::Stage s, const Halide::Var &outer, int64_t outerExtent,
                  const Halide::Var *inner, const Halide::Var &fused);

/// An RDom over [0, extents[i]) for each i, named after the node.
Halide::RDom rdomOver(LowerCtx &c, const std::vector<int64_t> &extents,
                      const std::string &what);

/// The index into input \p input holding the element that a row-major
/// reshape of it puts at \p out (reshape, flatten, squeeze, unsqueeze).
/// Axes are matched in groups of equal products, so dims that merely move
/// or gain size-1 neighbours map directly; only merged or split axes go
/// through a flat position.
Index reshapeIndexOf(LowerCtx &c, size_t input, const Index &out);

/// Lowering of the reshape-like ops: y has x's elements in row-major order.
LowerFn reshapeLower();

/// Lowering of max_pool (\p average false) and avg_pool (true) from the
/// node's kernel_shape, strides, pads, dilations, ceil_mode and, for avg,
/// count_include_pad attributes (ONNX MaxPool / AveragePool).
/// x (input 0 of \p c) with \p fill (default zero) around it on a CPU,
/// over \p vars (IR order: n, c, spatial...), computed at root and
/// vectorized by \p lanes: the fill, then an update copying x over its
/// own extent, rows first, so that both loops are dense vectors (a select
/// of a clamped load per element made Halide gather every vector). Its
/// extent is what its readers ask for.
Halide::Func paddedCopy(LowerCtx &c, const std::string &name,
                        const std::vector<Halide::Var> &vars, int lanes,
                        Halide::Expr fill = Halide::Expr());

Status lowerPool(LowerCtx &c, bool average);

/// The divisor of avg_pool's window that starts at \p starts (one position
/// per spatial axis, padding included: o * stride - pad_begin), in taps:
/// those inside x, or inside the padded x with \p includePad (ONNX
/// count_include_pad). \p xDims and \p yDims are the pool's [N, C, ...]
/// input and output shapes.
Halide::Expr avgPoolDivisor(const WindowGeometry &g,
                            const std::vector<Halide::Expr> &starts,
                            const std::vector<int64_t> &xDims,
                            const std::vector<int64_t> &yDims,
                            bool includePad);

/// Lowering of global_max_pool (\p average false) and global_avg_pool.
LowerFn globalPoolLower(bool average);

/// Lowering of softmax (\p log false) and log_softmax along `axis`, with the
/// maximum subtracted for stability.
LowerFn softmaxLower(bool log);

/// Operand 1 (class labels, i64 or i32) at row \p n as an int clamped into
/// [0, classes), so that a bad label cannot read outside (the losses).
Halide::Expr clampedLabel(LowerCtx &c, Halide::Expr n, int64_t classes);

/// Per row n of operand 0 (logits [N, C]), at root: its maximum and the sum
/// of exp(logit - maximum), for the softmax losses and their gradients.
struct RowSoftmax {
  Halide::Func max, sumExp;
};
RowSoftmax rowSoftmax(LowerCtx &c);

/// The adjoint of a sliding window (conv and pooling gradients): the window
/// position o whose tap \p tap lands on input position \p in along one
/// spatial axis, o = (in + padBegin - tap * dilation) / stride, and whether
/// that window exists (exact division and 0 <= o < \p outSize).
struct WindowSource {
  Halide::Expr position, valid;
};
WindowSource windowSource(Halide::Expr in, Halide::Expr tap, int64_t stride,
                          int64_t padBegin, int64_t dilation, int64_t outSize);

} // namespace cnnc::ops
