//===- tools/driver/PeakFmaKernel512.cpp - the AVX-512 FMA loop ------------===//
//
// Compiled with -O2 -mavx512f -mfma -ffp-contract=fast when the compiler
// takes them (tools/driver/CMakeLists.txt defines CNNC_PEAK_AVX512 then).
// PeakFma.cpp calls it only on a CPU with AVX-512F, the CPUs for which
// Halide's host target (and so cnnc's) emits 16-lane f32 code.
//
//===----------------------------------------------------------------------===//

#if defined(CNNC_PEAK_AVX512)

namespace cnnc {

typedef float V16 __attribute__((vector_size(64)));

/// \p iters iterations of 16 independent 16-lane FMAs (acc = acc * m + c):
/// 512 FLOPs each. Sixteen accumulators cover the FMA latency (4 cycles)
/// on two 512-bit FMA units twice over and fit in the 32 zmm registers.
/// Returns a sum of the accumulators so the loop is not removed.
float fmaKernelAvx512(long iters, float seed) {
  V16 z = {};
  V16 m = z + 0.9999999f, c = z + 1e-7f;
  V16 a[16];
  for (int i = 0; i < 16; ++i)
    a[i] = z + (seed + float(i));
  for (long k = 0; k < iters; ++k) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      a[i] = a[i] * m + c;
  }
  V16 s = z;
  for (int i = 0; i < 16; ++i)
    s += a[i];
  float r = 0;
  for (int i = 0; i < 16; ++i)
    r += s[i];
  return r;
}

} // namespace cnnc

#endif
