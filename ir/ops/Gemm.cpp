//===- ir/ops/Gemm.cpp - gemm: y = alpha * a' * b' + beta * c -------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"
#include "ir/Schedule.h"

namespace cnnc::ops {

/// Matrix operand \p i as [rows, cols] after the optional transpose.
static Expected<std::pair<int64_t, int64_t>> matrixDims(const ShapeCtx &c,
                                                        size_t i, bool trans) {
  const TensorType &t = c.input(i);
  if (t.rank() != 2)
    return c.error(operandName(c, i) + " must be a matrix, got " + t.str());
  return trans ? std::make_pair(t.dim(1), t.dim(0))
               : std::make_pair(t.dim(0), t.dim(1));
}

static Status inferGemm(ShapeCtx &c) {
  bool transA = c.attrInt("trans_a") != 0, transB = c.attrInt("trans_b") != 0;
  CNNC_ASSIGN_OR_RETURN(auto a, matrixDims(c, 0, transA));
  CNNC_ASSIGN_OR_RETURN(auto b, matrixDims(c, 1, transB));
  DType dt = c.input(0).dtype();
  for (size_t i = 1; i < c.numInputs(); ++i)
    if (c.input(i).dtype() != dt)
      return c.error(operandName(c, i) + " type " + c.input(i).str() +
                     " differs from a type " + c.input(0).str());
  CNNC_RETURN_IF_ERROR(expectNumeric(c, 0));
  if (a.second >= 0 && b.first >= 0 && a.second != b.first)
    return c.error("inner dimensions differ: a " + c.input(0).str() +
                   " gives K = " + std::to_string(a.second) + ", b " +
                   c.input(1).str() + " gives K = " + std::to_string(b.first) +
                   " (trans_a = " + std::to_string(transA) +
                   ", trans_b = " + std::to_string(transB) + ")");
  std::vector<int64_t> out{a.first, b.second};
  if (c.numInputs() > 2) {
    // ONNX Gemm-7+: c is unidirectionally broadcastable to [M, N].
    const TensorType &bias = c.input(2);
    bool ok = bias.rank() <= 2;
    for (int64_t i = 0; ok && i < bias.rank(); ++i) {
      int64_t d = bias.dim(i), want = out[2 - bias.rank() + i];
      ok = d == 1 || d < 0 || want < 0 || d == want;
    }
    if (!ok)
      return c.error("c " + bias.str() +
                     " does not broadcast to [M, N] = " + dimsStr(out));
  }
  c.setOutput(0, TensorType(dt, out));
  return Status::success();
}

/// 2 * M * N * K, plus one add per output element for c.
static int64_t gemmFlops(const Node &n) {
  const TensorType &y = n.result(0)->type(), &a = n.operand(0)->type();
  if (!y.isStatic() || !a.isStatic() || a.rank() != 2)
    return 0;
  int64_t k = n.attrInt("trans_a") ? a.dim(0) : a.dim(1);
  return 2 * y.numElements() * k + (n.numOperands() > 2 ? y.numElements() : 0);
}

/// y = alpha * sum_k a'[m, k] * b'[k, n] + beta * c[m, n]; c is skipped
/// when beta = 0 (as ONNX Runtime). Integer gemm scales through f64.
static Status lowerGemm(LowerCtx &c) {
  bool transA = c.node().attrInt("trans_a") != 0;
  bool transB = c.node().attrInt("trans_b") != 0;
  double alpha = c.node().attrFloat("alpha"), beta = c.node().attrFloat("beta");
  const TensorType &a = c.inType(0);
  Halide::Type t = LowerCtx::halideType(a.dtype());
  const int64_t K = transA ? a.dim(0) : a.dim(1);
  Index out = outIndex(c);
  CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(c.node()));
  const int lanes = sched.vector;
  if (c.cpuSchedule() && transB && !transA && lanes > 1 && K >= lanes) {
    // b [N, K] (a layer's weights, PyTorch's Linear): both operands are
    // read along k, so the sums are vectorized across k, in lanes partial
    // sums added at the end, 4 rows of b at a time (4 weight streams, one
    // load of a per 4 FMAs). Vectorized across n instead, each vector of
    // b was a gather of rows K apart.
    const int64_t N = c.inType(1).dim(0), kv = K / lanes;
    const std::string &name = c.name();
    Halide::Var m(name + "_m"), j(name + "_j"), l(name + "_l"),
        jo(name + "_jo"), ji(name + "_ji");
    Halide::RDom rv = rdomOver(c, {kv}, "kv");
    Halide::Func part = c.func(name + "_partial");
    LowerCtx::set(part, {m, j, l}, Halide::Internal::make_zero(t));
    Halide::Expr k = rv.x * lanes + l;
    // Rows past N (the last group of 4 rounded up) read row N - 1.
    updateAt(part, {m, j, l},
             callAt(part, {m, j, l}) +
                 c.in(0, {m, k}) * c.in(1, {Halide::min(j, int(N - 1)), k}));
    part.compute_root().bound(l, 0, lanes).vectorize(l);
    const int rows = N >= 4 ? 4 : 1;
    part.update()
        .split(j, jo, ji, rows)
        .reorder(l, ji, rv.x, jo, m)
        .vectorize(l)
        .unroll(ji);
    if (sched.parallel != "none" && N > rows)
      part.update().parallel(jo);
    Halide::Expr dot = callAt(part, {out[0], out[1], 0});
    for (int i = 1; i < lanes; ++i)
      dot += callAt(part, {out[0], out[1], i});
    for (int64_t i = kv * lanes; i < K; ++i)
      dot += c.in(0, {out[0], int(i)}) * c.in(1, {out[1], int(i)});
    c.define(0, dot);
  } else {
    Halide::RDom r = rdomOver(c, {K}, "k");
    Index ai = transA ? Index{r.x, out[0]} : Index{out[0], r.x};
    Index bi = transB ? Index{out[1], r.x} : Index{r.x, out[1]};
    c.define(0, Halide::Internal::make_zero(t));
    c.update(0, out, LowerCtx::call(c.outFunc(0), out) + c.in(0, ai) * c.in(1, bi));
  }
  Halide::Expr acc = LowerCtx::call(c.outFunc(0), out);
  bool hasC = c.numInputs() > 2 && beta != 0;
  if (alpha == 1 && !hasC)
    return Status::success();
  auto scaled = [&](Halide::Expr e, double s) -> Halide::Expr {
    if (s == 1)
      return e;
    if (t.is_float())
      return constOf(t, s) * e;
    Halide::Expr f64 = Halide::cast<double>(e) * constOf(Halide::Float(64), s);
    return Halide::cast(t, f64);
  };
  Halide::Expr y = scaled(acc, alpha);
  if (hasC)
    y = y + scaled(c.in(2, broadcastIndexOf(c, 2, out)), beta);
  c.update(0, out, y);
  return Status::success();
}

/// ONNX Gemm before opset 7 has `broadcast`, which does not change the
/// result here (c broadcasts whenever it can).
static Status importGemm(OnnxImportCtx &c) {
  if (c.opset() < 7)
    (void)c.takeAttr("broadcast");
  return Status::success();
}

/// Y = alpha op(A) op(B) + beta C, op = optional transpose:
///   dA = alpha dY op(B)^T  (or its transpose when A is transposed),
///   dB = alpha op(A)^T dY  (or its transpose when B is transposed),
///   dC = beta dY, summed back over C's broadcast axes.
/// Each is one gemm with the right transpose flags.
static Status gradGemm(GradCtx &c) {
  const Node &n = c.node();
  int64_t ta = n.attrInt("trans_a"), tb = n.attrInt("trans_b");
  Attribute alpha(n.attrFloat("alpha"));
  auto gemm = [&](Value *a, Value *b, int64_t transA, int64_t transB) {
    return c.emit("gemm", {a, b},
                  {{"alpha", alpha},
                   {"trans_a", Attribute(transA)},
                   {"trans_b", Attribute(transB)}});
  };
  Value *dy = c.dy();
  if (c.needs(0))
    c.addGrad(0, ta ? gemm(c.x(1), dy, tb, 1) : gemm(dy, c.x(1), 0, 1 - tb));
  if (c.needs(1))
    c.addGrad(1, tb ? gemm(dy, c.x(0), 1, ta) : gemm(c.x(0), dy, 1 - ta, 0));
  if (n.numOperands() > 2 && c.needs(2)) {
    double beta = n.attrFloat("beta");
    c.addGrad(2, beta == 1.0 ? dy
                             : c.emit("mul", {dy, c.scalar(beta, dy->type().dtype())}));
  }
  return Status::success();
}

/// ONNX Gemm: a [M, K] (or [K, M] with trans_a), b [K, N] (or [N, K] with
/// trans_b), optional c broadcast to [M, N]; y [M, N]. From opset 7, as
/// add: Gemm-1..6 spell broadcasting with a `broadcast` attribute.
OpDef defineGemm() {
  return OpDef("gemm")
      .summary("General matrix multiply, y = alpha * op(a) * op(b) + beta * c")
      .inputs({"a", "b", "c?"})
      .outputs({"y"})
      .attr("alpha", AttrKind::Float, 1.0, "scale of a * b")
      .attr("beta", AttrKind::Float, 1.0, "scale of c")
      .attr("trans_a", AttrKind::Int, int64_t(0), "1: use a transposed")
      .attr("trans_b", AttrKind::Int, int64_t(0), "1: use b transposed")
      .onnx("Gemm", 6)
      .onnxImport(importGemm)
      .inferShape(inferGemm)
      .flops(gemmFlops)
      .pattern(FusionPattern::Complex)
      .lower(lowerGemm)
      .grad(gradGemm);
}

} // namespace cnnc::ops
