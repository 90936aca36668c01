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
  Index out = outIndex(c);
  Halide::Expr ch = out[1];
  Halide::Expr m = group == 1 ? Halide::Expr(r[0])
                              : (ch / int(cPerGroup)) * int(mPerGroup) + r[0];
  Index dyi{out[0], m}, wi{m, group == 1 ? ch : ch % int(cPerGroup)};
  Halide::Expr valid = Halide::Internal::const_true();
  for (size_t i = 0; i < spatial; ++i) {
    WindowSource s = windowSource(out[2 + i], r[int(1 + i)], g.strides[i],
                                  g.padBegin[i], g.dilations[i],
                                  dy.dim(int64_t(2 + i)));
    dyi.push_back(s.position);
    wi.push_back(r[int(1 + i)]);
    valid = valid && s.valid;
  }
  (void)x;
  Halide::Type t = LowerCtx::halideType(dy.dtype());
  Halide::Expr zero = Halide::Internal::make_zero(t);
  c.define(0, zero);
  c.update(0, out,
           LowerCtx::call(c.outFunc(0), out) +
               Halide::select(valid, c.inOr(0, dyi, zero), zero) * c.in(1, wi));
  return Status::success();
}

/// dw[m, c, k...] = sum over n and o... of
///   dy[n, m, o...] * x[n, g(m) * C/g + c, o * stride - pad + k * dilation]
/// with x zero outside its bounds.
static Status lowerConvGradWeight(LowerCtx &c) {
  const TensorType &x = c.inType(0), &dy = c.inType(1);
  const TensorType &w = c.outType();
  size_t spatial = size_t(x.rank() - 2);
  ShapeCtx shapes(c.node());
  CNNC_ASSIGN_OR_RETURN(ConvGeometry g, convGeometry(shapes, spatial));
  int64_t group = c.node().attrInt("group");
  int64_t cPerGroup = w.dim(1), mPerGroup = w.dim(0) / group;
  std::vector<int64_t> extents{dy.dim(0)};
  for (size_t i = 0; i < spatial; ++i)
    extents.push_back(dy.dim(int64_t(2 + i)));
  Halide::RDom r = rdomOver(c, extents, "positions");
  Index out = outIndex(c);
  Halide::Expr m = out[0];
  Halide::Expr ch = group == 1 ? out[1] : (m / int(mPerGroup)) * int(cPerGroup) + out[1];
  Index dyi{r[0], m}, xi{r[0], ch};
  bool padded = false;
  for (size_t i = 0; i < spatial; ++i) {
    dyi.push_back(r[int(1 + i)]);
    xi.push_back(r[int(1 + i)] * int(g.strides[i]) - int(g.padBegin[i]) +
                 out[2 + i] * int(g.dilations[i]));
    padded |= g.padBegin[i] > 0 || g.padEnd[i] > 0;
  }
  Halide::Type t = LowerCtx::halideType(x.dtype());
  Halide::Expr zero = Halide::Internal::make_zero(t);
  Halide::Expr xv = padded ? c.inOr(0, xi, zero) : c.in(0, xi);
  c.define(0, zero);
  c.update(0, out, LowerCtx::call(c.outFunc(0), out) + c.in(1, dyi) * xv);
  return Status::success();
}

static OpDef convGradOp(const std::string &name) {
  return OpDef(name)
      .attr("strides", AttrKind::Ints, std::vector<int64_t>{},
            "the conv's, per spatial axis; empty = all 1")
      .attr("pads", AttrKind::Ints, std::vector<int64_t>{},
            "the conv's [begin..., end...]; empty = all 0")
      .attr("dilations", AttrKind::Ints, std::vector<int64_t>{},
            "the conv's, per spatial axis; empty = all 1")
      .attr("group", AttrKind::Int, int64_t(1), "the conv's channel groups")
      .pattern(FusionPattern::Complex);
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
