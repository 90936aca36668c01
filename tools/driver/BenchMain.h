//===- tools/driver/BenchMain.h - the cnnc-bench driver, as a library ------===//
#pragma once

namespace cnnc {

/// Loads a compiled model and times its inference (or, with --train, its
/// train_step) on seeded random inputs: median, min and max over timed runs,
/// GFLOP/s, optionally per step and against the machine's measured FMA peak.
/// Returns the process exit code.
int benchMain(int argc, char **argv);

} // namespace cnnc
