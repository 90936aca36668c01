//===- tools/driver/PeakFma.h - the machine's f32 FMA peak, measured -------===//
#pragma once

#include <string>

namespace cnnc {

/// Runs an f32 fused multiply-add loop (independent register accumulators,
/// no memory traffic) on \p threads threads at once for about \p seconds
/// and returns the GFLOP/s achieved (2 FLOPs per lane per FMA); the best of
/// three tries.
double measureFmaPeak(int threads, double seconds);

/// What the loop runs: "AVX2 FMA, 8 lanes x 12 accumulators" or the
/// portable fallback.
std::string fmaPeakMethod();

} // namespace cnnc
