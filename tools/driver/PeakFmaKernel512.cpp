//===- tools/driver/PeakFmaKernel512.cpp - the AVX-512 FMA loop ------------===//
//
// Compiled with -O2 -mavx512f -mfma -ffp-contract=fast when the compiler
// takes them (tools/driver/CMakeLists.txt defines CNNC_PEAK_AVX512 then).
// PeakFma.cpp calls it only on a CPU with AVX-512F, the CPUs for which
// Halide's host target (and so cnnc's) emits 16-lane f32 code.
//
//===----------------------------------------------------------------------===//

#if defined(CNNC_PEAK_AVX512)

#include "tools/driver/PeakFmaLoop.h"

namespace cnnc {

typedef float V16 __attribute__((vector_size(64)));

/// 16 independent 16-lane accumulators (512 FLOPs per iteration): they
/// cover the FMA latency (4 cycles) on two 512-bit FMA units twice over
/// and fit in the 32 zmm registers.
float fmaKernelAvx512(long iters, float seed) {
  return fmaLoop<V16, 16, 16>(iters, seed);
}

} // namespace cnnc

#endif
