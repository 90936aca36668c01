//===- codegen/Compiler.h - graph to model.so / model.a + model.h ----------===//
#pragma once

#include "codegen/ModelPlan.h"
#include "ir/Diag.h"
#include "ir/Graph.h"
#include "ir/Support.h"

#include <Halide.h>

#include <memory>
#include <string>
#include <vector>

namespace cnnc {

struct CompileOptions {
  /// Output library: ".so" gives a shared library, ".a" a static one.
  std::string output;
  /// The header; default: the output with its extension replaced by ".h".
  std::string header;
  /// Prefix of every exported symbol (a C identifier).
  std::string name = "model";
  /// A Halide target string: host, x86-64-linux-avx2, arm-64-linux, ...
  /// With -cuda or -opencl the kernels run on a GPU (see resolveTarget).
  std::string target = "host";
  /// --cuda-capability: the CUDA compute capability of the PTX (70 = sm_70);
  /// 0 = the target string's, else kDefaultCudaCapability.
  int cudaCapability = 0;
  /// Keep the weights in NAME.weights next to the library.
  bool externalWeights = false;
  /// Seed of random parameter initialisers.
  uint64_t seed = 0;
  /// --train: the optimizer the training functions use ("" otherwise).
  std::string optimizer;
  /// Keep intermediate objects (for debugging) next to the output.
  bool keepTemps = false;
  /// --fuse: run the fuse pass, so that each fused group compiles into one
  /// kernel (passes/Fuse.cpp); off: one kernel per node.
  bool fuse = true;
  /// --schedule: "manual" (the schedule pass and the ops' own schedules)
  /// or a Halide autoscheduler (autoSchedulerNames(): mullapudi2016,
  /// adams2019, li2018) for every kernel; CPU targets only.
  std::string schedule = "manual";
  /// --conv-layout: the schedule pass's conv-layout option ("auto": its
  /// cost model chooses per conv; "nchw" or "nchwc" for every conv that
  /// can take it).
  std::string convLayout = "auto";
};

/// Compiles \p g (verified, shapes inferable) into a library and header.
/// Writes nothing at the output paths unless everything succeeded.
Status compileModel(Graph &g, const CompileOptions &opts);
/// Compiles several functions sharing parameters by name into one library
/// (passes/Training.h); the first is the inference function.
Status compileModel(const std::vector<Graph *> &fns,
                    const CompileOptions &opts);

/// The CUDA capability of CUDA targets that name none: sm_70 (Volta);
/// newer GPUs run its PTX (the driver compiles it for them at load).
constexpr int kDefaultCudaCapability = 70;
/// The CUDA capabilities Halide 14 can target.
const std::vector<int> &cudaCapabilities();

/// The Halide target \p opts asks for: the target string ("host" = this
/// machine), with a CUDA capability for CUDA targets (opts.cudaCapability,
/// else the string's, else kDefaultCudaCapability) and OpenCL doubles when
/// \p needsDoubles. Errors name the bad flag or target.
Expected<Halide::Target> resolveTarget(const CompileOptions &opts,
                                       bool needsDoubles = false);
/// The GPU API of \p t: "cuda", "opencl", or "" for the CPU.
std::string deviceApi(const Halide::Target &t);
/// The plan compileModel makes for \p fns, without compiling (--summary,
/// tests): the graphs are copied and prepared as compileModel prepares
/// them for the host (with \p convLayout as --conv-layout), and \p fns
/// stay as they are. The plan's steps point into the
/// copies, so it lives with them.
struct PlannedModel {
  std::vector<std::unique_ptr<Graph>> graphs;
  ModelPlan plan;
};
Expected<PlannedModel> planGraphs(const std::vector<const Graph *> &fns,
                                  const std::string &name = "model",
                                  uint64_t seed = 0, bool fuse = true,
                                  const std::string &convLayout = "auto");
/// The pass pipeline compileModel runs on each function before planning;
/// \p machine: the schedule pass's options ("" for a GPU or an
/// autoscheduler: no schedule and no pack-weights pass).
std::string preparePipeline(bool inferenceOnly, bool fuse,
                            const std::string &machine);
/// The schedule pass's machine options for \p t: its f32 vector width in
/// bits, its vector registers (x86 without AVX-512: 16, else 32), the
/// cores of this machine, its L1 and L2 data cache per core when \p t runs
/// here (sysconf; a cross target gets the pass's defaults); and
/// \p convLayout unless it is "auto".
std::string machineOptions(const Halide::Target &t,
                           const std::string &convLayout = "auto");

/// True if \p s is a valid C identifier (for --name).
bool isCIdentifier(const std::string &s);

/// The model.h text for \p g compiled with \p opts.
std::string modelHeader(const Graph &g, const CompileOptions &opts);

} // namespace cnnc
