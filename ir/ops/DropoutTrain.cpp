//===- ir/ops/DropoutTrain.cpp - dropout_train: inverted dropout ----------===//
//
// The training form of dropout. The mask is a pure function of (seed, salt,
// flat index), so a run is reproducible on every target and the backward
// reuses the forward's mask:
//   h    = mix(mix(mix(mix(salt ^ 0x9e3779b9) ^ lo32(seed)) ^ hi32(seed)) ^ i)
//   keep = (h >> 8) >= ceil(ratio * 2^24)      (h >> 8 is uniform in [0, 2^24))
//   mask = keep ? 1 / (1 - ratio) : 0,  y = x * mask
// where mix is MurmurHash3's 32-bit finalizer (fmix32), seed is the scalar
// operand converted to a 64-bit integer (truncated toward zero) and i the
// row-major flat index of the element.
//
//===----------------------------------------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

static Status inferDropoutTrain(ShapeCtx &c) {
  CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
  const TensorType &seed = c.input(1);
  if (seed.rank() != 0 || seed.dtype() == DType::Bool)
    return c.error("seed must be a numeric scalar, got " + seed.str());
  double ratio = c.attrFloat("ratio");
  if (!(ratio >= 0 && ratio < 1))
    return c.error("ratio " + formatDouble(ratio) + " is outside [0, 1)");
  int64_t salt = c.attrInt("salt");
  if (salt < 0 || salt > 0xffffffffll)
    return c.error("salt " + std::to_string(salt) +
                   " is not a 32-bit unsigned integer");
  c.setOutput(0, c.input(0));
  c.setOutput(1, c.input(0));
  return Status::success();
}

/// MurmurHash3's fmix32 on a u32 Expr.
static Halide::Expr fmix32(Halide::Expr h) {
  h = h ^ (h >> 16);
  h = h * Halide::Expr(uint32_t(0x85ebca6b));
  h = h ^ (h >> 13);
  h = h * Halide::Expr(uint32_t(0xc2b2ae35));
  return h ^ (h >> 16);
}

static Status lowerDropoutTrain(LowerCtx &c) {
  const TensorType &x = c.inType(0);
  Halide::Type t = LowerCtx::halideType(x.dtype());
  double ratio = c.node().attrFloat("ratio");
  uint32_t salt = uint32_t(c.node().attrInt("salt"));
  uint32_t threshold = uint32_t(std::ceil(ratio * 16777216.0));
  Index out = outIndex(c);
  std::vector<int64_t> strides = stridesOf(x.dims());
  Halide::Expr flat = Halide::cast<uint32_t>(0);
  for (size_t d = 0; d < out.size(); ++d)
    flat = flat + Halide::cast<uint32_t>(out[d]) * Halide::Expr(uint32_t(strides[d]));
  Halide::Expr seed = Halide::cast<int64_t>(c.in(1, {}));
  Halide::Expr h = fmix32(Halide::Expr(uint32_t(salt ^ 0x9e3779b9u)));
  h = fmix32(h ^ Halide::cast<uint32_t>(seed));
  h = fmix32(h ^ Halide::cast<uint32_t>(seed >> 32));
  h = fmix32(h ^ flat);
  Halide::Expr keep = (h >> 8) >= Halide::Expr(threshold);
  Halide::Expr mask =
      Halide::select(keep, constOf(t, 1.0 / (1.0 - ratio)),
                     Halide::Internal::make_zero(t));
  c.define(1, mask);
  c.define(0, c.in(0, out) * mask);
  return Status::success();
}

/// dx = dy * mask.
static Status gradDropoutTrain(GradCtx &c) {
  c.addGrad(0, c.emit("mul", {c.dy(0), c.y(1)}));
  return Status::success();
}

OpDef defineDropoutTrain() {
  return OpDef("dropout_train")
      .summary("Inverted dropout for training: y = x * mask, mask 0 with "
               "probability ratio, else 1 / (1 - ratio), hashed from (seed, "
               "salt, index)")
      .inputs({"x", "seed"})
      .outputs({"y", "mask"})
      .attr("ratio", AttrKind::Float, 0.5, "probability of dropping")
      .attr("salt", AttrKind::Int, int64_t(0),
            "distinguishes the dropout nodes of one step (u32)")
      .inferShape(inferDropoutTrain)
      .flops(flopsPerOutput(1))
      .pattern(FusionPattern::Elementwise)
      .lower(lowerDropoutTrain)
      .nonDifferentiable(1)
      .grad(gradDropoutTrain);
}

} // namespace cnnc::ops
