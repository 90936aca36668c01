//===- ir/SourceLoc.h - a position in a source buffer ----------------------===//
#pragma once

#include <cstdint>

namespace cnnc {

/// A position in a buffer registered with a SourceMgr: 1-based line and
/// column, 0 when unknown. Line 0 with a column names a label of a buffer
/// without lines (SourceMgr::addLabel: a node of a binary ONNX file).
struct SourceLoc {
  uint32_t buffer = 0; ///< 1-based buffer id in the SourceMgr; 0 = none.
  uint32_t line = 0;
  uint32_t col = 0;
  bool valid() const { return buffer != 0 && line != 0; }
};

} // namespace cnnc
