//===- ir/ops/BatchNorm.cpp - batch_norm: per-channel normalization -------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

#include <cmath>

namespace cnnc::ops {

/// x: [N, C, D...]; scale, bias, mean and var: [C]; y has the type of x.
static Status inferBatchNorm(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  if (x.rank() < 2)
    return c.error("input must have rank 2 or more (N, C, ...), got " +
                   x.str());
  CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
  int64_t channels = x.dim(1);
  for (size_t i = 1; i < 5; ++i) {
    const TensorType &v = c.input(i);
    if (v.dtype() != x.dtype())
      return c.error(operandName(c, i) + " type " + v.str() +
                     " differs from input type " + x.str());
    if (v.rank() != 1)
      return c.error(operandName(c, i) + " must be a vector, got " + v.str());
    if (channels >= 0 && v.dim(0) >= 0 && v.dim(0) != channels)
      return c.error(operandName(c, i) + " has " + std::to_string(v.dim(0)) +
                     " elements but the input has " + std::to_string(channels) +
                     " channels");
  }
  if (c.attrFloat("epsilon") < 0)
    return c.error("epsilon must not be negative, got " +
                   formatDouble(c.attrFloat("epsilon")));
  c.setOutput(0, x);
  return Status::success();
}

/// y = scale * (x - mean) / sqrt(var + epsilon) + bias, per channel.
static Status foldBatchNorm(FoldCtx &c) {
  const Tensor &x = c.input(0), &scale = c.input(1), &bias = c.input(2),
               &mean = c.input(3), &var = c.input(4);
  Tensor &y = c.makeOutput(0);
  double eps = c.node().attrFloat("epsilon");
  int64_t channels = x.dims()[1];
  int64_t inner = productOf(x.dims(), 2, x.dims().size());
  for (int64_t i = 0, n = x.numElements(); i < n; ++i) {
    int64_t ch = (i / inner) % channels;
    double normed = (x.getDouble(i) - mean.getDouble(ch)) /
                    std::sqrt(var.getDouble(ch) + eps);
    y.setDouble(i, scale.getDouble(ch) * normed + bias.getDouble(ch));
  }
  return Status::success();
}

static Status lowerBatchNorm(LowerCtx &c) {
  Index out = outIndex(c), ch{out[1]};
  Halide::Expr x = c.in(0, out);
  Halide::Expr eps = constOf(x.type(), c.node().attrFloat("epsilon"));
  Halide::Expr normed =
      (x - c.in(3, ch)) / Halide::sqrt(c.in(4, ch) + eps);
  c.define(0, c.in(1, ch) * normed + c.in(2, ch));
  return Status::success();
}

/// ONNX BatchNormalization in its inference form: spatial (before opset 9)
/// must be 1 and training_mode (opset 14) 0; is_test (before opset 7) does
/// not matter; the training statistics outputs must be unused.
static Status importBatchNorm(OnnxImportCtx &c) {
  (void)c.takeAttr("is_test");
  CNNC_ASSIGN_OR_RETURN(int64_t spatial, c.takeInt("spatial", 1));
  if (spatial != 1)
    return Status::error("spatial = " + std::to_string(spatial) +
                         " (statistics per activation) is not supported");
  CNNC_ASSIGN_OR_RETURN(int64_t training, c.takeInt("training_mode", 0));
  if (training != 0)
    return Status::error("training_mode = " + std::to_string(training) +
                         " is not supported (running statistics only)");
  return Status::success();
}

/// With the running statistics held fixed (fine-tuning with frozen
/// statistics; training graphs use batch_norm_train), per channel c and
/// inv = 1 / sqrt(var + epsilon):
///   dx = dy * scale * inv, dscale = sum(dy * (x - mean) * inv), dbias = sum(dy)
/// over N and the spatial axes. mean and var get no gradient.
static Status gradBatchNorm(GradCtx &c) {
  const TensorType &x = c.x(0)->type();
  DType dt = x.dtype();
  std::vector<int64_t> perChannel(size_t(x.rank()), 1), axes{0};
  perChannel[1] = x.dim(1);
  for (int64_t i = 2; i < x.rank(); ++i)
    axes.push_back(i);
  auto toX = [&](Value *v) { // [C] -> [1, C, 1, ...]
    return c.emit("reshape", {v}, {{"shape", Attribute(perChannel)}});
  };
  auto sumToC = [&](Value *v) {
    return c.emit("reduce_sum", {v},
                  {{"axes", Attribute(axes)}, {"keepdims", Attribute(int64_t(0))}});
  };
  Value *dy = c.dy();
  Value *inv = c.emit(
      "div", {c.scalar(1.0, dt),
              c.emit("sqrt", {c.emit("add", {c.x(4), c.scalar(c.node().attrFloat("epsilon"), dt)})})});
  if (c.needs(0))
    c.addGrad(0, c.emit("mul", {dy, toX(c.emit("mul", {c.x(1), inv}))}));
  if (c.needs(1)) {
    Value *xhat = c.emit("mul", {c.emit("sub", {c.x(0), toX(c.x(3))}), toX(inv)});
    c.addGrad(1, sumToC(c.emit("mul", {dy, xhat})));
  }
  if (c.needs(2))
    c.addGrad(2, sumToC(dy));
  return Status::success();
}

/// ONNX BatchNormalization in inference mode (running statistics). Opsets
/// 6-8 also carry is_test and spatial; with spatial = 1 (the default, and
/// the only form later opsets keep) they compute the same, so the importer
/// accepts them from opset 6. momentum only matters for training.
OpDef defineBatchNorm() {
  return OpDef("batch_norm")
      .summary("Batch normalization with running statistics, y = scale * "
               "(x - mean) / sqrt(var + epsilon) + bias")
      .inputs({"x", "scale", "bias", "mean", "var"})
      .outputs({"y"})
      .attr("epsilon", AttrKind::Float, 1e-5, "added to var")
      .attr("momentum", AttrKind::Float, 0.9,
            "running statistics update factor (training)")
      .onnx("BatchNormalization", 6)
      .onnxImport(importBatchNorm)
      .inferShape(inferBatchNorm)
      .fold(foldBatchNorm)
      .flops(flopsPerOutput(2)) // a multiply and an add once folded
      .pattern(FusionPattern::Broadcast)
      .inPlace(0)
      .lower(lowerBatchNorm)
      .nonDifferentiable(3)
      .nonDifferentiable(4)
      .grad(gradBatchNorm);
}

} // namespace cnnc::ops
