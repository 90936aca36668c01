//===- ir/ops/LeakyRelu.cpp - leaky_relu: y = x < 0 ? alpha * x : x -------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status foldLeakyRelu(FoldCtx &c) {
  double alpha = c.node().attrFloat("alpha");
  return unaryFold([alpha](double x) { return x < 0 ? alpha * x : x; })(c);
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
      .lower([](LowerCtx &c) {
        Halide::Expr x = c.in(0, outIndex(c));
        Halide::Expr alpha = constOf(x.type(), c.node().attrFloat("alpha"));
        c.define(0, Halide::select(x < 0, alpha * x, x));
        return Status::success();
      });
}

} // namespace cnnc::ops
