//===- codegen/Compiler.cpp - graph to model.so / model.a + model.h --------===//
//
//   prepare: infer-shapes, constant-fold, (inference only: fold-batch-norm),
//            dce, fuse, (CPU: schedule); outputs get their own nodes
//   plan:    tensors, storage, arena offsets, weights blob (ModelPlan)
//   kernels: one Halide pipeline per step (a node or a fused group), all in
//            one object
//   runtime: Halide's runtime for the target, one object
//   glue:    LLVM module with the tables and entry points + the C runtime
//   link:    ld.lld into NAME.so (or an archive NAME.a), then NAME.h
//
//===----------------------------------------------------------------------===//
#include "codegen/Compiler.h"

#include "codegen/EmbeddedRuntime.h"
#include "codegen/Glue.h"
#include "codegen/HalideLowering.h"
#include "codegen/Link.h"
#include "codegen/ModelPlan.h"
#include "ir/OpDef.h"
#include "ir/Schedule.h"
#include "ir/TextIR.h"
#include "ir/Verifier.h"
#include "passes/PassManager.h"

#include <Halide.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace cnnc {

bool isCIdentifier(const std::string &s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '_')
      return false;
  return true;
}

const std::vector<int> &cudaCapabilities() {
  static const std::vector<int> caps{30, 32, 35, 50, 61, 70, 75, 80, 86};
  return caps;
}

static Halide::Target::Feature cudaCapabilityFeature(int cap) {
  switch (cap) {
  case 30: return Halide::Target::CUDACapability30;
  case 32: return Halide::Target::CUDACapability32;
  case 35: return Halide::Target::CUDACapability35;
  case 50: return Halide::Target::CUDACapability50;
  case 61: return Halide::Target::CUDACapability61;
  case 70: return Halide::Target::CUDACapability70;
  case 75: return Halide::Target::CUDACapability75;
  case 80: return Halide::Target::CUDACapability80;
  default: return Halide::Target::CUDACapability86;
  }
}

std::string deviceApi(const Halide::Target &t) {
  if (t.has_feature(Halide::Target::CUDA))
    return "cuda";
  if (t.has_feature(Halide::Target::OpenCL))
    return "opencl";
  return "";
}

Expected<Halide::Target> resolveTarget(const CompileOptions &opts,
                                       bool needsDoubles) {
  if (opts.target != "host" &&
      !Halide::Target::validate_target_string(opts.target))
    return Status::error("unknown target '" + opts.target + "'");
  Halide::Target target;
  try {
    target = opts.target == "host" ? Halide::get_host_target()
                                   : Halide::Target(opts.target);
  } catch (const Halide::Error &e) {
    return Status::error("unknown target '" + opts.target + "'");
  }
  bool cuda = target.has_feature(Halide::Target::CUDA);
  bool opencl = target.has_feature(Halide::Target::OpenCL);
  if (cuda && opencl)
    return Status::error("target '" + opts.target +
                         "': choose one GPU API, cuda or opencl");
  if (target.has_gpu_feature() && !cuda && !opencl)
    return Status::error("target '" + opts.target +
                         "': the GPU APIs supported are cuda and opencl");
  if (opts.cudaCapability) {
    const auto &caps = cudaCapabilities();
    if (std::find(caps.begin(), caps.end(), opts.cudaCapability) == caps.end()) {
      std::string list;
      for (int c : caps)
        list += (list.empty() ? "" : ", ") + std::to_string(c);
      return Status::error("--cuda-capability=" +
                           std::to_string(opts.cudaCapability) +
                           ": not one of " + list);
    }
    if (!cuda)
      return Status::error("--cuda-capability needs a CUDA target (e.g. "
                           "--target=host-cuda), not '" +
                           opts.target + "'");
  }
  if (cuda) {
    bool named = false;
    for (int c : cudaCapabilities())
      named |= target.has_feature(cudaCapabilityFeature(c));
    if (opts.cudaCapability) {
      for (int c : cudaCapabilities())
        target = target.without_feature(cudaCapabilityFeature(c));
      target = target.with_feature(cudaCapabilityFeature(opts.cudaCapability));
    } else if (!named) {
      target = target.with_feature(cudaCapabilityFeature(kDefaultCudaCapability));
    }
  }
  if (opencl && needsDoubles)
    target = target.with_feature(Halide::Target::CLDoubles);
  return target;
}

/// True if any tensor of \p fns is f64.
static bool usesDoubles(const std::vector<Graph *> &fns) {
  for (const Graph *g : fns) {
    for (const Value *v : g->inputs())
      if (v->type().dtype() == DType::F64)
        return true;
    for (const Node *n : g->nodes())
      for (size_t i = 0; i < n->numResults(); ++i)
        if (n->result(i)->type().dtype() == DType::F64)
          return true;
  }
  return false;
}

/// The LLVM triple and runtime bitcode family of a Halide target.
static Status targetTriple(const Halide::Target &t, std::string &triple,
                           std::string &family) {
  if (t.os != Halide::Target::Linux)
    return Status::error("target '" + t.to_string() +
                         "': only Linux targets are supported");
  if (t.arch == Halide::Target::X86 && t.bits == 64) {
    triple = "x86_64-unknown-linux-gnu";
    family = "x86_64";
    return Status::success();
  }
  if (t.arch == Halide::Target::ARM && t.bits == 64) {
    triple = "aarch64-unknown-linux-gnu";
    family = "aarch64";
    return Status::success();
  }
  return Status::error("target '" + t.to_string() +
                       "': only x86-64 and arm-64 are supported");
}

/// A private temporary directory, removed when it goes out of scope.
namespace {
struct TempDir {
  fs::path path;
  bool keep = false;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cnnc-XXXXXX").string();
    if (mkdtemp(tmpl.data()))
      path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty() && !keep)
      fs::remove_all(path, ec);
  }
};
} // namespace

/// Writes Halide's runtime for \p target to \p path. Compiling it takes
/// about a second, so a process that compiles many models (the conformance
/// runner) compiles it once per target and copies it.
static Status halideRuntimeObject(const Halide::Target &target,
                                  const std::string &path) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache; // target -> object bytes
  std::lock_guard<std::mutex> lock(mu);
  std::string key = target.to_string();
  auto it = cache.find(key);
  if (it == cache.end()) {
    Halide::compile_standalone_runtime(path, target);
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    if (bytes.empty())
      return Status::error("cannot compile Halide's runtime for " + key);
    cache[key] = std::move(bytes);
    return Status::success();
  }
  std::ofstream out(path, std::ios::binary);
  out << it->second;
  if (!out)
    return Status::error("cannot write '" + path + "'");
  return Status::success();
}

/// A cache size of this machine from sysconf (\p name: _SC_LEVEL1_DCACHE_SIZE,
/// ...), or 0 where the C library does not say.
static int64_t hostCacheBytes(int name) {
  long v = sysconf(name);
  return v > 0 ? int64_t(v) : 0;
}

std::string machineOptions(const Halide::Target &t,
                           const std::string &convLayout) {
  int bits = t.natural_vector_size(Halide::Float(32)) * 32;
  // Cache sizes: this machine's for code that runs here (the host's
  // architecture), the schedule pass's defaults for a cross target.
  std::string caches;
  Halide::Target host = Halide::get_host_target();
  if (t.arch == host.arch && t.bits == host.bits && t.os == host.os) {
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
    int64_t l1 = hostCacheBytes(_SC_LEVEL1_DCACHE_SIZE),
            l2 = hostCacheBytes(_SC_LEVEL2_CACHE_SIZE);
    if (l1 >= 4096 && l2 >= l1 && l2 <= (int64_t(1) << 30))
      caches = ",l1-bytes=" + std::to_string(l1) +
               ",l2-bytes=" + std::to_string(l2);
#endif
  }
  int registers = t.arch == Halide::Target::X86 &&
                          !t.has_feature(Halide::Target::AVX512)
                      ? 16
                      : 32;
  int cores = std::max(1u, std::thread::hardware_concurrency());
  return "vector-bits=" + std::to_string(bits) +
         ",registers=" + std::to_string(registers) +
         ",cores=" + std::to_string(cores) + caches +
         (convLayout == "auto" ? "" : ",conv-layout=" + convLayout);
}

std::string preparePipeline(bool inferenceOnly, bool fuse,
                            const std::string &machine) {
  std::string p = "infer-shapes,constant-fold";
  if (inferenceOnly)
    p += ",fold-batch-norm";
  p += ",dce";
  if (fuse)
    p += ",fuse";
  if (!machine.empty()) {
    // Block layouts are for inference only (passes/BlockLayout.cpp).
    p += ",schedule{" + machine +
         (inferenceOnly ? "" : ",blocked-activations=0") + "},pack-weights";
    if (inferenceOnly)
      p += ",block-layout";
  }
  return p;
}

/// The passes every function goes through before planning
/// (preparePipeline): a model that only infers (no training functions
/// sharing its parameters) also gets its batch norms folded into the convs
/// before them; with \p fuse, nodes are grouped into kernels; for a CPU
/// (\p machine, machineOptions) every kernel gets its schedule.
static Status prepareGraph(Graph &g, bool inferenceOnly, bool fuse,
                           const std::string &machine) {
  SourceMgr sm;
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  auto steps = parsePipeline(preparePipeline(inferenceOnly, fuse, machine));
  if (!steps.ok())
    return steps.status();
  PassManager pm(*steps);
  if (!pm.run(g, diag)) {
    // The diagnostics without their "error: " (the caller adds its own)
    // and the last newline.
    std::string msg = os.str();
    if (msg.rfind("error: ", 0) == 0)
      msg.erase(0, 7);
    while (!msg.empty() && msg.back() == '\n')
      msg.pop_back();
    return Status::error(msg);
  }
  prepareForCodegen(g);
  return Status::success();
}

Expected<PlannedModel> planGraphs(const std::vector<const Graph *> &fns,
                                  const std::string &name, uint64_t seed,
                                  bool fuse, const std::string &convLayout) {
  PlannedModel m;
  std::vector<const Graph *> planned;
  for (const Graph *f : fns) {
    // A copy through the text form, which prints and parses back exactly.
    SourceMgr sm;
    std::ostringstream err;
    DiagEngine diag(sm, &err);
    std::unique_ptr<Graph> g = parseGraphString(printGraph(*f), sm, diag);
    if (!g)
      return Status::error("cannot copy graph @" + f->name() + ": " +
                           err.str());
    CNNC_RETURN_IF_ERROR(prepareGraph(*g, fns.size() == 1, fuse,
                                      machineOptions(Halide::get_host_target(),
                                                     convLayout)));
    planned.push_back(g.get());
    m.graphs.push_back(std::move(g));
  }
  CNNC_ASSIGN_OR_RETURN(m.plan, planModel(planned, name, seed));
  return m;
}

/// What makes two steps compile to the same kernel: for each node, the op,
/// the attributes (the fusion group's number aside) and the operand and
/// result types (as stored: passes/BlockLayout.cpp), and how the group's
/// nodes read each other and the step's arguments (names do not matter).
static std::string kernelSignature(const PlanStep &step) {
  std::map<const Value *, std::string> ref;
  for (size_t a = 0; a < size_t(step.numOperands); ++a)
    ref.emplace(step.argValues[a], "a" + std::to_string(a));
  std::string s;
  for (size_t j = 0; j < step.nodes.size(); ++j) {
    const Node &n = *step.nodes[j];
    s += n.op() + "{";
    for (const auto &[k, v] : n.attrs())
      if (k != kFusionGroupAttr)
        s += k + "=" + v.str() + ",";
    s += "}(";
    for (size_t i = 0; i < n.numOperands(); ++i) {
      const Value *v = n.operand(i);
      auto it = ref.find(v);
      // As stored: an operand in blocks of channels is read otherwise.
      s += (step.fused() && it != ref.end() ? it->second + ":" : "") +
           storedType(*v).str() + ",";
    }
    s += ")->(";
    for (size_t i = 0; i < n.numResults(); ++i) {
      s += n.result(i)->type().str() + ",";
      ref.emplace(n.result(i), "n" + std::to_string(j) + "." + std::to_string(i));
    }
    s += ");";
  }
  if (step.fused()) {
    s += "out(";
    for (size_t a = size_t(step.numOperands); a < step.argValues.size(); ++a)
      s += ref.at(step.argValues[a]) + ",";
    s += ")";
  }
  return s;
}

Status compileModel(Graph &g, const CompileOptions &opts) {
  return compileModel(std::vector<Graph *>{&g}, opts);
}

Status compileModel(const std::vector<Graph *> &fns,
                    const CompileOptions &opts) {
  if (fns.empty())
    return Status::error("nothing to compile");
  Graph &g = *fns[0];
  if (!isCIdentifier(opts.name))
    return Status::error("--name '" + opts.name +
                         "' is not a C identifier (letters, digits, '_')");
  bool isStatic = fs::path(opts.output).extension() == ".a";
  if (!isStatic && fs::path(opts.output).extension() != ".so")
    return Status::error("output '" + opts.output +
                         "' must end in .so (shared) or .a (static)");
  CNNC_ASSIGN_OR_RETURN(Halide::Target target,
                        resolveTarget(opts, usesDoubles(fns)));
  bool autoSched = opts.schedule != "manual";
  if (opts.convLayout != "auto" &&
      (autoSched || target.has_gpu_feature()))
    return Status::error("--conv-layout=" + opts.convLayout +
                         ": conv layouts are the schedule pass's, for CPU "
                         "targets with --schedule=manual");
  if (autoSched) {
    const auto &names = autoSchedulerNames();
    if (std::find(names.begin(), names.end(), opts.schedule) == names.end()) {
      std::string list = "manual";
      for (const std::string &n : names)
        list += ", " + n;
      return Status::error("--schedule=" + opts.schedule + ": not one of " +
                           list);
    }
    if (target.has_gpu_feature())
      return Status::error("--schedule=" + opts.schedule +
                           ": Halide's autoschedulers make CPU schedules; "
                           "GPU targets use cnnc's own (--schedule=manual)");
    if (opts.schedule == "adams2019")
      std::fprintf(stderr,
                   "cnnc: warning: --schedule=adams2019: Halide 14's "
                   "Adams2019 schedules compute wrong values for some "
                   "stride-2 convolutions (test/models/schedules.cnn); "
                   "check the outputs\n");
  }
  std::string triple, family;
  CNNC_RETURN_IF_ERROR(targetTriple(target, triple, family));
  const std::string *bitcode = runtimeBitcode(family);
  if (!bitcode)
    return Status::error("this cnnc was built without the " + family +
                         " runtime (install the cross headers and rebuild)");

  std::vector<const Graph *> planned;
  for (Graph *f : fns) {
    Status st = prepareGraph(*f, fns.size() == 1 && opts.optimizer.empty(),
                             opts.fuse,
                             target.has_gpu_feature() || autoSched
                                 ? ""
                                 : machineOptions(target, opts.convLayout));
    if (!st.ok())
      return fns.size() > 1 ? Status::error("function @" + f->name() + ": " +
                                            st.message())
                            : st;
    planned.push_back(f);
  }
  // A GPU model's tensors have device allocations of their own: concat
  // operands can not be parts of the result there.
  CNNC_ASSIGN_OR_RETURN(ModelPlan plan,
                        planModel(planned, opts.name, opts.seed,
                                  !target.has_gpu_feature()));

  TempDir tmp;
  tmp.keep = opts.keepTemps;
  if (tmp.path.empty())
    return Status::error("cannot create a temporary directory");

  // Kernels: one pipeline per distinct step (steps with the same op,
  // attributes and types share one), compiled into one object.
  Halide::Target kernelTarget = target.with_feature(Halide::Target::NoRuntime)
                                    .with_feature(Halide::Target::UserContext);
  std::vector<Halide::Module> modules;
  std::map<std::string, std::string> kernels; // signature -> kernel name
  for (PlanStep &s : plan.steps) {
    if (s.kernel.empty())
      continue; // a copy, done by the runtime
    std::string sig = kernelSignature(s);
    auto it = kernels.find(sig);
    if (it != kernels.end()) {
      s.kernel = it->second;
      continue;
    }
    std::vector<const Value *> ins(s.argValues.begin(),
                                   s.argValues.begin() + s.numOperands);
    std::vector<const Value *> outs(s.argValues.begin() + s.numOperands,
                                    s.argValues.end());
    auto m = lowerStepToModule(s.nodes, ins, outs, s.kernel, kernelTarget,
                               autoSched ? opts.schedule : "");
    if (!m.ok())
      return Status::error("node '" + s.name + "': " + m.status().message());
    modules.push_back(std::move(*m));
    kernels[sig] = s.kernel;
  }
  std::vector<std::string> objects;
  std::string glueObj = (tmp.path / "glue.o").string();
  objects.push_back(glueObj);
  try {
    if (target.has_gpu_feature()) {
      // One object per kernel: linked into one module, GPU pipelines would
      // share one device-code cache entry, and all but one would miss
      // their kernels at run time.
      for (size_t k = 0; k < modules.size(); ++k) {
        std::string obj =
            (tmp.path / ("kernel" + std::to_string(k) + ".o")).string();
        modules[k].compile({{Halide::OutputFileType::object, obj}});
        objects.push_back(obj);
      }
    } else if (!modules.empty()) {
      std::string kernelsObj = (tmp.path / "kernels.o").string();
      Halide::link_modules(opts.name + "_kernels", modules)
          .compile({{Halide::OutputFileType::object, kernelsObj}});
      objects.push_back(kernelsObj);
    }
    std::string rtObj = (tmp.path / "halide_runtime.o").string();
    CNNC_RETURN_IF_ERROR(halideRuntimeObject(target, rtObj));
    objects.push_back(rtObj);
  } catch (const Halide::Error &e) {
    return Status::error(std::string("Halide: ") + e.what());
  }

  GlueOptions glue;
  glue.name = opts.name;
  glue.triple = triple;
  glue.halideTarget = target.to_string();
  glue.embedWeights = !opts.externalWeights;
  glue.weightsFile = opts.name + ".weights";
  glue.exportGenericApi = !isStatic;
  glue.runtimeBitcode = *bitcode;
  glue.optimizer = opts.optimizer;
  glue.device = deviceApi(target);
  CNNC_RETURN_IF_ERROR(emitGlueObject(plan, glue, glueObj));

  // Link into a temporary file, then move everything into place.
  std::string libTmp = (tmp.path / ("out" + fs::path(opts.output).extension().string())).string();
  if (isStatic)
    CNNC_RETURN_IF_ERROR(writeArchive(objects, libTmp));
  else
    CNNC_RETURN_IF_ERROR(linkShared(objects, exportedSymbols(plan, glue),
                                    family, libTmp, opts.output));
  std::string header = opts.header.empty()
                           ? fs::path(opts.output).replace_extension(".h").string()
                           : opts.header;
  std::string headerTmp = (tmp.path / "out.h").string();
  {
    std::ofstream h(headerTmp);
    h << modelHeader(g, opts);
    if (!h)
      return Status::error("cannot write '" + headerTmp + "'");
  }
  if (opts.externalWeights) {
    std::string weights =
        (fs::path(opts.output).parent_path() / glue.weightsFile).string();
    CNNC_RETURN_IF_ERROR(writeWeightsFile(plan, weights));
  }
  CNNC_RETURN_IF_ERROR(installFile(libTmp, opts.output));
  return installFile(headerTmp, header);
}

} // namespace cnnc
