//===- ir/ops/MatMul.cpp - matmul: numpy matrix product -------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// numpy.matmul (ONNX MatMul): a 1-D a is [1, K] and a 1-D b is [K, 1],
/// the added axis is dropped from the result; leading (batch) axes
/// broadcast.
static Status inferMatMul(ShapeCtx &c) {
  const TensorType &ta = c.input(0), &tb = c.input(1);
  if (ta.rank() < 1 || tb.rank() < 1)
    return c.error("operands must have rank 1 or more, got " + ta.str() +
                   " and " + tb.str());
  if (ta.dtype() != tb.dtype())
    return c.error("operand types differ: " + ta.str() + " and " + tb.str());
  CNNC_RETURN_IF_ERROR(expectNumeric(c, 0));
  std::vector<int64_t> a = ta.dims(), b = tb.dims();
  if (ta.rank() == 1)
    a.insert(a.begin(), 1);
  if (tb.rank() == 1)
    b.push_back(1);
  int64_t ka = a.back(), kb = b[b.size() - 2];
  if (ka >= 0 && kb >= 0 && ka != kb)
    return c.error("inner dimensions differ: a " + ta.str() +
                   " has K = " + std::to_string(ka) + ", b " + tb.str() +
                   " has K = " + std::to_string(kb));
  auto batch =
      broadcastShapes({a.begin(), a.end() - 2}, {b.begin(), b.end() - 2});
  if (!batch.ok())
    return c.error("batch dimensions: " + batch.status().message());
  std::vector<int64_t> out = *batch;
  if (ta.rank() > 1)
    out.push_back(a[a.size() - 2]);
  if (tb.rank() > 1)
    out.push_back(b.back());
  c.setOutput(0, TensorType(ta.dtype(), out));
  return Status::success();
}

/// 2 * K multiply-adds per output element.
static int64_t matmulFlops(const Node &n) {
  const TensorType &y = n.result(0)->type(), &a = n.operand(0)->type();
  if (!y.isStatic() || !a.isStatic() || a.rank() < 1)
    return 0;
  return 2 * y.numElements() * a.dims().back();
}

/// y[batch..., m, n] = sum_k a[batch'..., m, k] * b[batch'..., k, n], the
/// batch axes of each operand broadcast to y's; a 1-D operand has no m
/// (or n) axis.
static Status lowerMatMul(LowerCtx &c) {
  const TensorType &a = c.inType(0), &b = c.inType(1), &y = c.outType(0);
  Halide::Type t = LowerCtx::halideType(a.dtype());
  Halide::RDom r = rdomOver(c, {a.dims().back()}, "k");
  Index out = outIndex(c);
  size_t batch = size_t(y.rank()) - (a.rank() > 1) - (b.rank() > 1);
  auto batchIndex = [&](const TensorType &t) {
    Index idx;
    size_t n = size_t(t.rank()) - 2;
    for (size_t i = 0; i < n; ++i)
      idx.push_back(t.dim(int64_t(i)) == 1 ? Halide::Expr(0)
                                           : out[batch - n + i]);
    return idx;
  };
  Index ai{r.x}, bi{r.x};
  if (a.rank() > 1) {
    ai = batchIndex(a);
    ai.push_back(out[batch]);
    ai.push_back(r.x);
  }
  if (b.rank() > 1) {
    bi = batchIndex(b);
    bi.push_back(r.x);
    bi.push_back(out.back());
  }
  c.define(0, Halide::Internal::make_zero(t));
  c.update(0, out,
           LowerCtx::call(c.outFunc(0), out) + c.in(0, ai) * c.in(1, bi));
  return Status::success();
}

/// For rank >= 2: dA = dY B^T and dB = A^T dY over the last two axes,
/// summed back over broadcast batch axes by addGrad.
static Status gradMatMul(GradCtx &c) {
  int64_t ra = c.x(0)->type().rank(), rb = c.x(1)->type().rank();
  if (ra < 2 || rb < 2)
    return c.error("only operands of rank 2 or more are supported, got " +
                   c.x(0)->type().str() + " and " + c.x(1)->type().str());
  auto swapLast = [&](Value *v) {
    int64_t r = v->type().rank();
    std::vector<int64_t> perm;
    for (int64_t i = 0; i < r; ++i)
      perm.push_back(i);
    std::swap(perm[size_t(r - 1)], perm[size_t(r - 2)]);
    return c.emit("transpose", {v}, {{"perm", Attribute(perm)}});
  };
  if (c.needs(0))
    c.addGrad(0, c.emit("matmul", {c.dy(), swapLast(c.x(1))}));
  if (c.needs(1))
    c.addGrad(1, c.emit("matmul", {swapLast(c.x(0)), c.dy()}));
  return Status::success();
}

OpDef defineMatMul() {
  return OpDef("matmul")
      .summary("Matrix product with numpy semantics (batch broadcasting, "
               "1-D operands)")
      .inputs({"a", "b"})
      .outputs({"y"})
      .onnx("MatMul", 1)
      .inferShape(inferMatMul)
      .flops(matmulFlops)
      .pattern(FusionPattern::Complex)
      .lower(lowerMatMul)
      .grad(gradMatMul);
}

} // namespace cnnc::ops
