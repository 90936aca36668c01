//===- tools/cnnc-opt/cnnc-opt.cpp - cnnc graph optimizer driver -----------===//
#include "tools/driver/OptMain.h"

int main(int argc, char **argv) {
  return cnnc::optMain(argc, argv, "cnnc graph optimizer driver\n");
}
