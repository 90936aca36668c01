//===- tools/cnnc-run/cnnc-run.cpp - run a compiled model ------------------===//
#include "tools/driver/RunMain.h"

int main(int argc, char **argv) { return cnnc::runMain(argc, argv); }
