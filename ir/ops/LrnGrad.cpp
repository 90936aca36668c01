//===- ir/ops/LrnGrad.cpp - lrn_grad: the adjoint of lrn ------------------===//
//
// With S[c] = bias + alpha / size * sum of x[c']^2 over the window of c,
// c' in [c - lo, c + hi] (lo = floor((size-1)/2), hi = ceil((size-1)/2)),
// lrn is y[c] = x[c] * S[c]^-beta, so
//   dx[j] = dy[j] * S[j]^-beta
//         - 2 alpha beta / size * x[j] * sum over c with j in window(c) of
//             dy[c] * x[c] * S[c]^(-beta-1),
// where j in window(c) means c in [j - hi, j + lo].
//
//===----------------------------------------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferLrnGrad(ShapeCtx &c) {
  const TensorType &x = c.input(0), &dy = c.input(1);
  if (x.rank() < 3 || !dy.isCompatibleWith(x))
    return c.error("x " + x.str() + " and dy " + dy.str() +
                   " must have one type, of rank 3 or more");
  CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
  if (c.attrInt("size") < 1)
    return c.error("size must be positive, got " +
                   std::to_string(c.attrInt("size")));
  c.setOutput(0, x);
  return Status::success();
}

static Status lowerLrnGrad(LowerCtx &c) {
  const TensorType &x = c.inType(0);
  int64_t size = c.node().attrInt("size");
  double alpha = c.node().attrFloat("alpha"), beta = c.node().attrFloat("beta");
  double bias = c.node().attrFloat("bias");
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo, channels = x.dim(1);
  Halide::Type t = LowerCtx::halideType(x.dtype());
  const std::string &name = c.name();
  Halide::Expr zero = Halide::Internal::make_zero(t);
  Index out = outIndex(c);

  // S at every position, then u = dy * x * S^(-beta-1).
  Halide::RDom r = rdomOver(c, {size}, "window");
  Index xi = out;
  xi[1] = out[1] - int(lo) + r.x;
  Halide::Expr v = c.inOr(0, xi, zero);
  Halide::Func sq = c.func(name + "_sq");
  updateAt(sq, out, zero);
  updateAt(sq, out, callAt(sq, out) + v * v);
  sq.compute_root();
  Halide::Func s = c.func(name + "_s");
  updateAt(s, out, constOf(t, bias) + constOf(t, alpha / double(size)) * callAt(sq, out));
  s.compute_root();
  Halide::Func u = c.func(name + "_u");
  updateAt(u, out,
           c.in(1, out) * c.in(0, out) *
               Halide::pow(callAt(s, out), constOf(t, -beta - 1)));
  u.compute_root();

  // The sum of u over the windows that contain each channel.
  Halide::RDom q = rdomOver(c, {size}, "windows");
  Halide::Expr ch = out[1] - int(hi) + q.x;
  Index ui = out;
  ui[1] = Halide::clamp(ch, 0, int(channels - 1));
  Halide::Func back = c.func(name + "_back");
  updateAt(back, out, zero);
  updateAt(back, out,
           callAt(back, out) +
               Halide::select(ch >= 0 && ch < int(channels), callAt(u, ui), zero));
  back.compute_root();

  c.define(0, c.in(1, out) * Halide::pow(callAt(s, out), constOf(t, -beta)) -
                  constOf(t, 2 * alpha * beta / double(size)) * c.in(0, out) *
                      callAt(back, out));
  return Status::success();
}

/// The attributes are lrn's.
OpDef defineLrnGrad() {
  return OpDef("lrn_grad")
      .summary("Gradient of lrn with respect to its input")
      .inputs({"x", "dy"})
      .outputs({"dx"})
      .requiredAttr("size", AttrKind::Int, "number of channels summed over")
      .attr("alpha", AttrKind::Float, 1e-4, "scale of the sum")
      .attr("beta", AttrKind::Float, 0.75, "exponent")
      .attr("bias", AttrKind::Float, 1.0, "added to the scaled sum")
      .inferShape(inferLrnGrad)
      .flops([](const Node &n) -> int64_t {
        const TensorType &y = n.result(0)->type();
        return y.isStatic() ? y.numElements() * (4 * n.attrInt("size") + 8) : 0;
      })
      .pattern(FusionPattern::Reduction)
      .lower(lowerLrnGrad);
}

} // namespace cnnc::ops
