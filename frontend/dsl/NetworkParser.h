//===- frontend/dsl/NetworkParser.h - the network language (.cnn) ---------===//
//
// cnnc's own network language: one layer per line, each reading the
// previous layer's output unless `from=` names other layers.
//
//   network lenet5
//   input data 1x28x28              // C x H x W; the batch comes from --batch
//   conv c1 filters=6 size=5x5 pad=2 init=he bias=0
//   relu
//   maxpool size=2 stride=2
//   fc out units=10
//   loss softmax_cross_entropy
//
// A file is lowered to the graph IR with every parameter declared and
// initialised, and every result type inferred. Every mistake is reported
// through the DiagEngine at file:line:col.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Diag.h"
#include "ir/Graph.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cnnc {

struct NetworkOptions {
  /// The batch size, dimension 0 of the input (cnnc --batch).
  int64_t batch = 1;
};

/// Parses the network in buffer \p buffer of \p sm and lowers it to a graph.
/// Reports every error through \p diag and returns null if there was one.
std::unique_ptr<Graph> parseNetwork(const SourceMgr &sm, uint32_t buffer,
                                    DiagEngine &diag,
                                    const NetworkOptions &options = {});

/// Parses a network from a string (tests and tools); errors go to \p diag.
std::unique_ptr<Graph> parseNetworkString(const std::string &text,
                                          SourceMgr &sm, DiagEngine &diag,
                                          const NetworkOptions &options = {},
                                          const std::string &name = "<string>");

/// True if the first word of \p text (after comments and blank lines) is
/// `network`: the file is in the network language, not the IR text form.
bool isNetworkSource(std::string_view text);

/// One line per layer kind with its options, for cnnc --help.
std::string describeLayerKinds();

} // namespace cnnc
