//===- tools/driver/RunMain.h - the cnnc-run driver, as a library ----------===//
#pragma once

namespace cnnc {

/// Loads a compiled model, runs it on inputs from files and writes or
/// prints its outputs. Returns the process exit code.
int runMain(int argc, char **argv);

} // namespace cnnc
