//===- codegen/HalideLowering.cpp - one node as a Halide pipeline ----------===//
//
// Implements LowerCtx over ImageParams with static shapes and gives each
// pipeline a default schedule. On a CPU: results computed at root, the
// innermost dimension vectorized, the outermost non-trivial one parallel
// (lowering rules schedule their own intermediate Funcs). On a GPU (CUDA,
// OpenCL): every stage of every Func computed at root runs as one kernel
// over GPU blocks and threads (scheduleGpu). The fusion and scheduling
// passes (issue 5) replace this per group.
//
//===----------------------------------------------------------------------===//
#include "codegen/HalideLowering.h"

#include "ir/OpDef.h"
#include "ir/Schedule.h"
#include "ir/ops/LowerCtx.h"

#include <cstdio>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <memory>
#include <set>

namespace cnnc {

/// Dense row-major strides, innermost (Halide dim 0) first.
static std::vector<int64_t> halideStrides(const TensorType &t) {
  std::vector<int64_t> s;
  int64_t stride = 1;
  for (int64_t d = t.rank() - 1; d >= 0; --d) {
    s.push_back(stride);
    stride *= t.dim(d);
  }
  return s;
}

/// Constrains a buffer to the static dense layout of \p t, so LLVM sees
/// constant extents and strides.
template <typename Param>
static void constrainDense(Param &p, const TensorType &t) {
  std::vector<int64_t> strides = halideStrides(t);
  for (int64_t d = 0; d < t.rank(); ++d) {
    int64_t extent = t.dim(t.rank() - 1 - d);
    p.dim(int(d)).set_min(0).set_extent(int(extent)).set_stride(
        int(strides[d]));
  }
}

namespace {

/// Where a lowering reads operand i: a pipeline argument, or the Func of a
/// node lowered before it in the same fused group.
struct Source {
  Halide::ImageParam param;
  Halide::Func func;
  bool isFunc = false;
  /// Stored in blocks of this many channels (ir/OpDef.h, kBlockedAttr):
  /// `param` holds the blocks, `func` the N, C, H, W view of them.
  int block = 0;
};

class HalideLowerCtx : public LowerCtx {
public:
  HalideLowerCtx(const Node &node, const std::string &prefix, bool gpu,
                 bool autoScheduled, std::vector<Source> sources,
                 bool bandsAllowed = false)
      : node_(node), gpu_(gpu), auto_(autoScheduled), bands_(bandsAllowed),
        prefix_(prefix), inputs_(std::move(sources)) {
    for (size_t i = 0; i < node.numResults(); ++i) {
      outputs_.emplace_back(prefix + "_out" + std::to_string(i));
      std::vector<Halide::Var> vars;
      for (int64_t d = 0; d < node.result(i)->type().rank(); ++d)
        vars.emplace_back("d" + std::to_string(d));
      vars_.push_back(vars);
    }
  }

  const Node &node() const override { return node_; }
  bool gpu() const override { return gpu_; }
  bool autoScheduled() const override { return auto_; }
  const std::string &name() const override { return prefix_; }

  int inBlock(size_t i) const override { return inputs_.at(i).block; }

  Halide::Expr inBlocked(size_t i, const Index &index) override {
    assert(inputs_.at(i).block > 0 && "input is not stored in blocks");
    std::vector<Halide::Expr> rev(index.rbegin(), index.rend());
    return inputs_[i].param(rev);
  }

  Halide::Expr in(size_t i, const Index &index) override {
    assert(i < inputs_.size() && "input index out of range");
    std::vector<Halide::Expr> rev(index.rbegin(), index.rend());
    if (inputs_[i].isFunc)
      return index.empty() ? inputs_[i].func() : inputs_[i].func(rev);
    return index.empty() ? inputs_[i].param() : inputs_[i].param(rev);
  }

  Halide::Expr inOr(size_t i, const Index &index,
                    Halide::Expr outside) override {
    const TensorType &t = inType(i);
    Halide::Expr inside = Halide::Internal::const_true();
    Index clamped;
    for (size_t d = 0; d < index.size(); ++d) {
      int64_t extent = t.dim(int64_t(d));
      inside = inside && index[d] >= 0 && index[d] < int(extent);
      clamped.push_back(Halide::clamp(index[d], 0, int(extent) - 1));
    }
    return Halide::select(inside, in(i, clamped),
                          Halide::cast(halideType(t.dtype()), outside));
  }

  const std::vector<Halide::Var> &outVars(size_t i) override {
    return vars_[i];
  }

  void define(size_t i, Halide::Expr value) override {
    if (vars_[i].empty()) {
      outputs_[i]() = cast(i, value);
      return;
    }
    set(outputs_[i], vars_[i], cast(i, value));
  }

  void update(size_t i, const Index &index, Halide::Expr value) override {
    if (index.empty()) {
      outputs_[i]() = cast(i, value);
      return;
    }
    std::vector<Halide::Expr> rev(index.rbegin(), index.rend());
    outputs_[i](rev) = cast(i, value);
  }

  Halide::Func &outFunc(size_t i) override { return outputs_[i]; }

  Halide::Func func(const std::string &name) override {
    return Halide::Func(name + std::to_string(counter_++));
  }

  bool computeInRowBands(const Halide::Func &f, int rows) override {
    return requestBands(f, rows, 2);
  }
  bool computeInChannelBands(const Halide::Func &f, int channels) override {
    return requestBands(f, channels, 1);
  }
  /// What computeIn*Bands asked for: the Func, the band's extent (0:
  /// nothing asked) and the output's IR dimension it splits (2 rows, 1
  /// channels).
  const Halide::Func &bandFunc() const { return bandFunc_; }
  int bandRows() const { return bandRows_; }
  int bandDim() const { return bandDim_; }

  std::vector<Halide::Func> &outputs() { return outputs_; }
  std::vector<std::vector<Halide::Var>> &vars() { return vars_; }

private:
  bool requestBands(const Halide::Func &f, int extent, int dim) {
    if (!bands_ || extent < 1)
      return false;
    bandFunc_ = f;
    bandRows_ = extent;
    bandDim_ = dim;
    return true;
  }

  const Node &node_;
  bool gpu_, auto_, bands_;
  Halide::Func bandFunc_;
  int bandRows_ = 0, bandDim_ = 2;
  std::string prefix_;
  std::vector<Source> inputs_;
  std::vector<Halide::Func> outputs_;
  std::vector<std::vector<Halide::Var>> vars_;
  int counter_ = 0;
};

} // namespace

/// The natural vector width of the target for \p t's element type.
static int naturalLanes(const TensorType &t, const Halide::Target &target) {
  return std::max(1, target.natural_vector_size(
                         LowerCtx::halideType(t.dtype())));
}

/// The vector width of the pure stage of a result of type \p t: the
/// natural width, or where the innermost dimension is narrower the widest
/// power of two it holds, from 4 (16-lane AVX-512 left 7- and 14-wide
/// rows scalar), else 0 (scalar).
static int pureLanes(const TensorType &t, const Halide::Target &target) {
  if (t.rank() == 0)
    return 0;
  int64_t extent = t.dim(t.rank() - 1);
  for (int lanes = naturalLanes(t, target); lanes >= 4; lanes /= 2)
    if (extent >= lanes)
      return lanes;
  return 0;
}

/// The vector width of the update stages, and of the pure stage of an op
/// that may overwrite an operand (OpDef::inPlace): the widest power of two
/// up to the natural width that divides the innermost dimension (at least
/// 2), or 0 (scalar). Updates get no vector tail: Halide 14 miscompiles some
/// predicated (GuardWithIf) tails, dropping the tail branch where the
/// vector loaded from a Halide-allocated Func is used twice, and the
/// ShiftInwards of the pure stage would apply an update twice.
static int updateLanes(const TensorType &t, const Halide::Target &target) {
  if (t.rank() == 0)
    return 0;
  int64_t extent = t.dim(t.rank() - 1);
  for (int lanes = naturalLanes(t, target); lanes >= 2; lanes /= 2)
    if (extent % lanes == 0)
      return lanes;
  return 0;
}

/// The default schedule of one result: vectorize the innermost dimension
/// (see pureLanes, updateLanes), parallelize the outermost dimension with
/// more than one element unless the kernel's schedule says none
/// (\p parallel, ir/Schedule.h). With \p inPlace the result may share an operand's
/// bytes: each element must then be computed once, by one thread.
static void scheduleDefault(Halide::Func &f, const std::vector<Halide::Var> &irVars,
                            const TensorType &t, const Halide::Target &target,
                            bool inPlace, bool parallel = true) {
  f.compute_root();
  if (irVars.empty())
    return;
  const Halide::Var &inner = irVars.back();
  auto parallelize = [&](Halide::Stage s) {
    if (!parallel)
      return;
    for (size_t d = 0; d + 1 < irVars.size(); ++d)
      if (t.dim(int64_t(d)) > 1) {
        s.parallel(irVars[d]);
        break;
      }
  };
  // ShiftInwards recomputes a few elements at the end instead of
  // predicating them: safe for a pure definition, unless the operand it
  // reads was overwritten by the first computation (in place); there the
  // vector width divides the extent, so nothing shifts.
  int pure = inPlace ? updateLanes(t, target) : pureLanes(t, target);
  if (pure)
    f.vectorize(inner, pure, Halide::TailStrategy::ShiftInwards);
  parallelize(f);
  int lanes = updateLanes(t, target);
  for (int u = 0; u < f.num_update_definitions(); ++u) {
    if (lanes)
      f.update(u).vectorize(inner, lanes);
    parallelize(f.update(u));
  }
}

/// The output \p f (IR \p irVars: n, c, rows..., columns; pure) computed
/// in bands of \p rows rows of its first spatial dimension, with \p inner
/// (what the anchor asked for, see LowerCtx::computeInRowBands) computed
/// per band: the bands outermost after the batch, then the channels, so a
/// band's sums are read back from L2 right after they are computed.
/// Parallel over the images of a batch, else over the bands.
static void scheduleInRowBands(Halide::Func &f,
                               const std::vector<Halide::Var> &irVars,
                               const TensorType &t, const Halide::Target &target,
                               const Halide::Func &inner, int rows,
                               bool parallel, int dim = 2) {
  f.compute_root();
  const Halide::Var &n = irVars[0], &c = irVars[1], &row = irVars[size_t(dim)];
  Halide::Var band(row.name() + "_band"), inBand(row.name() + "_in");
  f.split(row, band, inBand, int(std::min<int64_t>(rows, t.dim(dim))),
          Halide::TailStrategy::ShiftInwards);
  // Halide's order, innermost first: the columns and rows of the band
  // (the first spatial dimension's part in it), the channels, the band;
  // for bands of channels, the spatial dimensions, the channels of the
  // band, the band.
  std::vector<Halide::VarOrRVar> order;
  for (size_t d = irVars.size(); d-- > 3;)
    order.push_back(irVars[d]);
  if (dim == 2) {
    order.push_back(inBand);
    order.push_back(c);
  } else {
    order.push_back(irVars[2]);
    order.push_back(inBand);
  }
  order.push_back(band);
  order.push_back(n);
  f.reorder(order);
  if (int lanes = pureLanes(t, target))
    f.vectorize(irVars.back(), lanes, Halide::TailStrategy::ShiftInwards);
  if (parallel && t.dim(0) > 1)
    f.parallel(n);
  else if (parallel && (t.dim(dim) + rows - 1) / rows > 1)
    f.parallel(band);
  Halide::Func g = inner;
  g.compute_at(f, band);
}

/// \p f (IR \p irVars: n, c, h, w; of type \p t) stored in blocks of
/// \p block channels, [N, C/block, H, W, block] (passes/BlockLayout.cpp):
/// a Func over the blocks, computed at root; on a CPU the channels of a
/// block one vector, the blocks in groups of \p tile (a conv_nchwc's
/// register tile of vectors of filters: its sums are stored in blocks of
/// tile x block filters, so a group's read is one contiguous run per
/// position), parallel over the images, else over the groups of blocks.
/// With bands (LowerCtx::computeIn*Bands: \p bandExtent > 0), \p inner is
/// computed per band: per group of blocks (\p bandDim 1; the group is then
/// the conv's block of filters), or per \p bandExtent rows (2), the rows
/// then outermost and parallel.
static Halide::Func storeInBlocks(const Halide::Func &f,
                                  const std::vector<Halide::Var> &irVars,
                                  const TensorType &t, int block, int tile,
                                  const Halide::Target &target, bool gpu,
                                  bool parallel, const Halide::Func &inner,
                                  int bandExtent, int bandDim) {
  Halide::Func out(f.name() + "_blocks");
  Halide::Var n("bn"), cb("bcb"), h("bh"), w("bw"), l("bl");
  out(l, w, h, cb, n) = LowerCtx::call(f, {n, cb * block + l, h, w});
  out.compute_root();
  (void)irVars;
  if (gpu)
    return out;
  out.bound(l, 0, block);
  Halide::Var cbo("bcbo"), cbi("bcbi"), hb("bhb"), hi("bhi");
  const int64_t blocks = t.dim(1) / block;
  const bool rowBands = bandExtent > 0 && bandDim == 2;
  std::vector<Halide::VarOrRVar> order{l};
  if (tile > 1 && blocks > 1) {
    tile = int(std::min<int64_t>(tile, blocks));
    out.split(cb, cbo, cbi, tile, Halide::TailStrategy::GuardWithIf).unroll(cbi);
    order.push_back(cbi);
  } else {
    cbo = cb;
  }
  order.push_back(w);
  if (rowBands) {
    bandExtent = int(std::min<int64_t>(bandExtent, t.dim(2)));
    out.split(h, hb, hi, bandExtent, Halide::TailStrategy::ShiftInwards);
    order.insert(order.end(), {hi, cbo, hb, n});
  } else {
    order.insert(order.end(), {h, cbo, n});
  }
  out.reorder(order);
  if (naturalLanes(t, target) <= block && block % naturalLanes(t, target) == 0)
    out.vectorize(l, naturalLanes(t, target));
  else
    out.vectorize(l);
  if (parallel && t.dim(0) > 1)
    out.parallel(n);
  else if (parallel && rowBands && (t.dim(2) + bandExtent - 1) / bandExtent > 1)
    out.parallel(hb);
  else if (parallel && !rowBands && (blocks + tile - 1) / tile > 1)
    out.parallel(cbo);
  if (bandExtent > 0) {
    Halide::Func g = inner;
    g.compute_at(out, rowBands ? hb : cbo);
  }
  return out;
}

/// Threads per GPU block of the default GPU schedule.
static constexpr int kGpuThreads = 128;

/// Maps one stage to the GPU: its pure dimensions \p pure (innermost
/// first) fused into one, split into blocks of kGpuThreads threads (the
/// last block guarded); reduction dimensions run inside each thread. A
/// stage without pure dimensions (a scalar, a scatter over a reduction
/// domain) runs on one GPU thread, which keeps its data on the device.
static void gpuStage(Halide::Stage s, const std::vector<Halide::Var> &pure) {
  if (pure.empty()) {
    s.gpu_single_thread();
    return;
  }
  Halide::Var fused = pure[0];
  for (size_t i = 1; i < pure.size(); ++i) {
    // Short names: they make up the kernel's name, which PoCL's OpenCL
    // compiler limits.
    Halide::Var next("gf" + std::to_string(i));
    s.fuse(fused, pure[i], next);
    fused = next;
  }
  Halide::Var block("gb"), thread("gt");
  s.gpu_tile(fused, block, thread, kGpuThreads,
             Halide::TailStrategy::GuardWithIf);
}

/// The GPU schedule of a pipeline: every Func it computes at root (its
/// results, and the intermediates lowering rules put at root), each stage
/// through gpuStage. Inlined Funcs are computed inside their consumers'
/// kernels. An update's pure dimensions are those of its arguments that are
/// the pure definition's Var in the same position. Each element is computed
/// once, by one thread (the tail is guarded, never shifted inwards), so the
/// in-place ops stay safe; on the device each tensor has its own buffer
/// anyway.
static void scheduleGpu(const std::vector<Halide::Func> &outs) {
  std::map<std::string, Halide::Internal::Function> env;
  for (const Halide::Func &f : outs) {
    auto calls = Halide::Internal::find_transitive_calls(f.function());
    env.insert(calls.begin(), calls.end());
  }
  for (auto &[name, fn] : env) {
    Halide::LoopLevel level = fn.schedule().compute_level();
    level.lock(); // as lowering would; the level is only read here
    if (!level.is_root())
      continue; // inlined into its consumers
    Halide::Func f(fn);
    std::vector<Halide::Var> pure = f.args();
    gpuStage(f, pure);
    for (int u = 0; u < f.num_update_definitions(); ++u) {
      std::vector<Halide::Expr> args = f.update_args(u);
      std::vector<Halide::Var> upure;
      for (size_t d = 0; d < args.size() && d < pure.size(); ++d) {
        const auto *v = args[d].as<Halide::Internal::Variable>();
        if (v && v->name == pure[d].name())
          upure.push_back(pure[d]);
      }
      gpuStage(f.update(u), upure);
    }
  }
}

namespace {
/// A lowered node: its pipeline and the parameters to bind.
struct LoweredNode {
  Halide::Pipeline pipeline;
  std::vector<Halide::ImageParam> inputs;
};
} // namespace

/// A Func that copies \p acc (vars in IR order): an output with update
/// definitions is computed in a Halide-allocated Func and copied into the
/// caller's buffer, because Halide 14 emits aligned vector loads where a
/// vectorized update reads the output it writes, ignoring the output
/// buffer's host alignment (the element size).
static Halide::Func copyOf(const Halide::Func &acc,
                           const std::vector<Halide::Var> &vars) {
  Halide::Func out(acc.name() + "_copy");
  LowerCtx::set(out, vars, LowerCtx::call(acc, Index(vars.begin(), vars.end())));
  return out;
}

const std::vector<std::string> &autoSchedulerNames() {
  static const std::vector<std::string> names{"mullapudi2016", "adams2019",
                                              "li2018"};
  return names;
}

/// Loads the plugin of autoscheduler \p name (autoSchedulerNames()) once
/// per process; returns Halide's name for it ("Adams2019").
static Expected<std::string> loadAutoScheduler(const std::string &name) {
  static std::mutex mu;
  static std::map<std::string, std::string> loaded;
  std::lock_guard<std::mutex> lock(mu);
  auto it = loaded.find(name);
  if (it != loaded.end())
    return it->second;
  std::string halideName = name == "mullapudi2016" ? "Mullapudi2016"
                           : name == "adams2019"   ? "Adams2019"
                           : name == "li2018"      ? "Li2018"
                                                   : "";
  if (halideName.empty())
    return Status::error("unknown autoscheduler '" + name + "'");
  std::string path = std::string(CNNC_HALIDE_PLUGIN_DIR) +
                     "/libautoschedule_" + name + ".so";
  try {
    Halide::load_plugin(path);
  } catch (const Halide::Error &e) {
    return Status::error("cannot load the " + halideName +
                         " autoscheduler (" + path + "): " + e.what());
  }
  // Adams2019's default beam search took 145 s on one 56x56x64 conv here,
  // for the schedule a beam of 1 finds in 50 ms; HL_BEAM_SIZE set by the
  // user wins.
  if (name == "adams2019")
    setenv("HL_BEAM_SIZE", "1", /*overwrite=*/0);
  loaded[name] = halideName;
  return halideName;
}

/// Which context and output compute \p v in a step (lowerGroup's map),
/// or an error naming a value the step does not compute.
static Expected<std::pair<size_t, size_t>>
producerOf(const std::map<const Value *, std::pair<size_t, size_t>> &producedBy,
           const Value *v) {
  auto it = producedBy.find(v);
  if (it == producedBy.end())
    return Status::error("value '" + v->name() +
                         "' is not computed by this step");
  return it->second;
}

/// The pipeline of a lowered step scheduled by a Halide autoscheduler: the
/// rules left their CPU schedules out (LowerCtx::autoScheduled), what they
/// computed at root goes back to inlined (Mullapudi2016 refuses Funcs
/// scheduled already), every input and output gets its static extents as
/// estimates, and the autoscheduler schedules the whole pipeline for this
/// machine (its cores, 8 MB of last-level cache, balance 40).
static Expected<LoweredNode>
autoSchedule(std::vector<std::unique_ptr<HalideLowerCtx>> &ctxs,
             const std::map<const Value *, std::pair<size_t, size_t>> &producedBy,
             const std::vector<const Value *> &inputs,
             const std::vector<const Value *> &outputs,
             std::vector<Halide::ImageParam> &params, const std::string &name,
             const Halide::Target &target) {
  CNNC_ASSIGN_OR_RETURN(std::string halideName, loadAutoScheduler(name));
  std::vector<Halide::Func> outs;
  for (const Value *v : outputs) {
    CNNC_ASSIGN_OR_RETURN(auto at, producerOf(producedBy, v));
    auto [j, i] = at;
    Halide::Func out = ctxs[j]->outputs()[i];
    const std::vector<Halide::Var> &vars = ctxs[j]->vars()[i];
    if (out.has_update_definition())
      out = copyOf(out, vars); // as in the manual schedule
    outs.push_back(out);
  }
  std::map<std::string, Halide::Internal::Function> env;
  for (const Halide::Func &f : outs) {
    auto calls = Halide::Internal::find_transitive_calls(f.function());
    env.insert(calls.begin(), calls.end());
  }
  for (auto &[fname, fn] : env) {
    fn.schedule().compute_level() = Halide::LoopLevel::inlined();
    fn.schedule().store_level() = Halide::LoopLevel::inlined();
  }
  for (size_t k = 0; k < outs.size(); ++k) {
    const TensorType &t = outputs[k]->type();
    Halide::Region region;
    for (int64_t d = t.rank(); d-- > 0;)
      region.emplace_back(0, int(t.dim(d)));
    outs[k].set_estimates(region);
    Halide::OutputImageParam o = outs[k].output_buffer();
    constrainDense(o, t);
  }
  for (size_t k = 0; k < params.size(); ++k) {
    const TensorType &t = inputs[k]->type();
    Halide::Region region;
    for (int64_t d = t.rank(); d-- > 0;)
      region.emplace_back(0, int(t.dim(d)));
    params[k].set_estimates(region);
  }
  Halide::Pipeline pipeline(outs);
  int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  Halide::MachineParams machine(cores, 8 * 1024 * 1024, 40);
  // The autoschedulers report their search on stdout and stderr (errors
  // come as exceptions): keep cnnc's output clean.
  std::fflush(stdout);
  std::fflush(stderr);
  int savedOut = dup(1), savedErr = dup(2), null = open("/dev/null", O_WRONLY);
  if (savedOut >= 0 && savedErr >= 0 && null >= 0) {
    dup2(null, 1);
    dup2(null, 2);
  }
  Status st = Status::success();
  try {
    pipeline.auto_schedule(halideName, target, machine);
  } catch (const Halide::Error &e) {
    st = Status::error(halideName + " autoscheduler: " + e.what());
  }
  std::fflush(stdout);
  std::fflush(stderr);
  if (savedOut >= 0 && savedErr >= 0) {
    dup2(savedOut, 1);
    dup2(savedErr, 2);
  }
  for (int fd : {savedOut, savedErr, null})
    if (fd >= 0)
      close(fd);
  CNNC_RETURN_IF_ERROR(st);
  return LoweredNode{pipeline, params};
}

/// Lowers the nodes of one step (codegen/ModelPlan.h): a node, or a fused
/// group in graph order, into one pipeline. \p inputs are the pipeline's
/// arguments (for one node: its operands, position by position; for a
/// group: the values its nodes read from outside it), \p outputs the
/// values it writes. A value computed and read inside the group is a Func
/// of the pipeline: inlined into its readers when it is a pure definition
/// (conv's result, whose accumulator is computed at root by the conv's own
/// rule, inlined into the ReLU that stores it), computed at root with the
/// default schedule when it has updates.
static Expected<LoweredNode> lowerGroup(const std::vector<const Node *> &nodes,
                                        const std::vector<const Value *> &inputs,
                                        const std::vector<const Value *> &outputs,
                                        const std::string &prefix,
                                        const Halide::Target &target,
                                        const std::string &autoScheduler = "") {
  bool gpu = target.has_gpu_feature();
  bool autoSched = !autoScheduler.empty();
  bool single = nodes.size() == 1;
  std::vector<Halide::ImageParam> params;
  std::vector<Source> inputSources;
  std::map<const Value *, Source> sources;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const TensorType &t = inputs[k]->type();
    // Stored in blocks (passes/BlockLayout.cpp): the parameter is the
    // blocks, the lowerings read the N, C, H, W view of them (inlined).
    int block = storedBlock(*inputs[k]);
    const TensorType stored = storedType(*inputs[k]);
    Halide::ImageParam p(LowerCtx::halideType(t.dtype()), int(stored.rank()),
                         prefix + "_in" + std::to_string(k));
    constrainDense(p, stored);
    params.push_back(p);
    Source src{p, Halide::Func(), false, block};
    if (block) {
      Halide::Var n("bn"), c("bc"), h("bh"), w("bw");
      src.func = Halide::Func(prefix + "_in" + std::to_string(k) + "_view");
      src.func(w, h, c, n) = p(c % block, w, h, c / block, n);
      src.isFunc = true;
    }
    inputSources.push_back(src);
    sources.emplace(inputs[k], src);
  }
  std::vector<std::unique_ptr<HalideLowerCtx>> ctxs;
  std::map<const Value *, std::pair<size_t, size_t>> producedBy;
  for (size_t j = 0; j < nodes.size(); ++j) {
    const Node &node = *nodes[j];
    const OpDef &def = node.def();
    if (!def.lowerFn())
      return Status::error(def.name() + ": no code generation for this op yet");
    for (size_t i = 0; i < node.numResults(); ++i)
      if (!node.result(i)->type().isStatic())
        return Status::error(def.name() + ": result type " +
                             node.result(i)->type().str() +
                             " is not static (run infer-shapes)");
    std::vector<Source> srcs;
    for (size_t i = 0; i < node.numOperands(); ++i) {
      if (single) {
        srcs.push_back(inputSources.at(i));
        continue;
      }
      auto it = sources.find(node.operand(i));
      if (it == sources.end())
        return Status::error(def.name() + ": operand '" +
                             node.operand(i)->name() +
                             "' is neither an input of the fused group nor "
                             "computed before it in the group");
      srcs.push_back(it->second);
    }
    // Row bands (LowerCtx::computeInRowBands): for the anchor of a CPU
    // kernel with one output of the anchor's shape (its element-wise ops
    // read the anchor's result where they write).
    bool bands = j == 0 && !gpu && !autoSched && outputs.size() == 1 &&
                 outputs[0]->type().rank() >= 4 &&
                 outputs[0]->type().dims() == node.result(0)->type().dims();
    ctxs.push_back(std::make_unique<HalideLowerCtx>(
        node, single ? prefix : prefix + "_" + std::to_string(j), gpu,
        autoSched, std::move(srcs), bands));
    HalideLowerCtx &ctx = *ctxs.back();
    CNNC_RETURN_IF_ERROR(def.lowerFn()(ctx));
    for (size_t i = 0; i < node.numResults(); ++i) {
      if (!ctx.outputs()[i].defined())
        return Status::error(def.name() + ": lowering left result " +
                             std::to_string(i) + " undefined");
      sources[node.result(i)] = Source{Halide::ImageParam(), ctx.outputs()[i], true};
      producedBy[node.result(i)] = {j, i};
    }
  }
  // The kernel's schedule (ir/Schedule.h), on its anchor: may its loops
  // run in parallel?
  bool parallel = true;
  if (!gpu && !autoSched) {
    CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(*nodes.front()));
    parallel = sched.parallel != "none";
  }
  if (autoSched) {
    CNNC_ASSIGN_OR_RETURN(LoweredNode l,
                          autoSchedule(ctxs, producedBy, inputs, outputs,
                                       params, autoScheduler, target));
    return l;
  }
  std::set<const Value *> isOutput(outputs.begin(), outputs.end());
  // Values that stay inside: inlined, or computed at root if they update.
  for (auto &[v, at] : producedBy) {
    if (isOutput.count(v))
      continue;
    Halide::Func f = ctxs[at.first]->outputs()[at.second];
    if (!f.has_update_definition())
      continue;
    if (gpu)
      f.compute_root();
    else
      scheduleDefault(f, ctxs[at.first]->vars()[at.second], v->type(), target,
                      /*inPlace=*/false, parallel);
  }
  std::vector<Halide::Func> outs;
  for (const Value *v : outputs) {
    CNNC_ASSIGN_OR_RETURN(auto at, producerOf(producedBy, v));
    auto [j, i] = at;
    const Node &node = *nodes[j];
    // A fused step never writes over an operand (ModelPlan.cpp).
    bool inPlace = single && !node.def().inPlaceOperands().empty();
    Halide::Func out = ctxs[j]->outputs()[i];
    const TensorType &t = v->type();
    const std::vector<Halide::Var> &vars = ctxs[j]->vars()[i];
    if (int block = storedBlock(*v)) {
      // Stored in blocks (passes/BlockLayout.cpp).
      if (out.has_update_definition()) {
        if (gpu)
          out.compute_root();
        else
          scheduleDefault(out, vars, t, target, /*inPlace=*/false, parallel);
      }
      int tile = 1;
      if (!gpu && (nodes.front()->op() == "conv_nchwc" ||
                   nodes.front()->op() == "conv_winograd")) {
        CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(*nodes.front()));
        if (sched.vector == block)
          tile = std::max(1, sched.tileFilters);
      }
      out = storeInBlocks(out, vars, t, block, tile, target, gpu, parallel,
                          ctxs.front()->bandFunc(), ctxs.front()->bandRows(),
                          ctxs.front()->bandDim());
      Halide::OutputImageParam o = out.output_buffer();
      constrainDense(o, storedType(*v));
      outs.push_back(out);
      continue;
    }
    if (gpu) {
      out.compute_root();
    } else if (out.has_update_definition() && updateLanes(t, target)) {
      // The reduction runs in a Halide-allocated Func, copied out (copyOf).
      scheduleDefault(out, vars, t, target, inPlace, parallel);
      out = copyOf(out, vars);
      scheduleDefault(out, vars, t, target, inPlace, parallel);
    } else if (ctxs.front()->bandRows() > 0) {
      scheduleInRowBands(out, vars, t, target, ctxs.front()->bandFunc(),
                         ctxs.front()->bandRows(), parallel,
                         ctxs.front()->bandDim());
    } else {
      scheduleDefault(out, vars, t, target, inPlace, parallel);
    }
    Halide::OutputImageParam o = out.output_buffer();
    constrainDense(o, t);
    outs.push_back(out);
  }
  if (gpu)
    scheduleGpu(outs);
  return LoweredNode{Halide::Pipeline(outs), params};
}

static Expected<LoweredNode> lowerNode(const Node &node,
                                       const std::string &prefix,
                                       const Halide::Target &target) {
  std::vector<const Value *> results;
  for (size_t i = 0; i < node.numResults(); ++i)
    results.push_back(node.result(i));
  std::vector<const Value *> operands(node.operands().begin(),
                                     node.operands().end());
  return lowerGroup({&node}, operands, results, prefix, target);
}

Expected<Halide::Module> lowerNodeToModule(const Node &node,
                                           const std::string &fnName,
                                           const Halide::Target &target) {
  std::vector<const Value *> operands(node.operands().begin(),
                                     node.operands().end());
  std::vector<const Value *> results;
  for (size_t i = 0; i < node.numResults(); ++i)
    results.push_back(node.result(i));
  return lowerStepToModule({&node}, operands, results, fnName, target);
}

Expected<Halide::Module> lowerStepToModule(
    const std::vector<const Node *> &nodes,
    const std::vector<const Value *> &inputs,
    const std::vector<const Value *> &outputs, const std::string &fnName,
    const Halide::Target &target, const std::string &autoScheduler) {
  const Node &anchor = *nodes.front();
  try {
    CNNC_ASSIGN_OR_RETURN(LoweredNode l,
                          lowerGroup(nodes, inputs, outputs, fnName, target,
                                     autoScheduler));
    std::vector<Halide::Argument> args(l.inputs.begin(), l.inputs.end());
    return l.pipeline.compile_to_module(args, fnName, target);
  } catch (const Halide::Error &e) {
    return Status::error(anchor.op() + ": Halide: " + e.what());
  }
}

/// A Halide buffer over a host tensor's data (dims reversed).
static Halide::Buffer<> wrap(Tensor &t) {
  std::vector<int> sizes;
  for (int64_t d = t.type().rank() - 1; d >= 0; --d)
    sizes.push_back(int(t.dims()[size_t(d)]));
  return Halide::Buffer<>(LowerCtx::halideType(t.dtype()), t.rawData(), sizes);
}

struct JitNode::Impl {
  LoweredNode lowered;
  Halide::Target target;
  std::string op;
  std::vector<TensorType> operandTypes, resultTypes;
};

JitNode::JitNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JitNode::~JitNode() = default;

Expected<std::unique_ptr<JitNode>> JitNode::compile(const Node &node) {
  try {
    Halide::Target target = Halide::get_jit_target_from_environment();
    CNNC_ASSIGN_OR_RETURN(LoweredNode l, lowerNode(node, "jit", target));
    l.pipeline.compile_jit(target);
    auto impl = std::make_unique<Impl>(Impl{std::move(l), target, node.op(), {}, {}});
    for (Value *v : node.operands())
      impl->operandTypes.push_back(v->type());
    for (size_t i = 0; i < node.numResults(); ++i)
      impl->resultTypes.push_back(node.result(i)->type());
    return std::unique_ptr<JitNode>(new JitNode(std::move(impl)));
  } catch (const Halide::Error &e) {
    return Status::error(node.op() + ": Halide: " + e.what());
  }
}

Expected<std::vector<Tensor>> JitNode::run(const std::vector<Tensor> &inputs) {
  Impl &m = *impl_;
  if (inputs.size() != m.operandTypes.size())
    return Status::error(m.op + ": expected " +
                         std::to_string(m.operandTypes.size()) +
                         " inputs, got " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].type() != m.operandTypes[i] || inputs[i].empty())
      return Status::error(m.op + ": input " + std::to_string(i) + " is " +
                           inputs[i].type().str() + ", expected " +
                           m.operandTypes[i].str());
  try {
    std::vector<Tensor> in = inputs; // wrap() needs mutable data pointers
    for (size_t i = 0; i < in.size(); ++i)
      m.lowered.inputs[i].set(wrap(in[i]));
    std::vector<Tensor> outs;
    std::vector<Halide::Buffer<>> bufs;
    for (const TensorType &t : m.resultTypes)
      outs.emplace_back(t);
    for (Tensor &t : outs)
      bufs.push_back(wrap(t));
    m.lowered.pipeline.realize(Halide::Realization(bufs), m.target);
    for (Halide::ImageParam &p : m.lowered.inputs)
      p.reset(); // hold no pointer into the caller's tensors
    return outs;
  } catch (const Halide::Error &e) {
    return Status::error(m.op + ": Halide: " + e.what());
  }
}

Expected<std::vector<Tensor>> evaluateNodeJit(
    const Node &node, const std::vector<Tensor> &inputs) {
  if (inputs.size() != node.numOperands())
    return Status::error("evaluateNodeJit: wrong number of inputs");
  CNNC_ASSIGN_OR_RETURN(std::unique_ptr<JitNode> jit, JitNode::compile(node));
  return jit->run(inputs);
}

} // namespace cnnc
