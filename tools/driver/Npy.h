//===- tools/driver/Npy.h - NumPy .npy files --------------------------------===//
#pragma once

#include "ir/Support.h"
#include "ir/Type.h"

#include <string>

namespace cnnc {

/// Reads a .npy file (format 1.0-3.0, little-endian, C order; f32, f64,
/// i64, i32, bool). Errors name the file and what is wrong.
Expected<Tensor> readNpy(const std::string &path);

/// Writes \p t as a .npy file (format 1.0), atomically.
Status writeNpy(const std::string &path, const Tensor &t);

} // namespace cnnc
