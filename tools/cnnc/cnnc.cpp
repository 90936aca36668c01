//===- tools/cnnc/cnnc.cpp - cnnc, the ahead-of-time CNN compiler ----------===//
#include "tools/driver/CnncMain.h"

int main(int argc, char **argv) { return cnnc::cnncMain(argc, argv); }
