//===- ir/ops/ConvGrad.cpp - conv_grad_data and conv_grad_weight ---------===//
//
// The two adjoints of conv (ir/ops/Conv.cpp), with its strides, pads,
// dilations and groups:
//   conv_grad_data(dy, w)   -> dx, the transposed convolution of dy by w;
//   conv_grad_weight(x, dy) -> dw, the correlation of x with dy over the
//                              batch and the output positions.
// The shape of the result is an attribute (x_shape / w_shape), as the
// transposed convolution cannot recover it from dy alone.
//
//===----------------------------------------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferConvGradData(ShapeCtx &c) {
  const TensorType &dy = c.input(0), &w = c.input(1);
  const std::vector<int64_t> &xs = c.attrInts("x_shape");
  if (int64_t(xs.size()) != dy.rank() || w.rank() != dy.rank() ||
      dy.rank() < 3)
    return c.error("dy " + dy.str() + ", w " + w.str() + " and x_shape " +
                   intsStr(xs) + " must have one rank, 3 or more");
  if (w.dtype() != dy.dtype())
    return c.error("w " + w.str() + " and dy " + dy.str() + " differ in type");
  auto geo = convGeometry(c, size_t(dy.rank() - 2));
  if (!geo.ok())
    return c.error(geo.status().message());
  c.setOutput(0, TensorType(dy.dtype(), xs));
  return Status::success();
}

static Status inferConvGradWeight(ShapeCtx &c) {
  const TensorType &x = c.input(0), &dy = c.input(1);
  const std::vector<int64_t> &ws = c.attrInts("w_shape");
  if (int64_t(ws.size()) != x.rank() || dy.rank() != x.rank() || x.rank() < 3)
    return c.error("x " + x.str() + ", dy " + dy.str() + " and w_shape " +
                   intsStr(ws) + " must have one rank, 3 or more");
  if (x.dtype() != dy.dtype())
    return c.error("x " + x.str() + " and dy " + dy.str() + " differ in type");
  auto geo = convGeometry(c, size_t(x.rank() - 2));
  if (!geo.ok())
    return c.error(geo.status().message());
  c.setOutput(0, TensorType(x.dtype(), ws));
  return Status::success();
}

/// As many multiply-adds as the forward conv.
static int64_t convGradFlops(const Node &n, const TensorType &dy,
                             const TensorType &w) {
  if (!dy.isStatic() || !w.isStatic())
    return 0;
  (void)n;
  return 2 * dy.numElements() * (w.numElements() / w.dim(0));
}

/// dx[n, c, i...] = sum over m in c's group and taps k of
///   dy[n, m, o...] * w[m, c mod C/g, k...]
/// where o * stride - pad + k * dilation = i (windowSource).
///
/// The sum is computed in `acc`, whose innermost axis is realized rounded
/// up to a whole number of vectors (every read is guarded, so the extra
/// lanes compute harmless values that are never copied out): vectorized
/// across it with no tail, the taps inside, parallel over the batch.
static Status lowerConvGradData(LowerCtx &c) {
  const TensorType &dy = c.inType(0), &w = c.inType(1);
  const TensorType &x = c.outType();
  size_t spatial = size_t(dy.rank() - 2);
  ShapeCtx shapes(c.node());
  CNNC_ASSIGN_OR_RETURN(ConvGeometry g, convGeometry(shapes, spatial));
  int64_t group = c.node().attrInt("group");
  int64_t cPerGroup = w.dim(1), mPerGroup = w.dim(0) / group;
  std::vector<int64_t> extents{mPerGroup};
  for (size_t i = 0; i < spatial; ++i)
    extents.push_back(w.dim(int64_t(2 + i)));
  Halide::RDom r = rdomOver(c, extents, "taps");
  const std::string &name = c.name();
  std::vector<Halide::Var> vars;
  for (int64_t i = 0; i < x.rank(); ++i)
    vars.emplace_back(name + "_x" + std::to_string(i));
  Index at(vars.begin(), vars.end());
  Halide::Expr ch = at[1];
  Halide::Expr m = group == 1 ? Halide::Expr(r[0])
                              : (ch / int(cPerGroup)) * int(mPerGroup) + r[0];
  Index dyi{at[0], m}, wi{m, group == 1 ? ch : ch % int(cPerGroup)};
  Halide::Expr valid = Halide::Internal::const_true();
  for (size_t i = 0; i < spatial; ++i) {
    WindowSource s = windowSource(at[2 + i], r[int(1 + i)], g.strides[i],
                                  g.padBegin[i], g.dilations[i],
                                  dy.dim(int64_t(2 + i)));
    dyi.push_back(s.position);
    wi.push_back(r[int(1 + i)]);
    valid = valid && s.valid;
  }
  Halide::Type t = LowerCtx::halideType(dy.dtype());
  Halide::Expr zero = Halide::Internal::make_zero(t);
  // dy with zeros around it, at root: the taps then read it with plain
  // dense loads (a guarded read of dy itself becomes a gather).
  std::vector<Halide::Var> dv;
  for (int64_t i = 0; i < dy.rank(); ++i)
    dv.emplace_back(name + "_d" + std::to_string(i));
  Halide::Func dyp = c.func(name + "_dy_padded");
  LowerCtx::set(dyp, dv, c.inOr(0, Index(dv.begin(), dv.end()), zero));
  dyp.compute_root();
  bool unitStride = true;
  for (size_t i = 0; i < spatial; ++i)
    unitStride &= g.strides[i] == 1;
  Halide::Expr tap = callAt(dyp, dyi);
  if (!unitStride) // windowSource's exact-division test
    tap = Halide::select(valid, tap, zero);
  Halide::Func acc = c.func(name + "_acc");
  LowerCtx::set(acc, vars, zero);
  updateAt(acc, at, callAt(acc, at) + tap * c.in(1, wi));
  const int lanes = t.bits() == 64 ? 4 : 8;
  const Halide::Var &inner = vars.back();
  int64_t width = x.dim(x.rank() - 1);
  int64_t padded = (width + lanes - 1) / lanes * lanes;
  Halide::Var io(name + "_io"), ii(name + "_ii");
  acc.compute_root();
  if (!c.gpu()) { // on a GPU: one thread per element (HalideLowering)
    acc.bound(inner, 0, int(padded));
    acc.vectorize(inner, lanes);
    std::vector<Halide::VarOrRVar> order{ii};
    for (int i = 0; i < r.dimensions(); ++i)
      order.push_back(r[i]);
    order.push_back(io);
    acc.update().split(inner, io, ii, lanes).reorder(order).vectorize(ii);
    if (x.dim(0) > 1)
      acc.update().parallel(vars[0]);
  }
  c.define(0, callAt(acc, outIndex(c)));
  return Status::success();
}

/// dw[m, c, k...] = sum over n and o... of
///   dy[n, m, o...] * x[n, g(m) * C/g + c, o * stride - pad + k * dilation]
/// with x zero outside its bounds.
///
/// The sum runs over the batch and every output position, far more terms
/// than dw has elements, and dw's innermost axis (a kernel width) is too
/// short to vectorize. So it is split by hand as Halide's rfactor would:
/// `acc` keeps L partial sums per element, lane l summing the last output
/// axis's positions o = L * b + l, vectorized across the lanes (contiguous
/// loads of dy and x along o), parallel over the filters; dw adds up the L
/// lanes.
static Status lowerConvGradWeight(LowerCtx &c) {
  const TensorType &x = c.inType(0), &dy = c.inType(1);
  const TensorType &w = c.outType();
  size_t spatial = size_t(x.rank() - 2);
  ShapeCtx shapes(c.node());
  CNNC_ASSIGN_OR_RETURN(ConvGeometry g, convGeometry(shapes, spatial));
  int64_t group = c.node().attrInt("group");
  int64_t cPerGroup = w.dim(1), mPerGroup = w.dim(0) / group;
  Halide::Type t = LowerCtx::halideType(x.dtype());
  const int lanes = t.bits() == 64 ? 4 : 8;
  int64_t last = dy.dim(dy.rank() - 1);
  int64_t blocks = (last + lanes - 1) / lanes;
  // Innermost first: blocks of the last axis, the other axes inward-out,
  // the batch.
  std::vector<int64_t> extents{blocks};
  for (size_t i = spatial - 1; i-- > 0;)
    extents.push_back(dy.dim(int64_t(2 + i)));
  extents.push_back(dy.dim(0));
  Halide::RDom r = rdomOver(c, extents, "positions");
  const std::string &name = c.name();
  std::vector<Halide::Var> vars;
  for (int64_t i = 0; i < w.rank(); ++i)
    vars.emplace_back(name + "_w" + std::to_string(i));
  Halide::Var lane(name + "_lane");
  std::vector<Halide::Var> accVars = vars;
  accVars.push_back(lane);
  Index at(accVars.begin(), accVars.end());

  Halide::Expr m = vars[0];
  Halide::Expr ch = group == 1 ? Halide::Expr(vars[1])
                               : (m / int(mPerGroup)) * int(cPerGroup) + vars[1];
  Halide::Expr n = r[int(spatial)];
  Index dyi{n, m}, xi{n, ch};
  for (size_t i = 0; i < spatial; ++i) {
    Halide::Expr o = i + 1 == spatial ? r[0] * lanes + lane
                                      : Halide::Expr(r[int(spatial - 1 - i)]);
    dyi.push_back(o);
    xi.push_back(o * int(g.strides[i]) - int(g.padBegin[i]) +
                 vars[2 + i] * int(g.dilations[i]));
  }
  Halide::Expr zero = Halide::Internal::make_zero(t);
  // x and dy with zeros around them, at root: past the last position (a
  // partial block) dy reads as 0, and o * stride - pad + k * dilation may
  // leave x. Plain loads of these are dense vectors (guarded reads of the
  // inputs themselves become gathers).
  auto padded = [&](size_t input, const char *what) {
    std::vector<Halide::Var> v;
    for (int64_t i = 0; i < c.inType(input).rank(); ++i)
      v.emplace_back(name + "_" + what + std::to_string(i));
    Halide::Func f = c.func(name + "_" + what + "_padded");
    LowerCtx::set(f, v, c.inOr(input, Index(v.begin(), v.end()), zero));
    f.compute_root();
    return f;
  };
  Halide::Func xp = padded(0, "x"), dyp = padded(1, "dy");
  Halide::Func acc = c.func(name + "_acc");
  LowerCtx::set(acc, accVars, zero);
  updateAt(acc, at, callAt(acc, at) + callAt(dyp, dyi) * callAt(xp, xi));
  std::vector<Halide::VarOrRVar> order{lane};
  for (int i = 0; i < r.dimensions(); ++i)
    order.push_back(r[i]);
  acc.compute_root();
  if (!c.gpu()) { // on a GPU the lanes are threads too (HalideLowering)
    acc.vectorize(lane);
    acc.update().reorder(order).vectorize(lane);
    if (w.dim(0) > 1)
      acc.update().parallel(vars[0]);
  }
  Index out = outIndex(c);
  Index li = out;
  li.push_back(0);
  Halide::Expr sum = callAt(acc, li);
  for (int l = 1; l < lanes; ++l) {
    li.back() = l;
    sum = sum + callAt(acc, li);
  }
  c.define(0, sum);
  return Status::success();
}

/// The attributes are the conv's.
static OpDef convGradOp(const std::string &name) {
  OpDef def(name);
  return convWindowAttrs(def).pattern(FusionPattern::Complex);
}

OpDef defineConvGradData() {
  return convGradOp("conv_grad_data")
      .summary("Gradient of conv with respect to its input (the transposed "
               "convolution of dy by w)")
      .inputs({"dy", "w"})
      .outputs({"dx"})
      .requiredAttr("x_shape", AttrKind::Ints, "the conv input's shape")
      .inferShape(inferConvGradData)
      .flops([](const Node &n) {
        return convGradFlops(n, n.operand(0)->type(), n.operand(1)->type());
      })
      .lower(lowerConvGradData);
}

OpDef defineConvGradWeight() {
  return convGradOp("conv_grad_weight")
      .summary("Gradient of conv with respect to its weight (x correlated "
               "with dy)")
      .inputs({"x", "dy"})
      .outputs({"dw"})
      .requiredAttr("w_shape", AttrKind::Ints, "the conv weight's shape")
      .inferShape(inferConvGradWeight)
      .flops([](const Node &n) {
        return convGradFlops(n, n.operand(1)->type(), n.result(0)->type());
      })
      .lower(lowerConvGradWeight);
}

} // namespace cnnc::ops
