//===- tools/driver/TrainMain.h - cnnc-train, as a library -----------------===//
#pragma once

namespace cnnc {

/// cnnc-train: trains a model compiled with `cnnc --train` on a data set
/// (IDX: MNIST, Fashion-MNIST; CIFAR-10 binary batches). Returns the exit
/// status.
int trainMain(int argc, char **argv);

} // namespace cnnc
