//===- tools/driver/PeakFmaKernel.cpp - the FMA loop of PeakFma.cpp --------===//
//
// Compiled with -O2 -mavx2 -mfma -ffp-contract=fast when the compiler takes
// them (tools/driver/CMakeLists.txt defines CNNC_PEAK_AVX2 then); nothing
// else lives here, so no other code of the process is built for AVX2.
// PeakFma.cpp calls it only on a CPU that has AVX2 and FMA.
//
//===----------------------------------------------------------------------===//

#if defined(CNNC_PEAK_AVX2)

namespace cnnc {

typedef float V8 __attribute__((vector_size(32)));

/// \p iters iterations of 12 independent 8-lane FMAs (acc = acc * m + c):
/// 192 FLOPs each. Twelve accumulators cover the FMA latency (4 cycles) on
/// two FMA units with room to spare and fit in the 16 ymm registers with m
/// and c. Returns a sum of the accumulators so the loop is not removed.
float fmaKernelAvx2(long iters, float seed) {
  V8 z = {};
  V8 m = z + 0.9999999f, c = z + 1e-7f;
#define CNNC_ACC(i) V8 a##i = z + (seed + float(i));
  CNNC_ACC(0) CNNC_ACC(1) CNNC_ACC(2) CNNC_ACC(3) CNNC_ACC(4) CNNC_ACC(5)
  CNNC_ACC(6) CNNC_ACC(7) CNNC_ACC(8) CNNC_ACC(9) CNNC_ACC(10) CNNC_ACC(11)
#undef CNNC_ACC
  for (long k = 0; k < iters; ++k) {
    a0 = a0 * m + c;
    a1 = a1 * m + c;
    a2 = a2 * m + c;
    a3 = a3 * m + c;
    a4 = a4 * m + c;
    a5 = a5 * m + c;
    a6 = a6 * m + c;
    a7 = a7 * m + c;
    a8 = a8 * m + c;
    a9 = a9 * m + c;
    a10 = a10 * m + c;
    a11 = a11 * m + c;
  }
  V8 s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) +
         ((a8 + a9) + (a10 + a11));
  float r = 0;
  for (int i = 0; i < 8; ++i)
    r += s[i];
  return r;
}

} // namespace cnnc

#endif
