//===- ir/FileIO.h - reading and writing whole files ------------------------===//
#pragma once

#include "ir/Support.h"

#include <string>

namespace cnnc {

/// The contents of \p path ("-" for standard input), or an error naming it.
Expected<std::string> readFile(const std::string &path);

/// Writes \p text to \p path ("-" for standard output) atomically: a
/// temporary file next to it, flushed, then renamed into place.
Status writeFile(const std::string &path, const std::string &text);

} // namespace cnnc
