//===- tools/driver/PeakFmaKernel.cpp - the FMA loop of PeakFma.cpp --------===//
//
// Compiled with -O2 -mavx2 -mfma -ffp-contract=fast when the compiler takes
// them (tools/driver/CMakeLists.txt defines CNNC_PEAK_AVX2 then); nothing
// else lives here, so no other code of the process is built for AVX2.
// PeakFma.cpp calls it only on a CPU that has AVX2 and FMA.
//
//===----------------------------------------------------------------------===//

#if defined(CNNC_PEAK_AVX2)

#include "tools/driver/PeakFmaLoop.h"

namespace cnnc {

typedef float V8 __attribute__((vector_size(32)));

/// 12 independent 8-lane accumulators (192 FLOPs per iteration): enough to
/// cover the FMA latency (4 cycles) on two FMA units, and they fit in the
/// 16 ymm registers with m and c.
float fmaKernelAvx2(long iters, float seed) {
  return fmaLoop<V8, 8, 12>(iters, seed);
}

} // namespace cnnc

#endif
