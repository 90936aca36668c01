//===- ir/ops/OpHelpers.h - shape rules and folds shared by op files -------===//
//
// Private to ir/ops/. Small, reusable pieces for the defineXxx() functions.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/OpDef.h"
#include "ir/ops/GradCtx.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace cnnc::ops {

/// Shape rule: result 0 has the type of operand \p input.
ShapeFn sameShapeAs(size_t input);

/// Numpy/ONNX multidirectional broadcasting of \p a and \p b; an error
/// naming both shapes when they do not broadcast.
Expected<std::vector<int64_t>> broadcastShapes(const std::vector<int64_t> &a,
                                               const std::vector<int64_t> &b);

/// Shape rule for n-ary broadcasting ops: dtypes must agree.
ShapeFn broadcastShape();

/// Normalizes a possibly negative \p axis for \p rank; error if out of range.
Expected<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                const std::string &what = "axis");

/// Fold for unary elementwise ops: y[i] = f(x[i]), computed in double.
FoldFn unaryFold(std::function<double(double)> f);

/// Fold for binary broadcasting ops: y = f(a, b), computed in double
/// (integer dtypes round-trip through double, exact for |v| < 2^53).
FoldFn binaryFold(std::function<double(double, double)> f);

/// Flops rule: \p perElement operations for each element of result 0.
FlopsFn flopsPerOutput(int64_t perElement);

/// Row-major strides of \p dims.
std::vector<int64_t> stridesOf(const std::vector<int64_t> &dims);

/// "[1, 3, 28, 28]" for messages.
std::string dimsStr(const std::vector<int64_t> &dims);

/// An int list as written, negatives included ("[0, -1]"), for messages
/// about attributes (dimsStr shows negative dims as "?").
std::string intsStr(const std::vector<int64_t> &v);

/// Name of operand \p i as declared ("x", or "xs[2]" inside a variadic one).
std::string operandName(const ShapeCtx &c, size_t i);

/// Error unless operand \p i has a float dtype (f32 or f64).
Status expectFloat(const ShapeCtx &c, size_t i);

/// Error if operand \p i is a bool tensor (arithmetic needs numbers).
Status expectNumeric(const ShapeCtx &c, size_t i);

/// Shape rule for unary float activations: x must be float, y = x.
ShapeFn unaryFloatShape();

/// Fold that copies the bytes of operand 0 into result 0, whose type comes
/// from shape inference (identity, reshape, flatten, squeeze, ...).
FoldFn copyDataFold();

/// Copies element \p si of \p src to element \p di of \p dst, bit for bit
/// (both of one dtype): data movement folds stay exact for any i64.
inline void copyElement(Tensor &dst, int64_t di, const Tensor &src,
                        int64_t si) {
  size_t sz = dtypeSize(src.dtype());
  std::memcpy(static_cast<unsigned char *>(dst.rawData()) + size_t(di) * sz,
              static_cast<const unsigned char *>(src.rawData()) +
                  size_t(si) * sz,
              sz);
}

/// Product of dims[begin, end); kDynamic if any of them is unknown.
int64_t productOf(const std::vector<int64_t> &dims, size_t begin, size_t end);

/// Calls \p fn(index, flat) for every multi-index of \p dims, row-major.
void forEachIndex(const std::vector<int64_t> &dims,
                  const std::function<void(const std::vector<int64_t> &,
                                           int64_t)> &fn);

/// Flat index into a tensor of \p inDims, broadcast (numpy rules) to the
/// output, of the output element at multi-index \p outIdx.
int64_t broadcastIndex(const std::vector<int64_t> &outIdx,
                       const std::vector<int64_t> &inDims);

/// Sliding-window geometry of pooling ops, per spatial axis, defaults filled.
struct WindowGeometry {
  std::vector<int64_t> kernel, strides, dilations, padBegin, padEnd;
};

/// Reads kernel_shape, strides, dilations and pads of a pooling node for
/// \p spatial spatial axes and checks them (ONNX MaxPool/AveragePool).
Expected<WindowGeometry> windowGeometry(const ShapeCtx &c, size_t spatial);

/// Output size of one pooled axis of size \p in (known), or an error
/// message when the window does not fit. ONNX MaxPool: floor or ceil of
/// (in + pads - dilation * (k - 1) - 1) / stride + 1; with ceil_mode a
/// window that would start in the end padding is dropped.
Expected<int64_t> pooledSize(int64_t in, const WindowGeometry &g, size_t axis,
                             bool ceilMode);

/// Adds the sliding-window attributes of the pooling ops and their
/// gradients (ONNX MaxPool / AveragePool): kernel_shape, strides, pads,
/// dilations, ceil_mode.
OpDef &poolWindowAttrs(OpDef &def);

/// Shape rule of max_pool and avg_pool: x [N, C, D1...] -> [N, C, O1...].
ShapeFn poolShape();

/// Flops rule of max_pool and avg_pool: one add or compare per window
/// element per output element.
FlopsFn poolFlops();

/// Shape rule of global_avg_pool and global_max_pool: x [N, C, D1...] ->
/// [N, C, 1...] (ONNX keeps the spatial axes, with size 1).
ShapeFn globalPoolShape();

/// Shape rule of softmax and log_softmax: float x, valid axis, y = x.
ShapeFn softmaxShape();

/// Fold of softmax (\p log false) and log_softmax (\p log true) along the
/// axis attribute, with the maximum subtracted for stability.
FoldFn softmaxFold(bool log);

/// Shape rule of the classification losses: logits [N, C] float and labels
/// [N] i64 or i32 give a scalar of the logits dtype (the mean loss).
ShapeFn classLossShape();

/// Flops rule: \p perElement operations per element of operand 0 (global
/// pooling and other reductions).
FlopsFn flopsPerInput(int64_t perElement);

/// Per spatial axis of conv and its gradients: stride, dilation, begin and
/// end padding, defaults filled.
struct ConvGeometry {
  std::vector<int64_t> strides, dilations, padBegin, padEnd;
};

/// Adds conv's window attributes (strides, pads, dilations, group) to conv
/// and to its gradients, which take the same values.
OpDef &convWindowAttrs(OpDef &def);

/// Reads and checks the strides, dilations and pads of a conv node (or of
/// conv_grad_data / conv_grad_weight) for \p spatial spatial axes.
Expected<ConvGeometry> convGeometry(const ShapeCtx &c, size_t spatial);

/// Shape rule of the loss gradients (softmax_cross_entropy_grad, ...):
/// (scores [N, C], labels [N], dloss: a scalar of the scores' type) ->
/// dscores of the scores' type.
ShapeFn classLossGradShape();

/// Gradient of the reshape-like ops (reshape, flatten, squeeze, unsqueeze):
/// dy reshaped back to x's shape.
GradFn reshapeGrad();

/// Gradient of softmax (\p log false) and log_softmax along `axis`, built
/// from y: dx = y * (dy - sum(dy * y)) and dx = dy - exp(y) * sum(dy).
GradFn softmaxGrad(bool log);
} // namespace cnnc::ops
