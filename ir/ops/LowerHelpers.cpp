//===- ir/ops/LowerHelpers.cpp - Halide lowering rules shared by op files --===//
#include "ir/ops/LowerHelpers.h"

#include "ir/ops/OpHelpers.h"
#include "ir/OpDef.h"
#include "ir/Schedule.h"

#include <algorithm>

namespace cnnc {

Halide::Type LowerCtx::halideType(DType t) {
  switch (t) {
  case DType::F32: return Halide::Float(32);
  case DType::F64: return Halide::Float(64);
  case DType::I64: return Halide::Int(64);
  case DType::I32: return Halide::Int(32);
  case DType::Bool: return Halide::UInt(8);
  }
  return Halide::Float(32);
}

} // namespace cnnc

namespace cnnc::ops {

Index outIndex(LowerCtx &c, size_t result) {
  const std::vector<Halide::Var> &v = c.outVars(result);
  return Index(v.begin(), v.end());
}

Index broadcastIndexOf(LowerCtx &c, size_t input, const Index &out) {
  const TensorType &t = c.inType(input);
  size_t lead = out.size() - size_t(t.rank());
  Index idx;
  for (int64_t d = 0; d < t.rank(); ++d)
    idx.push_back(t.dim(d) == 1 ? Halide::Expr(0) : out[lead + size_t(d)]);
  return idx;
}

LowerFn unaryLower(std::function<Halide::Expr(Halide::Expr)> f) {
  return [f](LowerCtx &c) {
    c.define(0, f(c.in(0, outIndex(c))));
    return Status::success();
  };
}

LowerFn broadcastLower(
    std::function<Halide::Expr(const std::vector<Halide::Expr> &)> f) {
  return [f](LowerCtx &c) {
    Index out = outIndex(c);
    std::vector<Halide::Expr> args;
    for (size_t i = 0; i < c.numInputs(); ++i)
      args.push_back(c.in(i, broadcastIndexOf(c, i, out)));
    c.define(0, f(args));
    return Status::success();
  };
}

Halide::Expr constOf(Halide::Type t, double v) {
  if (t.is_float())
    return Halide::Internal::make_const(t, v);
  return Halide::Internal::make_const(t, int64_t(v));
}

/// f(x), but x itself where x is +inf or NaN (f32 only: f64 is exact).
static Halide::Expr passInfAndNan(Halide::Expr x, Halide::Expr fx) {
  if (x.type() != Halide::Float(32))
    return fx;
  return Halide::select(Halide::is_nan(x) || x == x.type().max(), x, fx);
}

Halide::Expr safeExp(Halide::Expr x) {
  return passInfAndNan(x, Halide::exp(x));
}

Halide::Expr safeLog(Halide::Expr x) {
  return passInfAndNan(x, Halide::log(x));
}

Halide::Expr truncDiv(Halide::Expr a, Halide::Expr b) {
  if (a.type().is_float() || a.type().is_uint())
    return a / b;
  // Halide divides Euclidean-style: the remainder r is in [0, |b|). Where
  // a < 0 leaves a remainder, truncation rounds one step toward zero.
  Halide::Type t = a.type();
  Halide::Expr q = a / b, r = a % b;
  Halide::Expr step = Halide::select(b > Halide::Internal::make_zero(t),
                                     Halide::Internal::make_one(t),
                                     Halide::Internal::make_const(t, -1));
  return Halide::select(a < Halide::Internal::make_zero(t) &&
                            r != Halide::Internal::make_zero(t),
                        q + step, q);
}

void updateAt(Halide::Func &f, const Index &index, Halide::Expr value) {
  std::vector<Halide::Expr> rev(index.rbegin(), index.rend());
  f(rev) = value;
}

Halide::Expr callAt(const Halide::Func &f, const Index &index) {
  return LowerCtx::call(f, index);
}

void parallelLoop(Halide::Stage s, const Halide::Var &outer, int64_t outerExtent,
                  const Halide::Var *inner, const Halide::Var &fused) {
  if (inner && outerExtent < kMinParallelTasks)
    s.fuse(*inner, outer, fused).parallel(fused);
  else
    s.parallel(outer);
}

Halide::RDom rdomOver(LowerCtx &c, const std::vector<int64_t> &extents,
                      const std::string &what) {
  Halide::Region ranges;
  for (int64_t e : extents)
    ranges.push_back({0, int(e)});
  return Halide::RDom(ranges, "r_" + what + "_" + c.name());
}

Index reshapeIndexOf(LowerCtx &c, size_t input, const Index &out) {
  const std::vector<int64_t> &inDims = c.inType(input).dims();
  const std::vector<int64_t> &outDims = c.outType(0).dims();
  Index idx(inDims.size(), Halide::Expr(0));
  if (productOf(inDims, 0, inDims.size()) == 0)
    return idx; // nothing is ever read
  // Size-1 axes carry index 0 and take no part in the grouping.
  std::vector<size_t> ins, outs;
  for (size_t i = 0; i < inDims.size(); ++i)
    if (inDims[i] != 1)
      ins.push_back(i);
  for (size_t i = 0; i < outDims.size(); ++i)
    if (outDims[i] != 1)
      outs.push_back(i);
  size_t i = 0, j = 0;
  while (i < ins.size() && j < outs.size()) {
    // The smallest runs ins[i0, i) and outs[j0, j) of equal product.
    size_t i0 = i, j0 = j;
    int64_t pin = inDims[ins[i++]], pout = outDims[outs[j++]];
    while (pin != pout) {
      if (pin < pout)
        pin *= inDims[ins[i++]];
      else
        pout *= outDims[outs[j++]];
    }
    if (i - i0 == 1 && j - j0 == 1) {
      idx[ins[i0]] = out[outs[j0]];
      continue;
    }
    Halide::Expr flat = out[outs[j0]];
    for (size_t k = j0 + 1; k < j; ++k)
      flat = flat * int(outDims[outs[k]]) + out[outs[k]];
    int64_t stride = pin;
    for (size_t k = i0; k < i; ++k) {
      int64_t d = inDims[ins[k]];
      stride /= d;
      Halide::Expr e = stride == 1 ? flat : flat / int(stride);
      idx[ins[k]] = k == i0 ? e : e % int(d);
    }
  }
  return idx;
}

LowerFn reshapeLower() {
  return [](LowerCtx &c) {
    c.define(0, c.in(0, reshapeIndexOf(c, 0, outIndex(c))));
    return Status::success();
  };
}

Halide::Func paddedCopy(LowerCtx &c, const std::string &name,
                        const std::vector<Halide::Var> &vars, int lanes,
                        Halide::Expr fill) {
  const TensorType &x = c.inType(0);
  Halide::Func xp = c.func(name);
  LowerCtx::set(xp, vars,
                fill.defined()
                    ? Halide::cast(LowerCtx::halideType(x.dtype()), fill)
                    : Halide::Internal::make_zero(LowerCtx::halideType(x.dtype())));
  std::vector<int64_t> extents;
  for (int64_t d = 2; d < x.rank(); ++d)
    extents.push_back(x.dim(d));
  Halide::RDom rx = rdomOver(c, extents, "x");
  Index inside{vars[0], vars[1]};
  for (int i = 0; i < rx.dimensions(); ++i)
    inside.push_back(rx[i]);
  updateAt(xp, inside, c.in(0, inside));
  xp.compute_root().vectorize(vars.back(), lanes);
  // An RDom's first dimension is its innermost loop: the copy walks x's
  // rows, columns innermost (down the columns it ran 2.4x slower).
  std::vector<Halide::VarOrRVar> order;
  for (int i = rx.dimensions(); i-- > 0;)
    order.push_back(rx[i]);
  order.push_back(vars[1]);
  order.push_back(vars[0]);
  xp.update().reorder(order).vectorize(rx[rx.dimensions() - 1], lanes);
  return xp;
}

/// Number of k in [0, taps) with lo <= start + k * step < hi (step > 0).
static Halide::Expr tapsWithin(Halide::Expr start, int64_t taps, int64_t step,
                               int64_t lo, int64_t hi) {
  // With a positive divisor Halide's division is floor, so this is ceil.
  auto ceilDiv = [&](Halide::Expr a) {
    return (a + int(step - 1)) / int(step);
  };
  Halide::Expr first = Halide::max(0, ceilDiv(int(lo) - start));
  Halide::Expr end = Halide::min(int(taps), ceilDiv(int(hi) - start));
  return Halide::max(0, end - first);
}

/// Pool windows of at most this many taps are lowered as one expression.
static constexpr int64_t kMaxUnrolledPoolTaps = 25;

Status lowerPool(LowerCtx &c, bool average) {
  const TensorType &x = c.inType(0), &y = c.outType(0);
  size_t spatial = size_t(x.rank() - 2);
  ShapeCtx shapes(c.node());
  CNNC_ASSIGN_OR_RETURN(WindowGeometry g, windowGeometry(shapes, spatial));
  Halide::Type t = LowerCtx::halideType(x.dtype());
  Halide::RDom r = rdomOver(c, g.kernel, "window");
  Index out = outIndex(c);
  Index xi{out[0], out[1]};
  std::vector<Halide::Expr> starts;
  bool guard = false; // may a tap fall outside x?
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = x.dim(int64_t(2 + i)), o = y.dim(int64_t(2 + i));
    int64_t s = g.strides[i], d = g.dilations[i], k = g.kernel[i];
    starts.push_back(out[2 + i] * int(s) - int(g.padBegin[i]));
    xi.push_back(starts.back() + r[int(i)] * int(d));
    guard |=
        g.padBegin[i] > 0 || (o - 1) * s - g.padBegin[i] + (k - 1) * d >= in;
  }
  // A small window (up to kMaxUnrolledPoolTaps taps) is one pure
  // expression of its taps: codegen vectorizes a pure definition across
  // the output's columns at the natural width (shifting the last vector
  // inwards), an update only at a width dividing them (2 lanes for 14
  // columns, none for 7). A tap at a clamped index would be a gather: a
  // pool of its own reads a copy of x padded with the value that never
  // counts; a fused group's tail (reading the conv's sums, a Func) clamps
  // with `likely`, so that loop partitioning drops the clamps and the
  // select inside. GoogLeNet's 3x3 stride-1 max pools at 14x14 took 0.32
  // ms as updates with AVX-512, 8x ONNX Runtime's. An x stored in blocks
  // (passes/BlockLayout.cpp; so is y, vectorized across a block's
  // channels) is read in place the same way.
  int64_t taps = productOf(g.kernel, 0, g.kernel.size());
  const bool fused = c.node().hasAttr(kFusionGroupAttr),
             clampTaps = fused || c.inBlock(0) > 0;
  if (taps <= kMaxUnrolledPoolTaps && c.cpuSchedule()) {
    Halide::Expr fill = average ? Halide::Internal::make_zero(t) : t.min();
    auto clampedTap = [&](const Index &at) {
      Halide::Expr inside = Halide::Internal::const_true();
      Index clamped{at[0], at[1]};
      for (size_t d = 2; d < at.size(); ++d) {
        int64_t extent = x.dim(int64_t(d));
        inside = inside && at[d] >= 0 && at[d] < int(extent);
        clamped.push_back(Halide::clamp(Halide::likely(at[d]), 0, int(extent) - 1));
      }
      return Halide::select(inside, c.in(0, clamped), fill);
    };
    Halide::Func xp;
    if (guard && !clampTaps) {
      CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(c.node()));
      int lanes = std::max(1, sched.vector);
      while (lanes > 4 && lanes > x.dim(x.rank() - 1))
        lanes /= 2;
      std::vector<Halide::Var> vars;
      for (int64_t d = 0; d < x.rank(); ++d)
        vars.emplace_back(c.name() + "_xp" + std::to_string(d));
      xp = paddedCopy(c, c.name() + "_x_padded", vars, lanes, fill);
    }
    Halide::Expr acc;
    for (int64_t k = 0; k < taps; ++k) {
      Index at{out[0], out[1]};
      int64_t rest = k;
      std::vector<int64_t> tap(spatial);
      for (size_t i = spatial; i-- > 0;) {
        tap[i] = rest % g.kernel[i];
        rest /= g.kernel[i];
      }
      for (size_t i = 0; i < spatial; ++i)
        at.push_back(starts[i] + int(tap[i] * g.dilations[i]));
      Halide::Expr v = !guard ? c.in(0, at)
                       : clampTaps ? clampedTap(at)
                               : callAt(xp, at);
      acc = !acc.defined() ? v : average ? acc + v : Halide::max(acc, v);
    }
    if (average) {
      Halide::Expr count = avgPoolDivisor(
          g, starts, x.dims(), y.dims(),
          c.node().attrInt("count_include_pad") != 0);
      acc = acc / Halide::cast(t, count);
    }
    c.define(0, acc);
    return Status::success();
  }
  if (!average) {
    // ONNX MaxPool: padding and taps past the input never win.
    Halide::Expr v = guard ? c.inOr(0, xi, t.min()) : c.in(0, xi);
    c.define(0, t.min());
    c.update(0, out, Halide::max(LowerCtx::call(c.outFunc(0), out), v));
    return Status::success();
  }
  Halide::Expr zero = Halide::Internal::make_zero(t);
  c.define(0, zero);
  Halide::Expr self = LowerCtx::call(c.outFunc(0), out);
  c.update(0, out, self + (guard ? c.inOr(0, xi, zero) : c.in(0, xi)));
  Halide::Expr count = avgPoolDivisor(
      g, starts, x.dims(), y.dims(), c.node().attrInt("count_include_pad") != 0);
  c.update(0, out, self / Halide::cast(t, count));
  return Status::success();
}

// ONNX AveragePool (as ONNX Runtime): the divisor counts the taps inside
// the padded input with count_include_pad = 1 (a ceil_mode window can run
// past even that), else the taps inside x itself.
Halide::Expr avgPoolDivisor(const WindowGeometry &g,
                            const std::vector<Halide::Expr> &starts,
                            const std::vector<int64_t> &xDims,
                            const std::vector<int64_t> &yDims,
                            bool includePad) {
  Halide::Expr count = 1;
  int64_t constCount = 1;
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t in = xDims[2 + i], o = yDims[2 + i];
    int64_t s = g.strides[i], d = g.dilations[i], k = g.kernel[i];
    int64_t lo = includePad ? -g.padBegin[i] : 0;
    int64_t hi = includePad ? in + g.padEnd[i] : in;
    bool full =
        -g.padBegin[i] >= lo && (o - 1) * s - g.padBegin[i] + (k - 1) * d < hi;
    if (full)
      constCount *= k;
    else
      count = count * tapsWithin(starts[i], k, d, lo, hi);
  }
  return count * int(constCount);
}

LowerFn globalPoolLower(bool average) {
  return [average](LowerCtx &c) {
    const TensorType &x = c.inType(0);
    Halide::Type t = LowerCtx::halideType(x.dtype());
    std::vector<int64_t> space(x.dims().begin() + 2, x.dims().end());
    Halide::RDom r = rdomOver(c, space, "space");
    Index out = outIndex(c);
    Index xi{out[0], out[1]};
    for (size_t i = 0; i < space.size(); ++i)
      xi.push_back(r[int(i)]);
    c.define(0, average ? Halide::Internal::make_zero(t) : t.min());
    Halide::Expr self = LowerCtx::call(c.outFunc(0), out);
    if (!average) {
      c.update(0, out, Halide::max(self, c.in(0, xi)));
      return Status::success();
    }
    c.update(0, out, self + c.in(0, xi));
    c.update(0, out,
             self / constOf(t, double(productOf(space, 0, space.size()))));
    return Status::success();
  };
}

LowerFn softmaxLower(bool log) {
  return [log](LowerCtx &c) {
    const TensorType &x = c.inType(0);
    Halide::Type t = LowerCtx::halideType(x.dtype());
    if (x.rank() == 0) { // a scalar: softmax 1, log_softmax 0
      c.define(0, constOf(t, log ? 0.0 : 1.0));
      return Status::success();
    }
    CNNC_ASSIGN_OR_RETURN(int64_t axis,
                          normalizeAxis(c.node().attrInt("axis"), x.rank()));
    Index out = outIndex(c), rest = out, xr = out;
    rest.erase(rest.begin() + axis);
    Halide::RDom r = rdomOver(c, {x.dim(axis)}, "axis");
    xr[size_t(axis)] = r.x;
    const std::string &name = c.name();
    // Per row: the maximum, then the sum of exp(x - max); both computed
    // once per row at root (inlined they would be recomputed per element).
    Halide::Func mx = c.func(name + "_max"), se = c.func(name + "_sumexp");
    updateAt(mx, rest, t.min());
    updateAt(mx, rest, Halide::max(callAt(mx, rest), c.in(0, xr)));
    updateAt(se, rest, Halide::Internal::make_zero(t));
    updateAt(se, rest,
             callAt(se, rest) + safeExp(c.in(0, xr) - callAt(mx, rest)));
    mx.compute_root();
    se.compute_root();
    Halide::Expr shifted = c.in(0, out) - callAt(mx, rest);
    c.define(0, log ? shifted - safeLog(callAt(se, rest))
                    : safeExp(shifted) / callAt(se, rest));
    return Status::success();
  };
}

Halide::Expr clampedLabel(LowerCtx &c, Halide::Expr n, int64_t classes) {
  Halide::Expr label = c.in(1, {n});
  Halide::Type lt = label.type();
  return Halide::cast<int>(
      Halide::clamp(label, Halide::Internal::make_zero(lt),
                    Halide::Internal::make_const(lt, classes - 1)));
}

RowSoftmax rowSoftmax(LowerCtx &c) {
  const TensorType &logits = c.inType(0);
  Halide::Type t = LowerCtx::halideType(logits.dtype());
  const std::string &name = c.name();
  Halide::Var n(name + "_n");
  Halide::RDom rc = rdomOver(c, {logits.dim(1)}, "class");
  RowSoftmax s{c.func(name + "_max"), c.func(name + "_sumexp")};
  s.max(n) = t.min();
  s.max(n) = Halide::max(s.max(n), c.in(0, {n, rc.x}));
  s.sumExp(n) = Halide::Internal::make_zero(t);
  s.sumExp(n) = s.sumExp(n) + safeExp(c.in(0, {n, rc.x}) - s.max(n));
  s.max.compute_root();
  s.sumExp.compute_root();
  return s;
}

WindowSource windowSource(Halide::Expr in, Halide::Expr tap, int64_t stride,
                          int64_t padBegin, int64_t dilation, int64_t outSize) {
  Halide::Expr num = in + int(padBegin) - tap * int(dilation);
  if (stride == 1)
    return {num, num >= 0 && num < int(outSize)};
  // Halide's / and % round toward -infinity; num % stride is never negative.
  Halide::Expr o = num / int(stride);
  return {o, num >= 0 && num % int(stride) == 0 && o < int(outSize)};
}

} // namespace cnnc::ops
