//===- test/runtime/halide_pipe_gen.cpp - a real Halide kernel for tests --===//
//
// Usage: cnnc_rt_halide_pipe_gen OUTDIR
// Writes OUTDIR/rt_pipe.a (+ .h), a pipeline compiled as codegen compiles
// its kernels (UserContext, NoRuntime, argv entry point), and
// OUTDIR/rt_halide_runtime.a, Halide's runtime for the host. The pipeline:
//   out(x, y) = in(x, y) + w(x) + flag(0)     in: f32, w: f32, flag: u8
// parallel over y, with in's innermost extent constrained to 3, so that a
// model table with another extent makes Halide report an error.
//
//===----------------------------------------------------------------------===//
#include "Halide.h"

#include <exception>
#include <iostream>
#include <string>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUTDIR\n";
    return 2;
  }
  std::string dir = argv[1];
  try {
    using namespace Halide;
    ImageParam in(Float(32), 2, "in"), w(Float(32), 1, "w");
    ImageParam flag(UInt(8), 1, "flag");
    Var x("x"), y("y");
    Func out("out");
    out(x, y) = in(x, y) + w(x) + cast<float>(flag(0));
    out.parallel(y);
    in.dim(0).set_extent(3);
    Target host = get_host_target();
    out.compile_to_static_library(
        dir + "/rt_pipe", {in, w, flag}, "rt_pipe",
        host.with_feature(Target::UserContext).with_feature(Target::NoRuntime));
    compile_standalone_runtime(dir + "/rt_halide_runtime.a", host);
  } catch (const std::exception &e) {
    std::cerr << "halide_pipe_gen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
