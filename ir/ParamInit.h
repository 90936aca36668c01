//===- ir/ParamInit.h - parameter initialisers -----------------------------===//
//
// The one place that knows the initialiser kinds:
//   zeros                      all 0
//   fill     {value}           all `value`
//   gaussian {std, mean = 0}   N(mean, std^2)
//   uniform  {low, high}       U(low, high)
//   he                         N(0, 2 / fan_in)            (He et al. 2015)
//   xavier                     U(-a, a), a = sqrt(6 / (fan_in + fan_out))
//                              (Glorot and Bengio 2010)
//   dense                      explicit data
// fan_in = prod(dims[1:]) and fan_out = dims[0] * prod(dims[2:]) for a weight
// of layout [out, in, k...] (conv) or [out, in] (fc).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <cstdint>

namespace cnnc {

/// Checks the kind and its arguments against the parameter's \p type.
Status validateParamInit(const ParamInit &init, const TensorType &type);

/// The initial value, drawn with \p seed where random (deterministic).
Tensor materializeParam(const ParamInit &init, const TensorType &type,
                        uint64_t seed);

} // namespace cnnc
