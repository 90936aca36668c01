//===- codegen/ModelPlan.cpp - tensors, steps and memory of a model -------===//
#include "codegen/ModelPlan.h"

#include "ir/OpDef.h"
#include "ir/ParamInit.h"

#include <algorithm>
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

/// First-fit placement of temporaries by lifetime (in step indices): a
/// tensor may reuse bytes of one whose last use is before its definition.
static int64_t placeTemps(std::vector<PlanTensor> &tensors,
                          const std::vector<int32_t> &temps,
                          const std::map<int32_t, std::pair<int, int>> &life) {
  struct Placed {
    int64_t offset, bytes;
    int first, last;
  };
  std::vector<int32_t> order = temps;
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return tensors[a].bytes > tensors[b].bytes;
  });
  std::vector<Placed> placed;
  int64_t total = 0;
  for (int32_t t : order) {
    auto [first, last] = life.at(t);
    int64_t bytes = alignTo64(tensors[t].bytes);
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (const Placed &p : placed)
      if (!(p.last < first || last < p.first))
        busy.emplace_back(p.offset, p.offset + p.bytes);
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto [b, e] : busy) {
      if (offset + bytes <= b)
        break;
      offset = std::max(offset, e);
    }
    tensors[t].offset = offset;
    placed.push_back({offset, bytes, first, last});
    total = std::max(total, offset + bytes);
  }
  return total;
}

Expected<ModelPlan> planModel(const std::vector<const Graph *> &fns,
                              const std::string &prefix, uint64_t seed) {
  ModelPlan plan;
  std::map<std::string, int32_t> paramIndex; // name -> tensor
  auto newTensor = [&](const Value *v, Storage s) {
    PlanTensor t;
    t.name = v->name();
    t.type = v->type();
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

    std::vector<int32_t> temps;
    std::map<int32_t, std::pair<int, int>> life;
    int local = 0;
    for (const Node *n : order) {
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
      PlanStep step;
      step.node = n;
      if (n->op() == "assign") {
        step.name = "assign " + n->operand(0)->name();
      } else {
        step.name = n->result(0)->name();
        step.kernel = prefix + "_" + std::to_string(stepIndex) + "_" + n->op();
        step.flops = n->def().flopsFn() ? n->def().flopsFn()(*n) : 0;
      }
      for (const Value *op : n->operands()) {
        int32_t t = index.at(op);
        step.args.push_back(t);
        if (life.count(t))
          life[t].second = local;
      }
      for (size_t r = 0; r < n->numResults(); ++r) {
        const Value *v = n->result(r);
        if (!v->type().isStatic())
          return Status::error("value '" + v->name() +
                               "' has a dynamic shape " + v->type().str());
        int32_t t;
        if (outputs.count(v)) {
          t = newTensor(v, Storage::Output);
        } else {
          t = newTensor(v, Storage::Temp);
          temps.push_back(t);
          life[t] = {local, local};
        }
        index[v] = t;
        step.args.push_back(t);
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
    plan.arenaBytes =
        std::max(plan.arenaBytes, placeTemps(plan.tensors, temps, life));
    plan.functions.push_back(std::move(fn));
  }
  if (!plan.functions.empty()) {
    plan.inputs = plan.functions[0].inputs;
    plan.outputs = plan.functions[0].outputs;
  }
  return plan;
}

} // namespace cnnc
