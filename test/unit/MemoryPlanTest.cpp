//===- test/unit/MemoryPlanTest.cpp - arena offsets, lifetimes, in place ---===//
#include "codegen/Compiler.h"
#include "codegen/GraphEval.h"
#include "codegen/ModelPlan.h"
#include "frontend/dsl/NetworkParser.h"
#include "ir/FileIO.h"
#include "ir/OpDef.h"
#include "ir/TextIR.h"
#include "ir/Verifier.h"
#include "passes/Training.h"
#include "tools/driver/ModelLoader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

using namespace cnnc;
namespace fs = std::filesystem;

namespace {

/// A network of examples/ at batch \p batch.
std::unique_ptr<Graph> example(const std::string &file, int64_t batch = 1) {
  static SourceMgr sm; // graphs keep no pointer into it
  auto text = readFile(std::string(CNNC_SOURCE_DIR) + "/examples/" + file);
  EXPECT_TRUE(text.ok()) << file;
  if (!text.ok())
    return nullptr;
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  NetworkOptions opts;
  opts.batch = batch;
  auto g = parseNetworkString(*text, sm, diag, opts, file);
  EXPECT_TRUE(g) << os.str();
  return g;
}

/// A graph in the IR text form, verified.
std::unique_ptr<Graph> ir(const std::string &text) {
  static SourceMgr sm;
  std::ostringstream os;
  DiagEngine diag(sm, &os);
  auto g = parseGraphString(text, sm, diag);
  EXPECT_TRUE(g && verifyGraph(*g, diag)) << os.str();
  return g;
}

/// The plan compileModel would make for \p fns with --fuse=off (one step
/// per node: the planner's lifetimes and in-place rules on their own), or
/// with \p fuse.
PlannedModel plan(const std::vector<const Graph *> &fns, bool fuse = false) {
  auto p = planGraphs(fns, "model", 0, fuse);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? std::move(*p) : PlannedModel{};
}

const PlanTensor &tensor(const ModelPlan &p, const std::string &name) {
  for (const PlanTensor &t : p.tensors)
    if (t.name == name)
      return t;
  ADD_FAILURE() << "no tensor '" << name << "'";
  return p.tensors.front();
}

/// The index of tensor \p name.
int32_t indexOf(const ModelPlan &p, const std::string &name) {
  for (size_t i = 0; i < p.tensors.size(); ++i)
    if (p.tensors[i].name == name)
      return int32_t(i);
  ADD_FAILURE() << "no tensor '" << name << "'";
  return -1;
}

/// The checks every plan must pass, written out again here, apart from
/// the planner: alignment, arena bounds, and no two temporaries of a
/// function live at one step in the same bytes unless the later one was
/// written in place over the earlier at the step where it dies, by an op
/// that declares that operand in place.
void expectSound(const ModelPlan &p) {
  EXPECT_TRUE(verifyMemoryPlan(p).ok()) << verifyMemoryPlan(p).message();
  EXPECT_EQ(p.arenaBytes % 64, 0);
  EXPECT_EQ(p.paramBytes % 64, 0);
  // The results of cached steps: only parameters and constants in, in the
  // top cachedBytes of the arena, each in bytes of its own.
  std::set<int32_t> cachedTemps;
  std::vector<std::pair<int64_t, int64_t>> cachedRanges;
  for (const PlanStep &step : p.steps) {
    if (!step.cached)
      continue;
    for (size_t a = 0; a < step.args.size(); ++a) {
      const PlanTensor &t = p.tensors[size_t(step.args[a])];
      if (a < size_t(step.numOperands)) {
        EXPECT_TRUE(t.storage == Storage::Param || t.storage == Storage::Const)
            << step.name << " reads '" << t.name << "'";
        continue;
      }
      EXPECT_EQ(t.storage, Storage::Temp) << t.name;
      EXPECT_GE(t.offset, p.arenaBytes - p.cachedBytes) << t.name;
      EXPECT_LE(t.offset + t.bytes, p.arenaBytes) << t.name;
      cachedTemps.insert(step.args[a]);
      cachedRanges.emplace_back(t.offset, t.offset + t.bytes);
    }
  }
  std::sort(cachedRanges.begin(), cachedRanges.end());
  for (size_t i = 1; i < cachedRanges.size(); ++i)
    EXPECT_LE(cachedRanges[i - 1].second, cachedRanges[i].first);
  int64_t largest = 0;
  for (const PlanFunction &fn : p.functions) {
    const FunctionMemory &m = fn.memory;
    largest = std::max(largest, m.arenaBytes);
    EXPECT_LE(m.liveBytes, m.arenaBytes) << fn.name;
    EXPECT_LE(m.arenaBytes, m.naiveBytes) << fn.name;
    // Lifetimes from the steps: written by the step that has it as a
    // result, live to the last step that names it. A concat result that
    // runs no step (its operands are parts of it, PlanTensor::partOf) is
    // written by its parts' steps and lives as long as any of them.
    std::map<int32_t, std::pair<int, int>> life;
    for (int s = 0; s < fn.numSteps; ++s) {
      const PlanStep &step = p.steps[size_t(fn.firstStep + s)];
      for (size_t a = 0; a < step.args.size(); ++a) {
        int32_t t = step.args[a];
        if (p.tensors[size_t(t)].storage != Storage::Temp)
          continue;
        if (cachedTemps.count(t))
          continue; // checked below
        bool whole = false;
        for (const PlanTensor &pt : p.tensors)
          whole |= pt.partOf == t;
        if (!life.count(t)) {
          EXPECT_TRUE(a >= step.node->numOperands() || whole)
              << "read before written";
          life[t] = {s, s};
        }
        life[t].second = s;
      }
    }
    std::map<int32_t, std::vector<int32_t>> parts;
    for (auto &[t, lt] : life)
      if (p.tensors[size_t(t)].partOf >= 0)
        parts[p.tensors[size_t(t)].partOf].push_back(t);
    int concatParts = 0;
    for (auto &[w, ps] : parts) {
      const PlanTensor &whole = p.tensors[size_t(w)];
      int64_t end = 0;
      for (int32_t t : ps) { // listed by offset: the operands' order
        const PlanTensor &pt = p.tensors[size_t(t)];
        EXPECT_EQ(pt.offset, whole.offset + pt.partOffset) << pt.name;
        EXPECT_GE(pt.partOffset, end) << pt.name << " overlaps a part";
        end = pt.partOffset + pt.bytes;
        life[w].first = std::min(life[w].first, life[t].first);
        life[w].second = std::max(life[w].second, life[t].second);
        ++concatParts;
      }
      EXPECT_LE(end, whole.bytes) << whole.name;
    }
    EXPECT_EQ(concatParts, m.numConcatParts) << fn.name;
    EXPECT_EQ(int32_t(life.size()), m.numTemps) << fn.name;
    int inPlace = 0;
    for (auto &[a, la] : life) {
      const PlanTensor &ta = p.tensors[size_t(a)];
      EXPECT_EQ(ta.offset % 64, 0) << ta.name;
      EXPECT_LE(ta.offset + ta.bytes, m.arenaBytes) << ta.name;
      if (ta.inPlaceOf >= 0) {
        ++inPlace;
        const PlanStep &step = p.steps[size_t(fn.firstStep + la.first)];
        auto ops = step.node->def().inPlaceOperands();
        bool declared = false;
        for (size_t k : ops)
          declared |= k < step.node->numOperands() && step.args[k] == ta.inPlaceOf;
        EXPECT_TRUE(declared) << ta.name << " in place over an operand its op "
                              << step.node->op() << " does not declare";
        EXPECT_EQ(life.at(ta.inPlaceOf).second, la.first) << ta.name;
        EXPECT_EQ(p.tensors[size_t(ta.inPlaceOf)].offset, ta.offset);
        EXPECT_EQ(p.tensors[size_t(ta.inPlaceOf)].type, ta.type);
      }
      if (ta.partOf >= 0)
        continue; // checked as its concat result
      for (auto &[b, lb] : life) {
        if (b <= a)
          continue;
        const PlanTensor &tb = p.tensors[size_t(b)];
        if (tb.partOf >= 0)
          continue;
        bool together = la.first <= lb.second && lb.first <= la.second;
        bool overlap = ta.offset < tb.offset + tb.bytes &&
                       tb.offset < ta.offset + ta.bytes;
        if (!together || !overlap)
          continue;
        bool chained = tb.inPlaceOf == a || ta.inPlaceOf == b;
        EXPECT_TRUE(chained) << fn.name << ": '" << ta.name << "' and '"
                             << tb.name << "' are live together in shared bytes";
      }
    }
    EXPECT_EQ(inPlace, m.numInPlace) << fn.name;
  }
  EXPECT_EQ(largest + p.cachedBytes, p.arenaBytes);
}

void printMemory(const std::string &what, const ModelPlan &p) {
  for (const PlanFunction &fn : p.functions)
    std::cout << "[ memory   ] " << what << " @" << fn.name << ": arena "
              << fn.memory.arenaBytes << ", naive " << fn.memory.naiveBytes
              << ", live peak " << fn.memory.liveBytes << ", in place "
              << fn.memory.numInPlace << " of " << fn.memory.numTemps << "\n";
}

/// Inputs for \p g in [0.5, 2) (log, sqrt, div), varied per element.
std::vector<Tensor> variedInputs(const Graph &g) {
  std::vector<Tensor> inputs;
  for (const Value *in : g.inputs()) {
    const TensorType &t = in->type();
    std::vector<double> v(size_t(t.numElements()));
    for (size_t e = 0; e < v.size(); ++e)
      v[e] = 0.5 + double((e * 7 + in->name().size() * 3) % 23) / 15.0;
    inputs.push_back(Tensor::fromDoubles(t, v));
  }
  return inputs;
}

/// \p g's outputs for \p inputs, by the reference evaluator.
Expected<std::vector<Tensor>> evaluate(const Graph &g,
                                       const std::vector<Tensor> &inputs) {
  GraphEvaluator eval(g);
  for (size_t i = 0; i < inputs.size(); ++i)
    CNNC_RETURN_IF_ERROR(eval.set(g.inputs()[i], inputs[i]));
  return eval.run();
}

/// \p g compiled (f32 inputs and outputs) and run once on \p inputs: its
/// outputs.
Expected<std::vector<std::vector<float>>>
runCompiled(Graph &g, const std::string &name, bool fuse,
            const std::vector<Tensor> &inputs) {
  fs::path dir = fs::temp_directory_path() /
                 ("cnnc-memplan-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  CompileOptions o;
  o.output = (dir / (name + ".so")).string();
  o.name = name;
  o.fuse = fuse;
  CNNC_RETURN_IF_ERROR(compileModel(g, o));
  auto lib = LoadedModel::load(o.output);
  if (!lib.ok())
    return lib.status();
  const cnnc_model_api &api = lib->api();
  cnnc_ctx *ctx = nullptr;
  if (api.create(&ctx) != CNNC_OK)
    return Status::error(api.last_error(nullptr));
  std::vector<std::vector<float>> data, got;
  std::vector<cnnc_tensor> in, out;
  for (const Tensor &x : inputs) {
    data.emplace_back();
    for (int64_t e = 0; e < x.type().numElements(); ++e)
      data.back().push_back(float(x.getDouble(e)));
  }
  auto describe = [](float *p, const TensorType &t) {
    cnnc_tensor c{p, CNNC_F32, int32_t(t.rank()), {}};
    for (int64_t d = 0; d < t.rank(); ++d)
      c.dims[d] = t.dim(d);
    return c;
  };
  for (size_t i = 0; i < inputs.size(); ++i)
    in.push_back(describe(data[i].data(), inputs[i].type()));
  for (const Value *v : g.outputs())
    got.emplace_back(size_t(v->type().numElements()));
  for (size_t i = 0; i < got.size(); ++i)
    out.push_back(describe(got[i].data(), g.outputs()[i]->type()));
  int rc = api.run(ctx, in.data(), in.size(), out.data(), out.size());
  std::string error = rc == CNNC_OK ? "" : api.last_error(ctx);
  api.destroy(ctx);
  fs::remove_all(dir);
  if (!error.empty())
    return Status::error(error);
  return got;
}

} // namespace

/// Every example network, inference and at batch 8: a sound plan, no
/// larger than the sum of its temporaries.
TEST(MemoryPlan, ExamplesAreSound) {
  for (const char *file : {"lenet5.cnn", "resnet_block.cnn", "vgg_block.cnn",
                           "inception_block.cnn", "convnetjs_cifar10.cnn"})
    for (int64_t batch : {1, 8}) {
      SCOPED_TRACE(std::string(file) + " batch " + std::to_string(batch));
      auto g = example(file, batch);
      ASSERT_TRUE(g);
      PlannedModel m = plan({g.get()});
      expectSound(m.plan);
      printMemory(std::string(file) + " x" + std::to_string(batch), m.plan);
      EXPECT_GT(m.plan.functions[0].memory.numInPlace, 0) << "every example has a relu";
    }
}

/// Fused (the compiler's default), the same examples and LeNet-5's
/// training artifact plan soundly too: the verifier passes, no fused step
/// is written in place, every step's arguments are its operands then its
/// results, and the steps run in an order where every operand is written
/// before it is read (inputs, params and constants aside).
TEST(MemoryPlan, FusedPlansAreSound) {
  std::vector<std::unique_ptr<Graph>> keep;
  std::vector<std::vector<const Graph *>> models;
  for (const char *file : {"lenet5.cnn", "resnet_block.cnn", "vgg_block.cnn",
                           "inception_block.cnn", "convnetjs_cifar10.cnn"}) {
    keep.push_back(example(file, 4));
    ASSERT_TRUE(keep.back());
    models.push_back({keep.back().get()});
  }
  auto g = example("lenet5.cnn", 8);
  ASSERT_TRUE(g);
  TrainOptions to;
  to.optimizer = "adam";
  auto fns = buildTrainingFunctions(*g, to);
  ASSERT_TRUE(fns.ok()) << fns.status().message();
  std::vector<const Graph *> train;
  for (auto &f : *fns)
    train.push_back(f.get());
  models.push_back(train);
  for (const auto &fnsOfModel : models) {
    SCOPED_TRACE(fnsOfModel[0]->name());
    PlannedModel m = plan(fnsOfModel, /*fuse=*/true);
    expectSound(m.plan);
    size_t fused = 0;
    for (const PlanFunction &fn : m.plan.functions) {
      std::set<int32_t> written;
      for (int i = 0; i < fn.numSteps; ++i) {
        const PlanStep &st = m.plan.steps[size_t(fn.firstStep + i)];
        fused += st.fused();
        ASSERT_EQ(st.args.size(), st.argValues.size());
        for (size_t a = 0; a < st.args.size(); ++a) {
          const PlanTensor &t = m.plan.tensors[size_t(st.args[a])];
          if (int32_t(a) < st.numOperands) {
            if (t.storage == Storage::Temp) {
              EXPECT_TRUE(written.count(st.args[a]))
                  << st.name << " reads " << t.name << " before it is written";
            }
          } else {
            written.insert(st.args[a]);
            if (st.fused()) {
              EXPECT_EQ(t.inPlaceOf, -1) << st.name;
            }
          }
        }
      }
    }
    EXPECT_GT(fused, 0u) << "every model has a conv or gemm with a relu";
  }
}

/// LeNet-5 (batch 1): the placement reaches the bound of the most bytes
/// live at one step, and relu runs in place over its conv or gemm.
TEST(MemoryPlan, LeNet5ReachesTheLiveBound) {
  auto g = example("lenet5.cnn");
  ASSERT_TRUE(g);
  PlannedModel m = plan({g.get()});
  const FunctionMemory &mem = m.plan.functions[0].memory;
  EXPECT_EQ(mem.arenaBytes, mem.liveBytes);
  // c1 -> relu1: 6 * 28 * 28 floats, in place; the pool reads relu1 and
  // writes 6 * 14 * 14 beside it: 18,816 + 4,736 (4,704 rounded to 64).
  EXPECT_EQ(tensor(m.plan, "relu1").inPlaceOf, indexOf(m.plan, "c1"));
  EXPECT_EQ(mem.arenaBytes, 18816 + 4736);
  EXPECT_EQ(mem.numInPlace, 4); // the four relus
}

/// The training artifact of LeNet-5 with each optimizer: every function
/// sound; the parameter block holds params, one gradient per trainable
/// parameter and the optimizer's state.
TEST(MemoryPlan, TrainingArtifactsAreSound) {
  for (const char *opt : {"sgd", "adam"}) {
    SCOPED_TRACE(opt);
    auto g = example("lenet5.cnn", 16);
    ASSERT_TRUE(g);
    TrainOptions to;
    to.optimizer = opt;
    auto fns = buildTrainingFunctions(*g, to);
    ASSERT_TRUE(fns.ok()) << fns.status().message();
    std::vector<const Graph *> list;
    for (auto &f : *fns)
      list.push_back(f.get());
    PlannedModel m = plan(list);
    expectSound(m.plan);
    printMemory(std::string("lenet5 x16 train ") + opt, m.plan);
    ASSERT_EQ(m.plan.functions.size(), 5u);
    MemorySummary s = memorySummary(m.plan);
    EXPECT_EQ(s.paramBytes + s.gradBytes + s.optStateBytes, m.plan.paramBytes);
    // LeNet-5's 10 parameter tensors, 61,706 floats, each rounded up to 64
    // bytes: 640 + 64 + 9,600 + 64 + 192,000 + 512 + 40,320 + 384 + 3,392
    // + 64 = 247,040 bytes; a gradient for each, adam's m and v for each.
    EXPECT_EQ(s.gradBytes, 247040);
    EXPECT_EQ(s.optStateBytes, std::string(opt) == "adam" ? 2 * 247040 : 0);
    EXPECT_EQ(s.createBytes, m.plan.arenaBytes + m.plan.paramBytes);
    // The backward pass runs relu_grad and the sgd update in place.
    EXPECT_GT(m.plan.functions[2].memory.numInPlace, 4);
  }
}

/// A chain of element-wise ops reuses one block; an op that is not
/// element-wise (softmax reads a whole row) gets its own bytes.
TEST(MemoryPlan, ElementwiseChainRunsInPlace) {
  auto g = ir("graph @chain(%x: f32[4,16]) {\n"
              "  %a = neg(%x) : f32[4,16]\n"
              "  %b = relu(%a) : f32[4,16]\n"
              "  %c = exp(%b) : f32[4,16]\n"
              "  %d = add(%c, %x) : f32[4,16]\n"
              "  %s = softmax(%d) : f32[4,16]\n"
              "  %y = neg(%s) : f32[4,16]\n"
              "  return %y\n"
              "}\n");
  PlannedModel m = plan({g.get()});
  const ModelPlan &p = m.plan;
  expectSound(p);
  EXPECT_EQ(tensor(p, "a").inPlaceOf, -1); // x is the caller's input
  EXPECT_EQ(tensor(p, "b").inPlaceOf, indexOf(p, "a"));
  EXPECT_EQ(tensor(p, "c").inPlaceOf, indexOf(p, "b"));
  EXPECT_EQ(tensor(p, "d").inPlaceOf, indexOf(p, "c"));
  EXPECT_EQ(tensor(p, "s").inPlaceOf, -1); // softmax: not element-wise
  EXPECT_NE(tensor(p, "s").offset, tensor(p, "d").offset);
  const FunctionMemory &mem = p.functions[0].memory;
  EXPECT_EQ(mem.numTemps, 5);
  EXPECT_EQ(mem.numInPlace, 3);
  EXPECT_EQ(mem.naiveBytes, 5 * 256);
  EXPECT_EQ(mem.arenaBytes, 2 * 256);
  EXPECT_EQ(mem.liveBytes, 2 * 256);
}

/// No in place where it would be wrong: the operand is read later, has
/// another type (broadcast, cast), is a caller's tensor or a parameter,
/// or the result is an output.
TEST(MemoryPlan, InPlaceOnlyWhenLegal) {
  auto g = ir("graph @rules(%x: f32[3,8], %row: f32[1,8]) {\n"
              "  param %w: f32[3,8] = zeros\n"
              "  %a = neg(%x) : f32[3,8]\n"
              "  %b = relu(%a) : f32[3,8]\n"          // a read again below
              "  %c = add(%a, %b) : f32[3,8]\n"       // both die: over a
              "  %r = neg(%row) : f32[1,8]\n"
              "  %e = mul(%r, %c) : f32[3,8]\n"       // r broadcast: over c
              "  %f = neg(%e) : f32[3,8]\n"
              "  %g = cast(%f) {to = \"f64\"} : f64[3,8]\n" // other dtype
              "  %h = sub(%w, %x) : f32[3,8]\n"       // param and input
              "  %i = mul(%g, %g) : f64[3,8]\n"
              "  %j = cast(%i) {to = \"f32\"} : f32[3,8]\n"
              "  %k = add(%h, %j) : f32[3,8]\n"
              "  %y = relu(%k) : f32[3,8]\n"          // an output
              "  return %y\n"
              "}\n");
  PlannedModel m = plan({g.get()});
  const ModelPlan &p = m.plan;
  expectSound(p);
  EXPECT_EQ(tensor(p, "b").inPlaceOf, -1);
  EXPECT_EQ(tensor(p, "c").inPlaceOf, indexOf(p, "a"));
  EXPECT_EQ(tensor(p, "e").inPlaceOf, indexOf(p, "c"));
  EXPECT_EQ(tensor(p, "f").inPlaceOf, indexOf(p, "e"));
  EXPECT_EQ(tensor(p, "g").inPlaceOf, -1);
  EXPECT_EQ(tensor(p, "h").inPlaceOf, -1);
  EXPECT_EQ(tensor(p, "i").inPlaceOf, indexOf(p, "g"));
  EXPECT_EQ(tensor(p, "j").inPlaceOf, -1);
  EXPECT_EQ(tensor(p, "k").inPlaceOf, indexOf(p, "h"));
  EXPECT_EQ(tensor(p, "y").storage, Storage::Output);
}

/// verifyMemoryPlan, which planModel runs on every plan, finds two live
/// temporaries moved into the same bytes and an unaligned offset.
TEST(MemoryPlan, VerifierCatchesBadPlans) {
  auto g = example("lenet5.cnn");
  ASSERT_TRUE(g);
  PlannedModel m = plan({g.get()});
  ASSERT_TRUE(verifyMemoryPlan(m.plan).ok());
  ModelPlan bad = m.plan;
  // maxpool1 is written while relu1 (its operand) is live.
  bad.tensors[size_t(indexOf(bad, "maxpool1"))].offset =
      bad.tensors[size_t(indexOf(bad, "relu1"))].offset;
  Status s = verifyMemoryPlan(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("live together and share bytes"), std::string::npos)
      << s.message();
  bad = m.plan;
  bad.tensors[size_t(indexOf(bad, "c2"))].offset += 4;
  EXPECT_FALSE(verifyMemoryPlan(bad).ok());
  bad = m.plan;
  bad.tensors[size_t(bad.params[1])].offset = bad.tensors[size_t(bad.params[0])].offset;
  EXPECT_FALSE(verifyMemoryPlan(bad).ok());
}

/// Every op that declares an operand in place has one result (a second
/// result would be computed after the first overwrote the operand), and
/// the operand exists.
TEST(MemoryPlan, InPlaceOpsHaveOneResult) {
  int count = 0;
  for (const OpDef &def : OpRegistry::get().ops()) {
    if (def.inPlaceOperands().empty())
      continue;
    ++count;
    EXPECT_EQ(def.resultNames().size(), 1u) << def.name();
    for (size_t k : def.inPlaceOperands())
      EXPECT_LT(k, def.operandSpecs().size()) << def.name();
  }
  EXPECT_GE(count, 15);
}

/// Each element-wise op, compiled with its result written over its
/// operand, computes what the JIT computes into separate buffers. The rows
/// have 13 elements, not a multiple of any vector width, so a kernel that
/// recomputes a vector tail (ShiftInwards) would read elements it already
/// overwrote.
TEST(MemoryPlan, InPlaceKernelsMatchSeparateBuffers) {
  // %t<k> = identity(x) is a temporary that op k overwrites; neg copies its
  // result out (an output never aliases).
  struct Case {
    std::string op, extra, attrs, type;
  };
  std::vector<Case> cases = {
      {"relu", "", "", "f32[3,13]"},
      {"neg", "", "", "f32[3,13]"},
      {"exp", "", "", "f32[3,13]"},
      {"log", "", "", "f32[3,13]"},
      {"sqrt", "", "", "f32[3,13]"},
      {"sigmoid", "", "", "f32[3,13]"},
      {"tanh", "", "", "f32[3,13]"},
      {"leaky_relu", "", " {alpha = 0.5}", "f32[3,13]"},
      {"clip", "", " {max = 1.5, min = 0.5}", "f32[3,13]"},
      {"dropout", "", "", "f32[3,13]"},
      {"identity", "", "", "f32[3,13]"},
      {"cast", "", " {to = \"f32\"}", "f32[3,13]"},
      {"add", ", %z", "", "f32[3,13]"},
      {"sub", ", %z", "", "f32[3,13]"},
      {"mul", ", %z", "", "f32[3,13]"},
      {"div", ", %z", "", "f32[3,13]"},
      {"relu_grad", ", %z", "", "f32[3,13]"},
      {"sum", ", %z, %x", "", "f32[3,13]"},
      {"batch_norm", ", %s, %z13, %m, %v", "", "f32[3,13]"},
  };
  std::string text = "graph @inplace(%x: f32[3,13], %z: f32[3,13], "
                     "%s: f32[13], %z13: f32[13], %m: f32[13], %v: f32[13]) {\n";
  std::string ret;
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case &c = cases[k];
    std::string i = std::to_string(k);
    text += "  %t" + i + " = identity(%x) : f32[3,13]\n";
    text += "  %u" + i + " = " + c.op + "(%t" + i + c.extra + ")" + c.attrs +
            " : " + c.type + "\n";
    text += "  %y" + i + " = neg(%u" + i + ") : " + c.type + "\n";
    ret += (k ? ", %y" : "%y") + i;
  }
  text += "  return " + ret + "\n}\n";
  auto g = ir(text);
  ASSERT_TRUE(g);

  // The plan writes every u<k> over t<k>.
  PlannedModel m = plan({g.get()});
  expectSound(m.plan);
  for (size_t k = 0; k < cases.size(); ++k)
    EXPECT_EQ(tensor(m.plan, "u" + std::to_string(k)).inPlaceOf,
              indexOf(m.plan, "t" + std::to_string(k)))
        << cases[k].op;

  std::vector<Tensor> inputs = variedInputs(*g);
  auto want = evaluate(*g, inputs);
  ASSERT_TRUE(want.ok()) << want.status().message();
  // One kernel per node: the in-place steps are tested.
  auto got = runCompiled(*g, "inplace", /*fuse=*/false, inputs);
  ASSERT_TRUE(got.ok()) << got.status().message();
  for (size_t k = 0; k < cases.size(); ++k)
    for (int64_t e = 0; e < 3 * 13; ++e) {
      double w = (*want)[k].getDouble(e);
      ASSERT_NEAR((*got)[k][size_t(e)], w, 1e-6 * (1 + std::abs(w)))
          << cases[k].op << " element " << e;
    }
}

/// A concat of one image's channels runs no step: its operands' steps write
/// their parts of the result in place (PlanTensor::partOf). Not when an
/// operand is the caller's input, is joined twice, or when the joined
/// dimension has a batch of 2 before it; and nothing is written in place
/// over a part. The compiled model computes what the evaluator computes.
TEST(MemoryPlan, ConcatOperandsAreWrittenInPlace) {
  auto g = ir("graph @cat(%x: f32[1,4,4,4], %x8: f32[1,8,4,4], "
              "%x2: f32[2,4,4,4]) {\n"
              "  %a = neg(%x) : f32[1,4,4,4]\n"
              "  %b = relu(%a) : f32[1,4,4,4]\n"      // a part: not over a
              "  %c = exp(%x) : f32[1,4,4,4]\n"
              "  %d = sigmoid(%x8) : f32[1,8,4,4]\n"
              "  %cat = concat(%b, %c, %d) {axis = 1} : f32[1,16,4,4]\n"
              "  %e = neg(%c) : f32[1,4,4,4]\n"        // c lives on, no in place
              "  %f = relu(%cat) : f32[1,16,4,4]\n"    // not over cat
              "  %in = concat(%e, %x) {axis = 1} : f32[1,8,4,4]\n"
              "  %twice = concat(%e, %e) {axis = 1} : f32[1,8,4,4]\n"
              "  %p = neg(%x2) : f32[2,4,4,4]\n"
              "  %q = exp(%x2) : f32[2,4,4,4]\n"
              "  %batch = concat(%p, %q) {axis = 1} : f32[2,8,4,4]\n"
              "  %y1 = neg(%f) : f32[1,16,4,4]\n"
              "  %y2 = add(%in, %twice) : f32[1,8,4,4]\n"
              "  %y3 = neg(%batch) : f32[2,8,4,4]\n"
              "  return %y1, %y2, %y3\n"
              "}\n");
  ASSERT_TRUE(g);
  PlannedModel m = plan({g.get()});
  const ModelPlan &p = m.plan;
  expectSound(p);
  int32_t cat = indexOf(p, "cat");
  EXPECT_EQ(tensor(p, "b").partOf, cat);
  EXPECT_EQ(tensor(p, "c").partOf, cat);
  EXPECT_EQ(tensor(p, "d").partOf, cat);
  // 4 * 4 * 4 floats = 256 bytes per 4 channels.
  EXPECT_EQ(tensor(p, "b").partOffset, 0);
  EXPECT_EQ(tensor(p, "c").partOffset, 256);
  EXPECT_EQ(tensor(p, "d").partOffset, 512);
  EXPECT_EQ(tensor(p, "b").inPlaceOf, -1);
  EXPECT_EQ(tensor(p, "e").inPlaceOf, -1);
  EXPECT_EQ(tensor(p, "f").inPlaceOf, -1);
  for (const char *name : {"e", "p", "q"})
    EXPECT_EQ(tensor(p, name).partOf, -1) << name;
  std::set<std::string> steps;
  for (const PlanStep &st : p.steps)
    steps.insert(st.name);
  EXPECT_FALSE(steps.count("cat"));
  EXPECT_TRUE(steps.count("in"));
  EXPECT_TRUE(steps.count("twice"));
  EXPECT_TRUE(steps.count("batch"));
  EXPECT_EQ(p.functions[0].memory.numConcatParts, 3);

  std::vector<Tensor> inputs = variedInputs(*g);
  auto want = evaluate(*g, inputs);
  ASSERT_TRUE(want.ok()) << want.status().message();
  for (bool fuse : {false, true}) {
    SCOPED_TRACE(fuse ? "fused" : "one step per node");
    auto got = runCompiled(*g, "cat", fuse, inputs);
    ASSERT_TRUE(got.ok()) << got.status().message();
    for (size_t k = 0; k < want->size(); ++k)
      for (int64_t e = 0; e < (*want)[k].type().numElements(); ++e) {
        double w = (*want)[k].getDouble(e);
        ASSERT_NEAR((*got)[k][size_t(e)], w, 1e-6 * (1 + std::abs(w)))
            << "output " << k << " element " << e;
      }
  }
}

/// Without concat parts (a GPU model, planModel's concatParts) the concat
/// is a step and its operands bytes of their own.
TEST(MemoryPlan, NoConcatPartsWhenAskedNot) {
  auto g = ir("graph @cat(%x: f32[1,4,4,4]) {\n"
              "  %a = neg(%x) : f32[1,4,4,4]\n"
              "  %b = exp(%x) : f32[1,4,4,4]\n"
              "  %cat = concat(%a, %b) {axis = 1} : f32[1,8,4,4]\n"
              "  %y = neg(%cat) : f32[1,8,4,4]\n"
              "  return %y\n"
              "}\n");
  ASSERT_TRUE(g);
  auto p = planModel(*g, "model", 0, /*concatParts=*/false);
  ASSERT_TRUE(p.ok()) << p.status().message();
  expectSound(*p);
  EXPECT_EQ(tensor(*p, "a").partOf, -1);
  EXPECT_EQ(tensor(*p, "b").partOf, -1);
  EXPECT_EQ(p->functions[0].memory.numConcatParts, 0);
  bool step = false;
  for (const PlanStep &st : p->steps)
    step |= st.name == "cat";
  EXPECT_TRUE(step);
}

/// verifyMemoryPlan finds a concat part moved outside its result, and two
/// parts in the same bytes.
TEST(MemoryPlan, VerifierCatchesBadConcatParts) {
  auto g = ir("graph @cat(%x: f32[1,4,4,4]) {\n"
              "  %a = neg(%x) : f32[1,4,4,4]\n"
              "  %b = exp(%x) : f32[1,4,4,4]\n"
              "  %cat = concat(%a, %b) {axis = 1} : f32[1,8,4,4]\n"
              "  %y = neg(%cat) : f32[1,8,4,4]\n"
              "  return %y\n"
              "}\n");
  ASSERT_TRUE(g);
  PlannedModel m = plan({g.get()});
  ASSERT_EQ(tensor(m.plan, "b").partOf, indexOf(m.plan, "cat"));
  ASSERT_TRUE(verifyMemoryPlan(m.plan).ok());
  ModelPlan bad = m.plan;
  bad.tensors[size_t(indexOf(bad, "b"))].offset += 256;
  Status s = verifyMemoryPlan(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not inside the concat result 'cat'"),
            std::string::npos)
      << s.message();
  bad = m.plan;
  PlanTensor &b = bad.tensors[size_t(indexOf(bad, "b"))];
  b.partOffset = 0;
  b.offset = bad.tensors[size_t(indexOf(bad, "cat"))].offset;
  s = verifyMemoryPlan(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("parts 'a' and 'b' of a concat result overlap"),
            std::string::npos)
      << s.message();
}
