//===- tools/cnnc-bench/cnnc-bench.cpp - time a compiled model -------------===//
#include "tools/driver/BenchMain.h"

int main(int argc, char **argv) { return cnnc::benchMain(argc, argv); }
