//===- tools/driver/PeakFma.cpp - the machine's f32 FMA peak, measured -----===//
#include "tools/driver/PeakFma.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace cnnc {

#if defined(CNNC_PEAK_AVX2)
float fmaKernelAvx2(long iters, float seed); // PeakFmaKernel.cpp
#endif
#if defined(CNNC_PEAK_AVX512)
float fmaKernelAvx512(long iters, float seed); // PeakFmaKernel512.cpp
#endif

typedef float V4 __attribute__((vector_size(16)));

/// The portable loop: 8 accumulators of 4 lanes, a multiply and an add
/// each (2 FLOPs per lane, like an FMA); 64 FLOPs per iteration.
static float mulAddKernel(long iters, float seed) {
  V4 z = {};
  V4 m = z + 0.9999999f, c = z + 1e-7f;
  V4 a[8];
  for (int i = 0; i < 8; ++i)
    a[i] = z + (seed + float(i));
  for (long k = 0; k < iters; ++k)
    for (int i = 0; i < 8; ++i)
      a[i] = a[i] * m + c;
  V4 s = z;
  for (int i = 0; i < 8; ++i)
    s += a[i];
  return s[0] + s[1] + s[2] + s[3];
}

static bool haveAvx2Fma() {
#if defined(CNNC_PEAK_AVX2)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

static bool haveAvx512() {
#if defined(CNNC_PEAK_AVX512)
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

/// One call of the kernel: its FLOPs per iteration and the loop itself.
static double flopsPerIter() {
  return haveAvx512() ? 512.0 : haveAvx2Fma() ? 192.0 : 64.0;
}

static float runKernel(long iters, float seed) {
#if defined(CNNC_PEAK_AVX512)
  if (haveAvx512())
    return fmaKernelAvx512(iters, seed);
#endif
#if defined(CNNC_PEAK_AVX2)
  if (haveAvx2Fma())
    return fmaKernelAvx2(iters, seed);
#endif
  return mulAddKernel(iters, seed);
}

std::string fmaPeakMethod() {
  if (haveAvx512())
    return "AVX-512 FMA, 16 independent 16-lane accumulators";
  return haveAvx2Fma() ? "AVX2 FMA, 12 independent 8-lane accumulators"
                       : "portable 4-lane multiply-add, 8 accumulators "
                         "(no AVX2/FMA in this build or CPU)";
}

static std::atomic<float> sink{0};

/// Seconds for \p threads threads to run \p iters iterations each, all
/// started together.
static double timeThreads(int threads, long iters) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire))
        std::this_thread::yield();
      float r = runKernel(iters, 1.0f + float(t));
      sink.store(sink.load(std::memory_order_relaxed) + r,
                 std::memory_order_relaxed);
    });
  while (ready.load() < threads)
    std::this_thread::yield();
  auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread &th : pool)
    th.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

double measureFmaPeak(int threads, double seconds) {
  threads = std::max(threads, 1);
  // Calibrate on one thread: grow the count until a run takes >= 2 ms.
  long iters = 1 << 12;
  double t = timeThreads(1, iters);
  while (t < 2e-3) {
    iters *= 4;
    t = timeThreads(1, iters);
  }
  long per = std::max(1L, long(double(iters) * (seconds / 3) / t));
  double best = 0;
  for (int k = 0; k < 3; ++k) {
    double s = timeThreads(threads, per);
    best = std::max(best, double(threads) * double(per) * flopsPerIter() /
                              s / 1e9);
  }
  return best;
}

} // namespace cnnc
