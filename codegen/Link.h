//===- codegen/Link.h - objects to a shared library or an archive ----------===//
#pragma once

#include "codegen/ModelPlan.h"
#include "ir/Support.h"

#include <map>
#include <string>
#include <vector>

namespace cnnc {

/// Links \p objects with ld.lld into a shared library exporting only
/// \p exports; \p family ("x86_64", "aarch64") picks the C library to link;
/// \p soname is the name the library records (its final file name).
Status linkShared(const std::vector<std::string> &objects,
                  const std::vector<std::string> &exports,
                  const std::string &family, const std::string &output,
                  const std::string &soname);

/// Writes \p objects into a static archive (GNU format, with symbol table).
Status writeArchive(const std::vector<std::string> &objects,
                    const std::string &output);

/// Writes the initial parameters of \p plan in the runtime's weights format
/// (runtime/cnnc_weights_format.h).
Status writeWeightsFile(const ModelPlan &plan, const std::string &path);

/// Reads a parameter file (a checkpoint or weights file), checksum first;
/// the parameters by name.
Expected<std::map<std::string, Tensor>>
readWeightsFile(const std::string &path);

/// Makes the values in \p values (by name) the initial values of \p g's
/// parameters. Every parameter of \p g must be there with its type; names
/// that \p g lacks (optimizer state) are ignored.
Status setParamValues(Graph &g, const std::map<std::string, Tensor> &values,
                      const std::string &source);

/// Copies \p from to \p to atomically (a temporary next to \p to, renamed).
Status installFile(const std::string &from, const std::string &to);

} // namespace cnnc
