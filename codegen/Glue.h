//===- codegen/Glue.h - the LLVM glue module: tables, entry points, runtime ===//
#pragma once

#include "codegen/ModelPlan.h"
#include "ir/Support.h"

#include <string>

namespace cnnc {

struct GlueOptions {
  std::string name;        ///< the --name prefix of every exported symbol
  std::string triple;      ///< LLVM target triple, e.g. x86_64-unknown-linux-gnu
  std::string cpu = "generic";
  std::string halideTarget; ///< recorded in the model's API
  bool embedWeights = true;
  std::string weightsFile; ///< --weights=external: file name next to the library
  bool exportGenericApi = true; ///< also export cnnc_model_api (shared libraries)
  std::string runtimeBitcode;   ///< the C runtime built for this target family
  std::string optimizer;        ///< --train: the optimizer ("" otherwise)
  std::string device;           ///< "cuda", "opencl", or "" (the CPU)
};

/// Emits the glue module for \p plan (tables as constants, the typed entry
/// points NAME_create, NAME_infer, ... forwarding to the runtime), links the
/// runtime bitcode into it, internalizes everything but the API, and writes
/// an object file to \p objectPath.
Status emitGlueObject(const ModelPlan &plan, const GlueOptions &opts,
                      const std::string &objectPath);

/// Names of the symbols a model exports (for the linker's version script).
std::vector<std::string> exportedSymbols(const ModelPlan &plan,
                                         const GlueOptions &opts);

} // namespace cnnc
