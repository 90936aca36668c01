//===- codegen/EmbeddedRuntime.h - the C runtime, carried inside cnnc ------===//
//
// The runtime (runtime/*.c) is compiled to LLVM bitcode per target family
// when cnnc is built, and embedded in the cnnc binary with the text of
// runtime/cnnc_runtime.h, so cnnc needs no C compiler to build an artifact.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>

namespace cnnc {

/// The runtime's bitcode for "x86_64" or "aarch64"; null if not built.
const std::string *runtimeBitcode(const std::string &family);

/// The text of runtime/cnnc_runtime.h (embedded in every model.h).
const std::string &runtimeHeaderText();

} // namespace cnnc
