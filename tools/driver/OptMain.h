//===- tools/driver/OptMain.h - the cnnc-opt driver, as a library ----------===//
#pragma once

namespace cnnc {

/// Reads IR text, runs the -p pipeline on each graph, and prints the result.
/// Handles --split-input-file, --verify-diagnostics, --print-after-all,
/// --print-after=NAME, --print-locations, -o, --list-passes and --help.
/// Returns the process exit code.
int optMain(int argc, char **argv, const char *overview);

} // namespace cnnc
