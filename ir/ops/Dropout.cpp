//===- ir/ops/Dropout.cpp - dropout: identity at inference ----------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// ONNX: ratio lies in [0, 1).
static Status inferDropout(ShapeCtx &c) {
  CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
  double ratio = c.attrFloat("ratio");
  if (!(ratio >= 0 && ratio < 1))
    return c.error("ratio " + formatDouble(ratio) + " is outside [0, 1)");
  c.setOutput(0, c.input(0));
  return Status::success();
}

/// ONNX Dropout: is_test (before opset 7) and seed do not matter here; from
/// opset 12 ratio and training_mode are optional constant inputs, and
/// training_mode must be false (training is cnnc --train, not a model
/// input). The mask output must be unused.
static Status importDropout(OnnxImportCtx &c) {
  (void)c.takeAttr("is_test");
  (void)c.takeAttr("seed");
  if (c.opset() >= 12 && c.hasInput(1)) {
    CNNC_ASSIGN_OR_RETURN(double ratio, c.constantScalar(1));
    c.attrs()["ratio"] = Attribute(ratio);
  }
  if (c.opset() >= 12 && c.hasInput(2)) {
    CNNC_ASSIGN_OR_RETURN(double training, c.constantScalar(2));
    if (training != 0)
      return Status::error("training_mode = true is not supported");
  }
  if (c.outputUsed(1))
    return Status::error("the mask output is not supported");
  CNNC_ASSIGN_OR_RETURN(Value * x, c.input(0));
  c.setOperands({x});
  return Status::success();
}

/// Dropout-13: ratio is an input.
static Status exportDropout(OnnxExportCtx &c) {
  double ratio = c.node().attrFloat("ratio");
  c.attrs().erase("ratio");
  c.addConstantInput("ratio",
                     Tensor::fromDoubles(TensorType(DType::F32, {}), {ratio}));
  return Status::success();
}

/// In this IR dropout is pure: it is the identity unless a training
/// lowering replaces it (inverted dropout, scaled by 1 / (1 - ratio)), so
/// folding copies the input. ONNX Dropout-6 carries is_test, ignored here;
/// from opset 12 ratio is an input, which the importer turns into the
/// attribute. The optional mask result is not modelled.
OpDef defineDropout() {
  return OpDef("dropout")
      .summary("Randomly zeroes elements while training; identity at "
               "inference")
      .inputs({"x"})
      .outputs({"y"})
      .attr("ratio", AttrKind::Float, 0.5, "probability of dropping")
      .onnx("Dropout", 6)
      .onnxImport(importDropout)
      .onnxExport(exportDropout)
      .inferShape(inferDropout)
      .fold(copyDataFold())
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Elementwise)
      .inPlace(0)
      .lower(unaryLower([](Halide::Expr x) { return x; }))
      .grad([](GradCtx &c) { // the identity (training uses dropout_train)
        c.addGrad(0, c.emit("identity", {c.dy()}));
        return Status::success();
      });
}

} // namespace cnnc::ops
