//===- tools/driver/CnncMain.h - the cnnc compiler driver, as a library ----===//
#pragma once

namespace cnnc {

/// cnnc FILE [--summary] [--batch N] [--emit=ir] [-o OUT] [--help]: reads a
/// network (.cnn, detected by its first word `network`) or IR text (.cnnir),
/// and prints its summary or its IR. Returns the process exit code: 0, or 1
/// after an error (reported on stderr).
int cnncMain(int argc, char **argv);

} // namespace cnnc
