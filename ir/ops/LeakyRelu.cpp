//===- ir/ops/LeakyRelu.cpp - leaky_relu: y = x < 0 ? alpha * x : x -------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status foldLeakyRelu(FoldCtx &c) {
  double alpha = c.node().attrFloat("alpha");
  return unaryFold([alpha](double x) { return x < 0 ? alpha * x : x; })(c);
}

/// dx = dy * (x > 0 ? 1 : alpha) = alpha * dy + (1 - alpha) * relu_grad(dy, x)
/// (the kink at 0 takes the slope alpha).
static Status gradLeakyRelu(GradCtx &c) {
  double alpha = c.node().attrFloat("alpha");
  DType t = c.x(0)->type().dtype();
  Value *pos = c.emit("relu_grad", {c.dy(), c.x(0)});
  c.addGrad(0, c.emit("add", {c.emit("mul", {c.dy(), c.scalar(alpha, t)}),
                              c.emit("mul", {pos, c.scalar(1 - alpha, t)})}));
  return Status::success();
}

OpDef defineLeakyRelu() {
  return OpDef("leaky_relu")
      .summary("Leaky rectified linear unit, y = x < 0 ? alpha * x : x")
      .inputs({"x"})
      .outputs({"y"})
      .attr("alpha", AttrKind::Float, 0.01, "slope for x < 0")
      .onnx("LeakyRelu", 6)
      .inferShape(unaryFloatShape())
      .fold(foldLeakyRelu)
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower([](LowerCtx &c) {
        Halide::Expr x = c.in(0, outIndex(c));
        Halide::Expr alpha = constOf(x.type(), c.node().attrFloat("alpha"));
        c.define(0, Halide::select(x < 0, alpha * x, x));
        return Status::success();
      })
      .grad(gradLeakyRelu);
}

} // namespace cnnc::ops
