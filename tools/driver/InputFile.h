//===- tools/driver/InputFile.h - reading input files for the tools --------===//
#pragma once

#include "ir/Diag.h"
#include "ir/FileIO.h"
#include "ir/Support.h"

#include <string>
#include <vector>

namespace cnnc {

/// Registers \p text in \p sm as one buffer, or, with \p split, one buffer
/// per chunk between lines `// -----` (line numbers stay those of the file).
std::vector<uint32_t> addInputBuffers(SourceMgr &sm, const std::string &name,
                                      const std::string &text, bool split);

} // namespace cnnc
