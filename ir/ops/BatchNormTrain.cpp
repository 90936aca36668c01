//===- ir/ops/BatchNormTrain.cpp - batch_norm_train and its gradient ------===//
//
// The training form of batch_norm: statistics of the batch itself, over N
// and the spatial axes, per channel (biased variance, as PyTorch and ONNX
// BatchNormalization with training_mode = 1):
//   mean[c]   = sum(x[:, c]) / M,  M = N * prod(spatial)
//   invstd[c] = 1 / sqrt(sum((x[:, c] - mean[c])^2) / M + epsilon)
//   y         = scale[c] * (x - mean[c]) * invstd[c] + bias[c]
// mean and invstd are results too: the backward reuses them, and the
// training graph updates the running statistics from them.
//
// batch_norm_train_grad(x, scale, mean, invstd, dy) -> (dx, dscale, dbias),
// with xhat = (x - mean) * invstd:
//   dbias[c]  = sum(dy[:, c]),  dscale[c] = sum(dy[:, c] * xhat[:, c])
//   dx        = scale[c] * invstd[c] / M * (M * dy - dbias[c] - xhat * dscale[c])
//
//===----------------------------------------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <functional>

namespace cnnc::ops {

/// x [N, C, ...] float; operands \p first.. are [C] vectors of its dtype.
static Status checkPerChannel(ShapeCtx &c, size_t first, size_t last) {
  const TensorType &x = c.input(0);
  if (x.rank() < 2)
    return c.error("input must have rank 2 or more (N, C, ...), got " +
                   x.str());
  CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
  for (size_t i = first; i <= last; ++i) {
    const TensorType &v = c.input(i);
    if (v.dtype() != x.dtype() || v.rank() != 1 ||
        (x.dim(1) >= 0 && v.dim(0) >= 0 && v.dim(0) != x.dim(1)))
      return c.error(operandName(c, i) + " must be a vector of " +
                     std::to_string(x.dim(1)) + " " + dtypeName(x.dtype()) +
                     " (one per channel of " + x.str() + "), got " + v.str());
  }
  return Status::success();
}

static Status inferBatchNormTrain(ShapeCtx &c) {
  CNNC_RETURN_IF_ERROR(checkPerChannel(c, 1, 2));
  if (!(c.attrFloat("epsilon") >= 0))
    return c.error("epsilon must not be negative, got " +
                   formatDouble(c.attrFloat("epsilon")));
  const TensorType &x = c.input(0);
  c.setOutput(0, x);
  c.setOutput(1, TensorType(x.dtype(), {x.dim(1)}));
  c.setOutput(2, TensorType(x.dtype(), {x.dim(1)}));
  return Status::success();
}

static Status inferBatchNormTrainGrad(ShapeCtx &c) {
  CNNC_RETURN_IF_ERROR(checkPerChannel(c, 1, 3));
  const TensorType &x = c.input(0);
  if (!c.input(4).isCompatibleWith(x))
    return c.error("dy " + c.input(4).str() + " must have the type of x " +
                   x.str());
  c.setOutput(0, x);
  c.setOutput(1, TensorType(x.dtype(), {x.dim(1)}));
  c.setOutput(2, TensorType(x.dtype(), {x.dim(1)}));
  return Status::success();
}

/// The index of x at (batch/spatial position r, channel ch).
static std::vector<int64_t> statExtents(const TensorType &x) {
  std::vector<int64_t> e{x.dim(0)};
  for (int64_t i = 2; i < x.rank(); ++i)
    e.push_back(x.dim(i));
  return e;
}

/// Per channel ch (an index of one Var), the sums over the batch and the
/// spatial positions of `summands(xi)`, xi an index into x: a Func of ch
/// with one value per summand (a Tuple when there are several). The sums
/// read x in memory order: the innermost loop runs along the last axis.
/// On a CPU, where that axis is a whole number of vectors, each of the L
/// lanes first sums its own columns (w = L * b + lane) in a Func
/// vectorized across the lanes, and the lanes are added at the end: a
/// vector of independent sums instead of one serial chain.
static Halide::Func channelSums(
    LowerCtx &c, const TensorType &x, const Index &ch, const std::string &what,
    const std::function<std::vector<Halide::Expr>(const Index &)> &summands) {
  Halide::Type t = LowerCtx::halideType(x.dtype());
  Halide::Expr zero = Halide::Internal::make_zero(t);
  int64_t rank = x.rank();
  const int lanes = t.bits() == 64 ? 4 : 8;
  bool vec = c.cpuSchedule() && rank >= 3 && x.dim(rank - 1) % lanes == 0 &&
             x.dim(rank - 1) >= lanes;
  // Innermost first: the last axis (in blocks of lanes when vectorized),
  // the other spatial axes inward-out, the batch.
  std::vector<int64_t> extents;
  for (int64_t i = rank - 1; i >= 2; --i)
    extents.push_back(i == rank - 1 && vec ? x.dim(i) / lanes : x.dim(i));
  extents.push_back(x.dim(0));
  Halide::RDom r = rdomOver(c, extents, what);
  Halide::Var lane(c.name() + "_" + what + "_lane");
  Index xi{r[int(rank - 2)], ch[0]};
  for (int64_t i = 2; i < rank; ++i) {
    Halide::Expr pos = r[int(rank - 1 - i)];
    xi.push_back(i == rank - 1 && vec ? pos * lanes + lane : pos);
  }
  std::vector<Halide::Expr> terms = summands(xi);
  Index at = ch;
  if (vec)
    at.push_back(lane);
  std::vector<Halide::Expr> rev(at.rbegin(), at.rend());
  size_t count = terms.size();
  // A Func of one value or a Tuple of several, read back as Exprs.
  auto define = [&](Halide::Func &f, const std::vector<Halide::Expr> &args,
                    const std::vector<Halide::Expr> &values) {
    if (count == 1)
      f(args) = values[0];
    else
      f(args) = Halide::Tuple(values);
  };
  auto value = [&](const Halide::Func &f, const std::vector<Halide::Expr> &args,
                   size_t k) {
    return count == 1 ? Halide::Expr(f(args)) : Halide::Expr(f(args)[int(k)]);
  };
  Halide::Func part = c.func(c.name() + "_" + what);
  define(part, rev, std::vector<Halide::Expr>(count, zero));
  std::vector<Halide::Expr> next;
  for (size_t k = 0; k < count; ++k)
    next.push_back(value(part, rev, k) + terms[k]);
  define(part, rev, next);
  part.compute_root();
  if (!vec)
    return part;
  std::vector<Halide::VarOrRVar> order{lane};
  for (int i = 0; i < r.dimensions(); ++i)
    order.push_back(r[i]);
  part.vectorize(lane);
  part.update().reorder(order).vectorize(lane);
  // One task per channel: the sums of a channel are independent.
  if (x.dim(1) > 1)
    part.update().parallel(c.outVars(1)[0]);
  Halide::Func sum = c.func(c.name() + "_" + what + "_sum");
  std::vector<Halide::Expr> chRev(ch.rbegin(), ch.rend());
  std::vector<Halide::Expr> totals(count, zero);
  for (int l = 0; l < lanes; ++l) {
    std::vector<Halide::Expr> li{l};
    li.insert(li.end(), chRev.begin(), chRev.end());
    for (size_t k = 0; k < count; ++k)
      totals[k] = totals[k] + value(part, li, k);
  }
  define(sum, chRev, totals);
  sum.compute_root();
  return sum;
}

static Status lowerBatchNormTrain(LowerCtx &c) {
  const TensorType &x = c.inType(0);
  Halide::Type t = LowerCtx::halideType(x.dtype());
  const std::string &name = c.name();
  std::vector<int64_t> extents = statExtents(x);
  double m = double(productOf(extents, 0, extents.size()));
  Index ch = outIndex(c, 1); // [C]

  Halide::Func sum = channelSums(c, x, ch, "sum", [&](const Index &xi) {
    return std::vector<Halide::Expr>{c.in(0, xi)};
  });
  Halide::Func mean = c.func(name + "_mean");
  updateAt(mean, ch, callAt(sum, ch) / constOf(t, m));
  mean.compute_root();
  Halide::Func sq = channelSums(c, x, ch, "sq", [&](const Index &xi) {
    Halide::Expr d = c.in(0, xi) - callAt(mean, {xi[1]});
    return std::vector<Halide::Expr>{d * d};
  });
  Halide::Func inv = c.func(name + "_invstd");
  Halide::Expr eps = constOf(t, c.node().attrFloat("epsilon"));
  updateAt(inv, ch, constOf(t, 1.0) /
                        Halide::sqrt(callAt(sq, ch) / constOf(t, m) + eps));
  inv.compute_root();

  c.define(1, callAt(mean, ch));
  c.define(2, callAt(inv, ch));
  Index out = outIndex(c, 0);
  Index oc{out[1]};
  c.define(0, c.in(1, oc) * (c.in(0, out) - callAt(mean, oc)) * callAt(inv, oc) +
                  c.in(2, oc));
  return Status::success();
}

static Status lowerBatchNormTrainGrad(LowerCtx &c) {
  const TensorType &x = c.inType(0);
  Halide::Type t = LowerCtx::halideType(x.dtype());
  std::vector<int64_t> extents = statExtents(x);
  double m = double(productOf(extents, 0, extents.size()));
  Index ch = outIndex(c, 1);

  auto xhatAt = [&](const Index &xi, Halide::Expr k) {
    return (c.in(0, xi) - c.in(2, {k})) * c.in(3, {k});
  };
  // (dbias, dscale)
  Halide::Func sums = channelSums(c, x, ch, "sums", [&](const Index &xi) {
    return std::vector<Halide::Expr>{c.in(4, xi),
                                     c.in(4, xi) * xhatAt(xi, xi[1])};
  });
  std::vector<Halide::Expr> at(ch.rbegin(), ch.rend());
  c.define(1, sums(at)[1]);
  c.define(2, sums(at)[0]);

  Index out = outIndex(c, 0);
  Halide::Expr k = out[1];
  std::vector<Halide::Expr> kat{k};
  c.define(0, c.in(1, {k}) * c.in(3, {k}) / constOf(t, m) *
                  (constOf(t, m) * c.in(4, out) - sums(kat)[0] -
                   xhatAt(out, k) * sums(kat)[1]));
  return Status::success();
}

/// The gradient from y is batch_norm_train_grad; gradients reaching mean
/// and invstd (when the loss reads them) add
///   dx += dmean[c] / M - dinvstd[c] * invstd[c]^3 / M * (x - mean[c]).
static Status gradBatchNormTrain(GradCtx &c) {
  Value *x = c.x(0);
  const TensorType &xt = x->type();
  DType dt = xt.dtype();
  std::vector<int64_t> extents = statExtents(xt);
  double m = double(productOf(extents, 0, extents.size()));
  if (Value *dy = c.dy(0)) {
    Node *g = c.emitNode("batch_norm_train_grad",
                         {x, c.x(1), c.y(1), c.y(2), dy}, {}, 3);
    c.addGrad(0, g->result(0));
    c.addGrad(1, g->result(1));
    c.addGrad(2, g->result(2));
  }
  if (!c.needs(0))
    return Status::success();
  std::vector<int64_t> perChannel(size_t(xt.rank()), 1);
  perChannel[1] = xt.dim(1);
  auto toX = [&](Value *v) { // [C] -> [1, C, 1, ...]
    return c.emit("reshape", {v}, {{"shape", Attribute(perChannel)}});
  };
  if (Value *dmean = c.dy(1))
    c.addGrad(0, c.emit("expand",
                        {toX(c.emit("mul", {dmean, c.scalar(1.0 / m, dt)}))},
                        {{"shape", Attribute(xt.dims())}}));
  if (Value *dinv = c.dy(2)) {
    Value *inv = c.y(2);
    Value *cube = c.emit("mul", {inv, c.emit("mul", {inv, inv})});
    Value *k = c.emit("mul", {c.emit("mul", {dinv, cube}), c.scalar(-1.0 / m, dt)});
    c.addGrad(0, c.emit("mul", {c.emit("sub", {x, toX(c.y(1))}), toX(k)}));
  }
  return Status::success();
}

OpDef defineBatchNormTrain() {
  return OpDef("batch_norm_train")
      .summary("Batch normalization with the statistics of the batch "
               "(training); also returns the batch mean and 1 / std")
      .inputs({"x", "scale", "bias"})
      .outputs({"y", "mean", "invstd"})
      .attr("epsilon", AttrKind::Float, 1e-5, "added to the variance")
      .inferShape(inferBatchNormTrain)
      .flops(flopsPerOutput(6))
      .pattern(FusionPattern::Opaque)
      .lower(lowerBatchNormTrain)
      .grad(gradBatchNormTrain);
}

OpDef defineBatchNormTrainGrad() {
  return OpDef("batch_norm_train_grad")
      .summary("Gradient of batch_norm_train's y with respect to x, scale "
               "and bias")
      .inputs({"x", "scale", "mean", "invstd", "dy"})
      .outputs({"dx", "dscale", "dbias"})
      .inferShape(inferBatchNormTrainGrad)
      .flops(flopsPerOutput(8))
      .pattern(FusionPattern::Opaque)
      .lower(lowerBatchNormTrainGrad);
}

} // namespace cnnc::ops
