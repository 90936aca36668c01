//===- ir/ops/AvgPoolGrad.cpp - avg_pool_grad: spread dy over each window --===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferAvgPoolGrad(ShapeCtx &c) {
  const TensorType &dy = c.input(0);
  const std::vector<int64_t> &xs = c.attrInts("x_shape");
  if (dy.rank() < 3 || int64_t(xs.size()) != dy.rank())
    return c.error("dy " + dy.str() + " and x_shape " + intsStr(xs) +
                   " must have one rank, 3 or more");
  CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
  auto g = windowGeometry(c, size_t(dy.rank() - 2));
  if (!g.ok())
    return c.error(g.status().message());
  TensorType x(dy.dtype(), xs);
  for (size_t i = 0; i < 2; ++i)
    if (dy.dim(int64_t(i)) >= 0 && xs[i] != dy.dim(int64_t(i)))
      return c.error("dy " + dy.str() + " does not pool x_shape " +
                     intsStr(xs) + " (batch and channels differ)");
  for (size_t i = 0; i + 2 < xs.size(); ++i) {
    auto o = pooledSize(xs[2 + i], *g, i, c.attrInt("ceil_mode") != 0);
    if (!o.ok())
      return c.error(o.status().message());
    if (dy.dim(int64_t(2 + i)) >= 0 && *o != dy.dim(int64_t(2 + i)))
      return c.error("dy " + dy.str() + " does not pool x_shape " +
                     intsStr(xs) + " in spatial dimension " +
                     std::to_string(i));
  }
  c.setOutput(0, x);
  return Status::success();
}

/// dx[i] = sum over taps k of dy[o] / count(o), where window o puts tap k
/// on i (windowSource) and count(o) is avg_pool's divisor of window o.
static Status lowerAvgPoolGrad(LowerCtx &c) {
  const TensorType &dy = c.inType(0), &x = c.outType();
  size_t spatial = size_t(dy.rank() - 2);
  ShapeCtx shapes(c.node());
  CNNC_ASSIGN_OR_RETURN(WindowGeometry g, windowGeometry(shapes, spatial));
  Halide::Type t = LowerCtx::halideType(dy.dtype());
  Halide::RDom k = rdomOver(c, g.kernel, "taps");
  Index out = outIndex(c);
  Index src{out[0], out[1]};
  Halide::Expr valid = Halide::Internal::const_true();
  std::vector<Halide::Expr> starts;
  for (size_t i = 0; i < spatial; ++i) {
    WindowSource s = windowSource(out[2 + i], k[int(i)], g.strides[i],
                                  g.padBegin[i], g.dilations[i],
                                  dy.dim(int64_t(2 + i)));
    // Clamped so that an invalid window never reads out of bounds.
    Halide::Expr o = Halide::clamp(s.position, 0, int(dy.dim(int64_t(2 + i)) - 1));
    src.push_back(o);
    starts.push_back(o * int(g.strides[i]) - int(g.padBegin[i]));
    valid = valid && s.valid;
  }
  Halide::Expr count = avgPoolDivisor(g, starts, x.dims(), dy.dims(),
                                      c.node().attrInt("count_include_pad") != 0);
  Halide::Expr zero = Halide::Internal::make_zero(t);
  c.define(0, zero);
  c.update(0, out,
           LowerCtx::call(c.outFunc(0), out) +
               Halide::select(valid, c.in(0, src) / Halide::cast(t, count),
                              zero));
  return Status::success();
}

/// The attributes are avg_pool's, plus the input shape.
OpDef defineAvgPoolGrad() {
  OpDef def("avg_pool_grad");
  return poolWindowAttrs(def)
      .summary("Gradient of avg_pool: each dy spread evenly over its window")
      .inputs({"dy"})
      .outputs({"dx"})
      .requiredAttr("x_shape", AttrKind::Ints, "the pooled input's shape")
      .attr("count_include_pad", AttrKind::Int, int64_t(0),
            "1: padding counted in the forward divisor")
      .inferShape(inferAvgPoolGrad)
      .flops(poolFlops())
      .pattern(FusionPattern::Reduction)
      .lower(lowerAvgPoolGrad);
}

} // namespace cnnc::ops
