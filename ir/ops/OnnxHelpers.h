//===- ir/ops/OnnxHelpers.h - ONNX import/export pieces shared by op files -===//
//
// Private to ir/ops/. The ONNX hooks that more than one op needs: auto_pad,
// the pooling attributes, opset-6 broadcasting, softmax's opset-12 form,
// and writing an attribute as an initializer input.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "frontend/onnx/OnnxExportCtx.h"
#include "frontend/onnx/OnnxImportCtx.h"
#include "ir/OpDef.h"

#include <string>
#include <vector>

namespace cnnc::ops {

/// Replaces ONNX auto_pad (NOTSET, VALID, SAME_UPPER, SAME_LOWER) by
/// explicit `pads` for a window of \p kernel over the spatial axes of
/// input 0 (ONNX: SAME gives output ceil(in / stride), the odd padding
/// at the end for SAME_UPPER and at the beginning for SAME_LOWER). SAME
/// needs the input's spatial dims.
Status importAutoPad(OnnxImportCtx &c, const std::vector<int64_t> &kernel);

/// Import hook of MaxPool and AveragePool: kernel_shape, auto_pad.
Status importPool(OnnxImportCtx &c);

/// Import hook of Add, Sub, Mul and Div: before opset 7, `broadcast = 1`
/// aligns b with a starting at `axis` (default: the trailing axes); b is
/// reshaped so that numpy broadcasting gives the same.
Status importLegacyBroadcast(OnnxImportCtx &c);

/// Import hook of Softmax and LogSoftmax (op \p op): before opset 13 the
/// input is seen as a matrix, axes before `axis` (default 1) the rows. That
/// is the IR's single-axis op when axis is the last axis or the input is a
/// matrix; otherwise the input is flattened to [rows, columns] around it.
OnnxImportFn importSoftmax(const std::string &op);

/// Export helper: moves int list attribute \p attr into a new i64
/// initializer input (reshape's shape, pad's pads, squeeze's axes).
void exportIntsAsInput(OnnxExportCtx &c, const std::string &attr);

/// Import of ONNX SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss in
/// the form cnnc's losses compute (ir/ops/NllLoss.cpp).
Status importOnnxLoss(OnnxImportCtx &c);

} // namespace cnnc::ops
