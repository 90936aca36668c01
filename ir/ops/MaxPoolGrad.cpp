//===- ir/ops/MaxPoolGrad.cpp - max_pool_grad: route dy to each argmax ---===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferMaxPoolGrad(ShapeCtx &c) {
  const TensorType &x = c.input(0), &dy = c.input(1);
  if (x.rank() < 3 || dy.rank() != x.rank() || dy.dtype() != x.dtype())
    return c.error("x " + x.str() + " and dy " + dy.str() +
                   " must be pooled tensors of one rank (3 or more) and type");
  auto g = windowGeometry(c, size_t(x.rank() - 2));
  if (!g.ok())
    return c.error(g.status().message());
  c.setOutput(0, x);
  return Status::success();
}

/// Each window's first maximum (in tap order, as ONNX Runtime and PyTorch)
/// is found at root as a flat tap number; then
///   dx[i] = sum over taps k of dy[o] where window o puts k on i and k is
///   o's argmax.
static Status lowerMaxPoolGrad(LowerCtx &c) {
  const TensorType &x = c.inType(0), &dy = c.inType(1);
  size_t spatial = size_t(x.rank() - 2);
  ShapeCtx shapes(c.node());
  CNNC_ASSIGN_OR_RETURN(WindowGeometry g, windowGeometry(shapes, spatial));
  Halide::Type t = LowerCtx::halideType(x.dtype());
  const std::string &name = c.name();

  // argmax(o): (flat tap, value) over the window of o.
  std::vector<Halide::Var> ov;
  for (int64_t i = 0; i < dy.rank(); ++i)
    ov.emplace_back(name + "_o" + std::to_string(i));
  Index o(ov.begin(), ov.end());
  Halide::RDom r = rdomOver(c, g.kernel, "window");
  Index xi{o[0], o[1]};
  Halide::Expr flat = 0;
  for (size_t i = 0; i < spatial; ++i) {
    xi.push_back(o[2 + i] * int(g.strides[i]) - int(g.padBegin[i]) +
                 r[int(i)] * int(g.dilations[i]));
    flat = flat * int(g.kernel[i]) + r[int(i)];
  }
  Halide::Expr v = c.inOr(0, xi, t.min());
  Halide::Func arg = c.func(name + "_argmax");
  std::vector<Halide::Expr> lhs(o.rbegin(), o.rend());
  arg(lhs) = Halide::Tuple(-1, t.min());
  Halide::Expr better = v > arg(lhs)[1] || arg(lhs)[0] < 0;
  arg(lhs) = Halide::Tuple(Halide::select(better, flat, arg(lhs)[0]),
                           Halide::select(better, v, arg(lhs)[1]));
  arg.compute_root();

  Halide::RDom k = rdomOver(c, g.kernel, "taps");
  Index out = outIndex(c);
  Index src{out[0], out[1]};
  Halide::Expr valid = Halide::Internal::const_true();
  Halide::Expr tap = 0;
  for (size_t i = 0; i < spatial; ++i) {
    WindowSource s = windowSource(out[2 + i], k[int(i)], g.strides[i],
                                  g.padBegin[i], g.dilations[i],
                                  dy.dim(int64_t(2 + i)));
    src.push_back(s.position);
    valid = valid && s.valid;
    tap = tap * int(g.kernel[i]) + k[int(i)];
  }
  // Clamp the index so that an invalid window never reads out of bounds.
  Index clamped{src[0], src[1]};
  for (size_t i = 0; i < spatial; ++i)
    clamped.push_back(
        Halide::clamp(src[2 + i], 0, int(dy.dim(int64_t(2 + i)) - 1)));
  std::vector<Halide::Expr> at(clamped.rbegin(), clamped.rend());
  Halide::Expr zero = Halide::Internal::make_zero(t);
  Halide::Expr hit = valid && arg(at)[0] == tap;
  c.define(0, zero);
  c.update(0, out,
           LowerCtx::call(c.outFunc(0), out) +
               Halide::select(hit, c.in(1, clamped), zero));
  return Status::success();
}

/// The attributes are max_pool's (the same node attributes are copied).
OpDef defineMaxPoolGrad() {
  OpDef def("max_pool_grad");
  return poolWindowAttrs(def)
      .summary("Gradient of max_pool: dy routed to the first maximum of each "
               "window")
      .inputs({"x", "dy"})
      .outputs({"dx"})
      .inferShape(inferMaxPoolGrad)
      .flops(flopsPerInput(2))
      .pattern(FusionPattern::Reduction)
      .lower(lowerMaxPoolGrad);
}

} // namespace cnnc::ops
