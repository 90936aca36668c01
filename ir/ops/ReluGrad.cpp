//===- ir/ops/ReluGrad.cpp - relu_grad: dx = y > 0 ? dy : 0 --------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// y is relu's result (or its input: the sign test is the same).
OpDef defineReluGrad() {
  return OpDef("relu_grad")
      .summary("Gradient of relu: dx = dy where y > 0, else 0")
      .inputs({"dy", "y"})
      .outputs({"dx"})
      .inferShape(broadcastShape())
      .fold(binaryFold([](double dy, double y) { return y > 0 ? dy : 0.0; }))
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .inPlace(1)
      .lower(broadcastLower([](const std::vector<Halide::Expr> &v) {
        Halide::Expr zero = Halide::Internal::make_zero(v[0].type());
        return Halide::select(v[1] > zero, v[0], zero);
      }));
}

} // namespace cnnc::ops
