//===- tools/driver/PeakFmaLoop.h - the FMA loop of the peak kernels ------===//
//
// Included only by the peak kernels (PeakFmaKernel.cpp for AVX2,
// PeakFmaKernel512.cpp for AVX-512), each built with its own ISA flags;
// each instantiates it with its own vector type, so no instantiation is
// shared between them.
//
//===----------------------------------------------------------------------===//
#pragma once

namespace cnnc {

/// \p iters iterations of \p Accs independent FMAs (acc = acc * m + c) on
/// vectors \p V of \p Lanes floats: 2 * Lanes * Accs FLOPs each. Returns a
/// sum of the accumulators so that the loop is not removed.
template <typename V, int Lanes, int Accs>
inline float fmaLoop(long iters, float seed) {
  V z = {};
  V m = z + 0.9999999f, c = z + 1e-7f;
  V a[Accs];
#pragma GCC unroll 32
  for (int i = 0; i < Accs; ++i)
    a[i] = z + (seed + float(i));
  for (long k = 0; k < iters; ++k) {
#pragma GCC unroll 32
    for (int i = 0; i < Accs; ++i)
      a[i] = a[i] * m + c;
  }
  V s = z;
#pragma GCC unroll 32
  for (int i = 0; i < Accs; ++i)
    s += a[i];
  float r = 0;
  for (int i = 0; i < Lanes; ++i)
    r += s[i];
  return r;
}

} // namespace cnnc
