//===- tools/cnnc-train/cnnc-train.cpp - train a compiled model ------------===//
#include "tools/driver/TrainMain.h"

int main(int argc, char **argv) { return cnnc::trainMain(argc, argv); }
