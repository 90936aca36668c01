//===- ir/TextIR.h - the IR text form: printer and parser ------------------===//
//
//   graph @conv_stride2(%x: f32[1,3,28,28]) attributes {loss = "hinge"} {
//     param %w: f32[8,3,3,3] = he
//     param %b: f32[8] = fill {value = 0.1}
//     %y = conv(%x, %w, %b) {pads = [1, 1, 1, 1], strides = [2, 2]} : f32[1,8,14,14]
//     return %y
//   }
//
// One node per line, result types last, attributes sorted with defaults left
// out, nodes in graph order. print(parse(text)) == text for printed text.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Diag.h"
#include "ir/Graph.h"

#include <memory>
#include <string>
#include <vector>

namespace cnnc {

struct PrintOptions {
  /// Appends loc("file":line:col) to nodes with a known location.
  bool printLocations = false;
  /// Needed for printLocations.
  const SourceMgr *sourceMgr = nullptr;
};

/// The text form of \p g, ending in a newline.
std::string printGraph(const Graph &g, const PrintOptions &opts = {});

/// "%name", quoted as %"..." when the name has other characters.
std::string printValueName(const std::string &name);

/// Parses every graph in buffer \p buffer of \p sm. Reports errors through
/// \p diag and returns an empty vector if there was any. Does not verify.
std::vector<std::unique_ptr<Graph>> parseGraphs(const SourceMgr &sm,
                                                uint32_t buffer,
                                                DiagEngine &diag);

/// Parses a graph from a string (tests and tools); errors go to \p diag.
std::unique_ptr<Graph> parseGraphString(const std::string &text,
                                        SourceMgr &sm, DiagEngine &diag,
                                        const std::string &name = "<string>");

} // namespace cnnc
