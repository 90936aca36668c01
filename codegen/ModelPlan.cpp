//===- codegen/ModelPlan.cpp - tensors, steps and memory of a model -------===//
#include "codegen/ModelPlan.h"

#include "ir/OpDef.h"
#include "ir/ParamInit.h"
#include "ir/Schedule.h"
#include "ir/ops/OpHelpers.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <map>
#include <set>

namespace cnnc {

void prepareForCodegen(Graph &g) {
  std::set<const Value *> seen;
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    Value *v = g.outputs()[i];
    Node *def = v->definingNode();
    bool needsCopy = !def || def->op() == "constant" || seen.count(v);
    seen.insert(v);
    if (!needsCopy)
      continue;
    Node *copy = g.addNode("identity", {v}, {}, {v->name() + "_out"});
    copy->result(0)->setType(v->type());
    g.setOutput(i, copy->result(0));
  }
}

namespace {
/// Arena bytes held by one temporary, or by a chain of them each written in
/// place over the one before; lifetimes in the function's steps, inclusive.
struct Block {
  int64_t bytes = 0;
  int first = 0, last = 0;
  int64_t offset = 0;
  std::vector<int32_t> tensors;
};
} // namespace

static bool livesOverlap(const Block &a, const Block &b) {
  return a.first <= b.last && b.first <= a.last;
}

/// Greedy by size: the largest block first (ties: the earlier), each at a
/// gap between the blocks already placed whose lifetimes overlap its own
/// that holds it, else above the highest of them. \p bestFit takes the
/// smallest such gap, otherwise the lowest (first fit). Returns the arena
/// size; sets each block's offset.
static int64_t placeBlocks(std::vector<Block> &blocks, bool bestFit) {
  std::vector<size_t> order(blocks.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (blocks[a].bytes != blocks[b].bytes)
      return blocks[a].bytes > blocks[b].bytes;
    return blocks[a].first < blocks[b].first;
  });
  std::vector<size_t> placed;
  int64_t total = 0;
  for (size_t i : order) {
    Block &b = blocks[i];
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t p : placed)
      if (livesOverlap(blocks[p], b))
        busy.emplace_back(blocks[p].offset, blocks[p].offset + blocks[p].bytes);
    std::sort(busy.begin(), busy.end());
    int64_t best = -1, bestGap = 0, top = 0;
    for (auto [lo, hi] : busy) {
      int64_t gap = lo - top;
      if (gap >= b.bytes && (best < 0 || (bestFit && gap < bestGap))) {
        best = top;
        bestGap = gap;
      }
      top = std::max(top, hi);
    }
    b.offset = best < 0 ? top : best;
    total = std::max(total, b.offset + b.bytes);
    placed.push_back(i);
  }
  return total;
}

/// Places \p blocks both by best fit and by first fit and keeps the
/// smaller arena (best fit on a tie). Neither wins everywhere: without
/// in-place sharing, test/models' Inception needs 245,760 bytes by best fit
/// and 237,568 by first fit.
static int64_t placeBlocksBest(std::vector<Block> &blocks) {
  int64_t firstFit = placeBlocks(blocks, /*bestFit=*/false);
  std::vector<int64_t> offsets;
  for (const Block &b : blocks)
    offsets.push_back(b.offset);
  int64_t bestFit = placeBlocks(blocks, /*bestFit=*/true);
  if (bestFit <= firstFit)
    return bestFit;
  for (size_t i = 0; i < blocks.size(); ++i)
    blocks[i].offset = offsets[i];
  return firstFit;
}

/// The most bytes live at one step (a lower bound for any placement).
static int64_t maxLiveBytes(const std::vector<Block> &blocks, int numSteps) {
  std::vector<int64_t> delta(size_t(numSteps) + 1, 0);
  for (const Block &b : blocks) {
    delta[size_t(b.first)] += b.bytes;
    delta[size_t(b.last) + 1] -= b.bytes;
  }
  int64_t live = 0, most = 0;
  for (int64_t d : delta)
    most = std::max(most, live += d);
  return most;
}

/// The operand of \p step that its result may overwrite (OpDef::inPlace):
/// a temporary of the result's type whose last use is this step (local
/// index \p at); -1 if none. Neither may be a concat's part or result
/// (\p concatResults, PlanTensor::partOf): those bytes belong to the whole
/// result for its whole life.
static int32_t inPlaceOperand(const PlanStep &step, int at,
                              const std::vector<PlanTensor> &tensors,
                              const std::map<int32_t, std::pair<int, int>> &life,
                              const std::set<int32_t> &concatResults) {
  const Node &n = *step.node;
  if (step.kernel.empty() || step.fused() || n.numResults() != 1)
    return -1;
  int32_t result = step.args.back();
  if (tensors[size_t(result)].storage != Storage::Temp ||
      tensors[size_t(result)].partOf >= 0)
    return -1;
  for (size_t k : n.def().inPlaceOperands()) {
    if (k >= n.numOperands())
      continue;
    int32_t t = step.args[k];
    const PlanTensor &operand = tensors[size_t(t)];
    // A concat's part or result (PlanTensor::partOf) dies only with the
    // whole concat result.
    if (operand.storage == Storage::Temp && operand.partOf < 0 &&
        !concatResults.count(t) &&
        operand.type == tensors[size_t(result)].type && life.at(t).second == at)
      return t;
  }
  return -1;
}

/// Places the temporaries \p temps of function \p fn (\p life: the local
/// steps of each, first and last): in-place chains, then blocks.
static FunctionMemory placeTemps(std::vector<PlanTensor> &tensors,
                                 const std::vector<PlanStep> &steps,
                                 const PlanFunction &fn,
                                 const std::vector<int32_t> &temps,
                                 const std::map<int32_t, std::pair<int, int>> &life) {
  FunctionMemory mem;
  std::vector<Block> blocks;
  std::map<int32_t, size_t> blockOf;
  // Concat results and their parts (planModel lists a result after them).
  std::map<int32_t, std::vector<int32_t>> partsOf;
  std::set<int32_t> concatResults;
  for (int32_t t : temps)
    if (tensors[size_t(t)].partOf >= 0) {
      partsOf[tensors[size_t(t)].partOf].push_back(t);
      concatResults.insert(tensors[size_t(t)].partOf);
    }
  // A part's block merged into its concat result's block: that block and
  // the part's byte offset in it.
  std::map<size_t, std::pair<size_t, int64_t>> mergedInto;
  for (int32_t t : temps) {
    auto [first, last] = life.at(t);
    mem.naiveBytes += alignTo64(tensors[size_t(t)].bytes);
    ++mem.numTemps;
    // Temporaries are listed in the order their steps write them, so an
    // in-place operand already has its block.
    const PlanStep &def = steps[size_t(fn.firstStep + first)];
    int32_t over = partsOf.count(t)
                       ? -1
                       : inPlaceOperand(def, first, tensors, life, concatResults);
    if (over >= 0) {
      Block &b = blocks[blockOf.at(over)];
      b.last = std::max(b.last, last);
      b.tensors.push_back(t);
      blockOf[t] = blockOf.at(over);
      tensors[size_t(t)].inPlaceOf = over;
      ++mem.numInPlace;
      continue;
    }
    Block b;
    b.bytes = alignTo64(tensors[size_t(t)].bytes);
    b.first = first;
    b.last = last;
    b.tensors.push_back(t);
    size_t at = blocks.size();
    blockOf[t] = at;
    blocks.push_back(std::move(b));
    auto parts = partsOf.find(t);
    if (parts == partsOf.end())
      continue;
    // A concat result: its parts' blocks live inside it, and it lives as
    // long as any of them.
    for (int32_t p : parts->second) {
      size_t pb = blockOf.at(p);
      blocks[at].first = std::min(blocks[at].first, blocks[pb].first);
      blocks[at].last = std::max(blocks[at].last, blocks[pb].last);
      mergedInto[pb] = {at, tensors[size_t(p)].partOffset};
      ++mem.numConcatParts;
    }
  }
  std::vector<Block> placed;
  std::vector<size_t> placedIndex(blocks.size(), 0);
  for (size_t i = 0; i < blocks.size(); ++i)
    if (!mergedInto.count(i)) {
      placedIndex[i] = placed.size();
      placed.push_back(blocks[i]);
    }
  mem.arenaBytes = placeBlocksBest(placed);
  mem.liveBytes = maxLiveBytes(placed, fn.numSteps);
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto m = mergedInto.find(i);
    int64_t offset = m == mergedInto.end()
                         ? placed[placedIndex[i]].offset
                         : placed[placedIndex[m->second.first]].offset +
                               m->second.second;
    for (int32_t t : blocks[i].tensors)
      tensors[size_t(t)].offset = offset;
  }
  return mem;
}

/// The byte offsets of \p concat's operands inside its result when they
/// can be parts of it (see planModel): the concatenated dimension has only
/// ones before it as stored (one image's channels, in NCHW or in whole
/// channel blocks), each operand is a distinct temporary that a step of
/// this function writes (in \p life), stored like the result, and not
/// already a part or a concat result, and each offset is 64-byte aligned.
/// Empty when they cannot.
static std::vector<int64_t>
concatPartOffsets(const Node &concat, const std::vector<PlanTensor> &tensors,
                  const std::map<const Value *, int32_t> &index,
                  const std::map<int32_t, std::pair<int, int>> &life,
                  const std::set<int32_t> &concatResults) {
  const Value &y = *concat.result(0);
  const TensorType &t = y.type();
  Expected<int64_t> axis = ops::normalizeAxis(concat.attrInt("axis"), t.rank());
  if (!axis.ok() || !t.isStatic())
    return {};
  for (int64_t d = 0; d < *axis; ++d)
    if (t.dim(d) != 1)
      return {};
  int block = storedBlock(y);
  if (block && *axis != 1)
    return {};
  std::vector<int64_t> offsets;
  std::set<int32_t> seen;
  int64_t offset = 0;
  for (const Value *v : concat.operands()) {
    auto it = index.find(v);
    if (it == index.end())
      return {};
    int32_t p = it->second;
    const PlanTensor &pt = tensors[size_t(p)];
    if (pt.storage != Storage::Temp || !life.count(p) || pt.partOf >= 0 ||
        concatResults.count(p) || !seen.insert(p).second ||
        storedBlock(*v) != block || offset % 64)
      return {};
    offsets.push_back(offset);
    offset += pt.bytes;
  }
  return offsets;
}

/// The steps of one function as units: a node, or the nodes of a fused
/// group (fusion_group, see passes/Fuse.cpp) in graph order. Units are
/// ordered topologically, each as early as its operands allow after the
/// units before it in \p order (a group where its first node was); the
/// assigns, last in \p order, stay last.
static Expected<std::vector<std::vector<const Node *>>>
orderUnits(const Graph &g, const std::vector<const Node *> &order) {
  std::vector<std::vector<const Node *>> units;
  std::map<int64_t, size_t> unitOfGroup;
  std::map<const Node *, size_t> unitOf;
  for (const Node *n : order) {
    size_t u = units.size();
    if (n->hasAttr(kFusionGroupAttr)) {
      auto [it, fresh] =
          unitOfGroup.emplace(n->attr(kFusionGroupAttr).getInt(), u);
      u = it->second;
    }
    if (u == units.size())
      units.emplace_back();
    units[u].push_back(n);
    unitOf[n] = u;
  }
  std::vector<std::set<size_t>> succs(units.size());
  std::vector<size_t> preds(units.size(), 0);
  for (size_t u = 0; u < units.size(); ++u)
    for (const Node *n : units[u])
      for (const Value *v : n->operands()) {
        const Node *d = v->definingNode();
        if (!d || !unitOf.count(d) || unitOf.at(d) == u)
          continue;
        if (succs[unitOf.at(d)].insert(u).second)
          ++preds[u];
      }
  std::set<size_t> ready;
  for (size_t u = 0; u < units.size(); ++u)
    if (!preds[u])
      ready.insert(u);
  std::vector<std::vector<const Node *>> sorted;
  while (!ready.empty()) {
    size_t u = *ready.begin();
    ready.erase(ready.begin());
    sorted.push_back(units[u]);
    for (size_t s : succs[u])
      if (!--preds[s])
        ready.insert(s);
  }
  if (sorted.size() != units.size())
    return Status::error("graph @" + g.name() +
                         ": its fused groups (fusion_group) depend on each "
                         "other in a cycle");
  return sorted;
}

Expected<ModelPlan> planModel(const std::vector<const Graph *> &fns,
                              const std::string &prefix, uint64_t seed,
                              bool concatParts) {
  ModelPlan plan;
  std::map<std::string, int32_t> paramIndex; // name -> tensor
  auto newTensor = [&](const Value *v, Storage s) {
    PlanTensor t;
    t.name = v->name();
    t.type = storedType(*v); // in blocks of channels: the same bytes
    t.storage = s;
    t.bytes = v->type().numBytes();
    t.trainable = v->isParam() && v->trainable();
    plan.tensors.push_back(std::move(t));
    return int32_t(plan.tensors.size() - 1);
  };

  // Parameters of every function, by name: the param block, whose initial
  // image starts the blob.
  int64_t paramOffset = 0;
  std::vector<std::pair<int32_t, Tensor>> initial;
  for (const Graph *g : fns)
    for (const Value *p : g->params()) {
      auto it = paramIndex.find(p->name());
      if (it != paramIndex.end()) {
        const PlanTensor &t = plan.tensors[size_t(it->second)];
        if (t.type != p->type())
          return Status::error("parameter '" + p->name() + "' is " +
                               t.type.str() + " in one function and " +
                               p->type().str() + " in @" + g->name());
        continue;
      }
      if (!p->type().isStatic())
        return Status::error("parameter '" + p->name() +
                             "' has a dynamic shape " + p->type().str());
      int32_t t = newTensor(p, Storage::Param);
      paramIndex[p->name()] = t;
      plan.tensors[size_t(t)].index = int32_t(plan.params.size());
      plan.tensors[size_t(t)].offset = paramOffset;
      paramOffset += alignTo64(plan.tensors[size_t(t)].bytes);
      plan.params.push_back(t);
      initial.emplace_back(t, materializeParam(p->init(), p->type(),
                                               seed + uint64_t(initial.size())));
    }
  plan.paramBytes = paramOffset;
  plan.weights.assign(size_t(paramOffset), 0);
  for (auto &[t, value] : initial)
    std::memcpy(plan.weights.data() + plan.tensors[size_t(t)].offset,
                value.rawData(), value.numBytes());

  int stepIndex = 0;
  std::vector<int32_t> cached; // results of cached steps, every function's
  for (const Graph *g : fns) {
    PlanFunction fn;
    fn.name = g->name();
    fn.firstStep = int32_t(plan.steps.size());
    std::map<const Value *, int32_t> index;
    for (const Value *p : g->params())
      index[p] = paramIndex.at(p->name());
    for (const Value *v : g->inputs()) {
      if (!v->type().isStatic())
        return Status::error("input '" + v->name() + "' has a dynamic shape " +
                             v->type().str() +
                             " (fix it with --shape or --batch)");
      int32_t t = newTensor(v, Storage::Input);
      plan.tensors[size_t(t)].index = int32_t(fn.inputs.size());
      fn.inputs.push_back(t);
      index[v] = t;
    }
    std::set<const Value *> outputs(g->outputs().begin(), g->outputs().end());

    // Assigns run last, in their order (see ir/ops/Assign.cpp).
    std::vector<const Node *> order, assigns;
    for (const Node *n : g->nodes())
      (n->op() == "assign" ? assigns : order).push_back(n);
    order.insert(order.end(), assigns.begin(), assigns.end());

    CNNC_ASSIGN_OR_RETURN(std::vector<std::vector<const Node *>> units,
                          orderUnits(*g, order));
    std::map<const Value *, std::vector<const Node *>> users;
    for (const Node *n : order)
      for (const Value *v : n->operands())
        users[v].push_back(n);

    std::vector<int32_t> temps;
    std::map<int32_t, std::pair<int, int>> life;
    std::set<int32_t> concatResults;
    int local = 0;
    for (const std::vector<const Node *> &unit : units) {
      const Node *n = unit.front();
      if (n->op() == "constant") {
        const Tensor &value = n->attrTensor("value");
        int32_t t = newTensor(n->result(0), Storage::Const);
        plan.tensors[size_t(t)].offset = int64_t(plan.weights.size());
        plan.weights.resize(size_t(alignTo64(int64_t(plan.weights.size()) +
                                             value.numBytes())),
                            0);
        std::memcpy(plan.weights.data() + plan.tensors[size_t(t)].offset,
                    value.rawData(), value.numBytes());
        index[n->result(0)] = t;
        continue;
      }
      if (concatParts && unit.size() == 1 && n->op() == "concat" &&
          !outputs.count(n->result(0))) {
        std::vector<int64_t> parts =
            concatPartOffsets(*n, plan.tensors, index, life, concatResults);
        if (!parts.empty()) {
          // No step: each operand's producer writes its part in place.
          int32_t t = newTensor(n->result(0), Storage::Temp);
          int first = local - 1;
          for (size_t i = 0; i < parts.size(); ++i) {
            int32_t p = index.at(n->operand(i));
            plan.tensors[size_t(p)].partOf = t;
            plan.tensors[size_t(p)].partOffset = parts[i];
            first = std::min(first, life.at(p).first);
          }
          temps.push_back(t);
          life[t] = {first, local - 1};
          concatResults.insert(t);
          index[n->result(0)] = t;
          continue;
        }
      }
      std::set<const Node *> members(unit.begin(), unit.end());
      PlanStep step;
      step.node = n;
      step.nodes = unit;
      if (n->op() == "assign") {
        step.name = "assign " + n->operand(0)->name();
      } else {
        for (const Node *m : unit)
          step.name += (step.name.empty() ? "" : "+") + m->result(0)->name();
        step.kernel = prefix + "_" + std::to_string(stepIndex);
        for (size_t k = 0; k < unit.size() && k < 3; ++k)
          step.kernel += "_" + unit[k]->op();
        if (unit.size() > 3)
          step.kernel += "_etc";
        for (const Node *m : unit)
          step.flops += m->def().flopsFn() ? m->def().flopsFn()(*m) : 0;
      }
      for (const Node *m : unit)
        for (const Value *op : m->operands()) {
          if (op->definingNode() && members.count(op->definingNode()))
            continue; // computed inside the group
          int32_t t = index.at(op);
          if (unit.size() > 1 &&
              std::find(step.args.begin(), step.args.end(), t) != step.args.end())
            continue;
          step.args.push_back(t);
          step.argValues.push_back(op);
          if (life.count(t))
            life[t].second = local;
        }
      step.numOperands = int32_t(step.args.size());
      step.cached = n->op() != "assign" && assigns.empty();
      for (int32_t t : step.args) {
        Storage s = plan.tensors[size_t(t)].storage;
        step.cached &= s == Storage::Param || s == Storage::Const;
      }
      for (const Node *m : unit) {
        step.cached &= m->def().isPure();
        for (size_t r = 0; r < m->numResults(); ++r)
          step.cached &= !outputs.count(m->result(r));
      }
      for (const Node *m : unit)
        for (size_t r = 0; r < m->numResults(); ++r) {
          const Value *v = m->result(r);
          if (!v->type().isStatic())
            return Status::error("value '" + v->name() +
                                 "' has a dynamic shape " + v->type().str());
          if (unit.size() > 1 && !outputs.count(v)) {
            bool outside = false;
            for (const Node *u : users[v])
              outside |= !members.count(u);
            if (!outside)
              continue; // stays inside the group's pipeline
          }
          int32_t t;
          if (outputs.count(v)) {
            t = newTensor(v, Storage::Output);
          } else if (step.cached) {
            t = newTensor(v, Storage::Temp); // placed below, kept
            cached.push_back(t);
          } else {
            t = newTensor(v, Storage::Temp);
            temps.push_back(t);
            life[t] = {local, local};
          }
          index[v] = t;
          step.args.push_back(t);
          step.argValues.push_back(v);
        }
      plan.steps.push_back(std::move(step));
      ++stepIndex;
      ++local;
    }
    for (const Value *v : g->outputs()) {
      int32_t t = index.at(v);
      plan.tensors[size_t(t)].index = int32_t(fn.outputs.size());
      fn.outputs.push_back(t);
    }
    fn.numSteps = int32_t(plan.steps.size()) - fn.firstStep;
    fn.memory = placeTemps(plan.tensors, plan.steps, fn, temps, life);
    plan.arenaBytes = std::max(plan.arenaBytes, fn.memory.arenaBytes);
    plan.functions.push_back(std::move(fn));
  }
  // The cached steps' results above every function's temporaries: no
  // other temporary ever takes their bytes, so they survive from one run
  // to the next.
  for (int32_t t : cached) {
    PlanTensor &pt = plan.tensors[size_t(t)];
    pt.offset = alignTo64(plan.arenaBytes);
    plan.arenaBytes = pt.offset + alignTo64(pt.bytes);
    plan.cachedBytes += alignTo64(pt.bytes);
  }
  if (!plan.functions.empty()) {
    plan.inputs = plan.functions[0].inputs;
    plan.outputs = plan.functions[0].outputs;
  }
  // Cheap next to compiling (pairs of temporaries per function), and it
  // turns a planner bug into an error instead of wrong numbers.
  Status checked = verifyMemoryPlan(plan);
  if (!checked.ok())
    return Status::error("internal error: " + checked.message());
  return plan;
}

namespace {
/// A temporary as verifyMemoryPlan sees it: its local steps and bytes.
struct TempUse {
  int32_t tensor = -1;
  int def = -1, last = -1;
};
} // namespace

/// True if step \p step may write its result over \p operand (which dies
/// there): the op declares that operand in place and the types are equal.
static bool mayOverwrite(const ModelPlan &plan, const PlanStep &step,
                         int32_t operand) {
  const Node *n = step.node;
  if (!n || step.kernel.empty() || step.fused() || n->numResults() != 1)
    return false;
  const PlanTensor &result = plan.tensors[size_t(step.args.back())];
  if (plan.tensors[size_t(operand)].type != result.type ||
      plan.tensors[size_t(operand)].partOf >= 0 || result.partOf >= 0)
    return false;
  for (const PlanTensor &t : plan.tensors)
    if (t.partOf == operand)
      return false; // a concat result
  for (size_t k : n->def().inPlaceOperands())
    if (k < n->numOperands() && step.args[k] == operand)
      return true;
  return false;
}

static std::string describeTemp(const ModelPlan &plan, const TempUse &u) {
  const PlanTensor &t = plan.tensors[size_t(u.tensor)];
  return "'" + t.name + "' (steps " + std::to_string(u.def) + "-" +
         std::to_string(u.last) + ", bytes " + std::to_string(t.offset) +
         "-" + std::to_string(t.offset + t.bytes) + ")";
}

Status verifyMemoryPlan(const ModelPlan &plan) {
  std::vector<std::pair<int64_t, int32_t>> params;
  for (int32_t p : plan.params) {
    const PlanTensor &t = plan.tensors[size_t(p)];
    if (t.offset % 64 || t.offset < 0 || t.offset + t.bytes > plan.paramBytes)
      return Status::error("memory plan: parameter '" + t.name +
                           "' at offset " + std::to_string(t.offset) +
                           " is unaligned or outside the parameter block");
    params.emplace_back(t.offset, p);
  }
  std::sort(params.begin(), params.end());
  for (size_t i = 1; i < params.size(); ++i) {
    const PlanTensor &a = plan.tensors[size_t(params[i - 1].second)];
    if (a.offset + a.bytes > params[i].first)
      return Status::error("memory plan: parameters '" + a.name + "' and '" +
                           plan.tensors[size_t(params[i].second)].name +
                           "' overlap");
  }
  for (const PlanFunction &fn : plan.functions) {
    std::map<int32_t, TempUse> uses;
    for (int s = 0; s < fn.numSteps; ++s) {
      const PlanStep &step = plan.steps[size_t(fn.firstStep + s)];
      size_t numOperands = size_t(step.numOperands);
      for (size_t a = 0; a < step.args.size(); ++a) {
        int32_t t = step.args[a];
        if (plan.tensors[size_t(t)].storage != Storage::Temp)
          continue;
        TempUse &u = uses[t];
        u.tensor = t;
        if (a >= numOperands && !step.kernel.empty() && u.def < 0)
          u.def = s;
        u.last = s;
      }
    }
    // A concat's parts: inside its result, disjoint; the result lives from
    // its first part's step to the last read of it or of a part.
    std::map<int32_t, std::vector<std::pair<int64_t, int32_t>>> parts;
    for (auto &[t, u] : uses) {
      const PlanTensor &pt = plan.tensors[size_t(t)];
      if (pt.partOf < 0)
        continue;
      const PlanTensor &whole = plan.tensors[size_t(pt.partOf)];
      if (whole.storage != Storage::Temp || pt.partOffset < 0 ||
          pt.partOffset + pt.bytes > whole.bytes ||
          pt.offset != whole.offset + pt.partOffset)
        return Status::error("memory plan of @" + fn.name + ": '" + pt.name +
                             "' is not inside the concat result '" +
                             whole.name + "' it is a part of");
      parts[pt.partOf].emplace_back(pt.partOffset, t);
    }
    for (auto &[w, ps] : parts) {
      std::sort(ps.begin(), ps.end());
      TempUse &whole = uses[w];
      whole.tensor = w;
      for (size_t i = 0; i < ps.size(); ++i) {
        const TempUse &p = uses.at(ps[i].second);
        const PlanTensor &pt = plan.tensors[size_t(p.tensor)];
        if (i + 1 < ps.size() && ps[i].first + pt.bytes > ps[i + 1].first)
          return Status::error("memory plan of @" + fn.name + ": parts '" +
                               pt.name + "' and '" +
                               plan.tensors[size_t(ps[i + 1].second)].name +
                               "' of a concat result overlap");
        if (p.def >= 0 && (whole.def < 0 || p.def < whole.def))
          whole.def = p.def;
        whole.last = std::max(whole.last, p.last);
      }
    }
    std::vector<TempUse> temps;
    for (auto &[t, u] : uses) {
      const PlanTensor &pt = plan.tensors[size_t(t)];
      if (u.def < 0)
        return Status::error("memory plan of @" + fn.name + ": temporary '" +
                             pt.name + "' is read before any step writes it");
      // A cached step's results sit in the top cachedBytes of the arena,
      // above every function's temporaries.
      bool cached = plan.steps[size_t(fn.firstStep + u.def)].cached;
      int64_t low = cached ? plan.arenaBytes - plan.cachedBytes : 0,
              high = cached ? plan.arenaBytes : fn.memory.arenaBytes;
      if (pt.offset % 64 || pt.offset < low || pt.offset + pt.bytes > high ||
          fn.memory.arenaBytes > plan.arenaBytes - plan.cachedBytes)
        return Status::error("memory plan of @" + fn.name + ": temporary " +
                             describeTemp(plan, u) +
                             " is unaligned or outside the arena of " +
                             std::to_string(fn.memory.arenaBytes) + " bytes");
      if (pt.partOf < 0) // a part is checked as its concat result
        temps.push_back(u);
    }
    for (size_t i = 0; i < temps.size(); ++i)
      for (size_t j = i + 1; j < temps.size(); ++j) {
        const TempUse *a = &temps[i], *b = &temps[j];
        if (a->def > b->def)
          std::swap(a, b);
        const PlanTensor &ta = plan.tensors[size_t(a->tensor)];
        const PlanTensor &tb = plan.tensors[size_t(b->tensor)];
        bool liveTogether = a->def <= b->last && b->def <= a->last;
        bool shareBytes = ta.offset < tb.offset + tb.bytes &&
                          tb.offset < ta.offset + ta.bytes;
        if (!liveTogether || !shareBytes)
          continue;
        // b written over a at the step where a dies.
        const PlanStep &step = plan.steps[size_t(fn.firstStep + b->def)];
        if (a->last == b->def && ta.offset == tb.offset &&
            mayOverwrite(plan, step, a->tensor))
          continue;
        return Status::error("memory plan of @" + fn.name +
                             ": temporaries " + describeTemp(plan, *a) +
                             " and " + describeTemp(plan, *b) +
                             " are live together and share bytes");
      }
  }
  return Status::success();
}

MemorySummary memorySummary(const ModelPlan &plan) {
  MemorySummary m;
  for (const PlanFunction &f : plan.functions)
    m.functions.push_back({f.name, f.memory.arenaBytes, f.memory.naiveBytes,
                           f.memory.liveBytes, f.memory.numTemps,
                           f.memory.numInPlace, f.memory.numConcatParts});
  m.arenaBytes = plan.arenaBytes;
  m.cachedBytes = plan.cachedBytes;
  for (int32_t p : plan.params) {
    const PlanTensor &t = plan.tensors[size_t(p)];
    int64_t bytes = alignTo64(t.bytes);
    if (t.name.rfind("grad.", 0) == 0)
      m.gradBytes += bytes;
    else if (t.name.rfind("opt.", 0) == 0)
      m.optStateBytes += bytes;
    else
      m.paramBytes += bytes;
  }
  assert(m.paramBytes + m.gradBytes + m.optStateBytes == plan.paramBytes &&
         "every parameter is in the block once");
  m.createBytes = alignTo64(plan.arenaBytes) + alignTo64(plan.paramBytes);
  return m;
}

} // namespace cnnc
