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

Expected<ModelPlan> planModel(const Graph &g, const std::string &prefix,
                              uint64_t seed) {
  ModelPlan plan;
  std::map<const Value *, int32_t> index;
  auto add = [&](const Value *v, Storage s) {
    PlanTensor t;
    t.name = v->name();
    t.type = v->type();
    t.storage = s;
    t.bytes = v->type().numBytes();
    t.trainable = v->isParam() && v->trainable();
    index[v] = int32_t(plan.tensors.size());
    plan.tensors.push_back(std::move(t));
    return index[v];
  };
  for (const Value *v : g.inputs()) {
    if (!v->type().isStatic())
      return Status::error("input '" + v->name() + "' has a dynamic shape " +
                           v->type().str() + " (fix it with --shape or --batch)");
    plan.tensors[add(v, Storage::Input)].index = int32_t(plan.inputs.size());
    plan.inputs.push_back(index[v]);
  }
  std::set<const Value *> outputs(g.outputs().begin(), g.outputs().end());

  // Parameters: the param block, whose initial image starts the blob.
  int64_t paramOffset = 0;
  std::vector<std::pair<int32_t, Tensor>> initial;
  for (size_t i = 0; i < g.params().size(); ++i) {
    const Value *p = g.params()[i];
    int32_t t = add(p, Storage::Param);
    plan.tensors[t].index = int32_t(plan.params.size());
    plan.tensors[t].offset = paramOffset;
    paramOffset += alignTo64(plan.tensors[t].bytes);
    plan.params.push_back(t);
    initial.emplace_back(t, materializeParam(p->init(), p->type(), seed + i));
  }
  plan.paramBytes = paramOffset;
  plan.weights.assign(size_t(paramOffset), 0);
  for (auto &[t, value] : initial)
    std::memcpy(plan.weights.data() + plan.tensors[t].offset, value.rawData(),
                value.numBytes());

  std::vector<int32_t> temps;
  std::map<int32_t, std::pair<int, int>> life;
  int stepIndex = 0;
  for (const Node *n : g.nodes()) {
    if (n->op() == "constant") {
      const Tensor &value = n->attrTensor("value");
      int32_t t = add(n->result(0), Storage::Const);
      plan.tensors[t].offset = int64_t(plan.weights.size());
      plan.weights.resize(size_t(alignTo64(int64_t(plan.weights.size()) +
                                           value.numBytes())),
                          0);
      std::memcpy(plan.weights.data() + plan.tensors[t].offset,
                  value.rawData(), value.numBytes());
      continue;
    }
    PlanStep step;
    step.name = n->result(0)->name();
    step.kernel = prefix + "_" + std::to_string(stepIndex) + "_" + n->op();
    step.node = n;
    step.flops = n->def().flopsFn() ? n->def().flopsFn()(*n) : 0;
    for (const Value *op : n->operands()) {
      int32_t t = index.at(op);
      step.args.push_back(t);
      if (life.count(t))
        life[t].second = stepIndex;
    }
    for (size_t r = 0; r < n->numResults(); ++r) {
      const Value *v = n->result(r);
      if (!v->type().isStatic())
        return Status::error("value '" + v->name() + "' has a dynamic shape " +
                             v->type().str());
      int32_t t;
      if (outputs.count(v)) {
        t = add(v, Storage::Output);
      } else {
        t = add(v, Storage::Temp);
        temps.push_back(t);
        life[t] = {stepIndex, stepIndex};
      }
      step.args.push_back(t);
    }
    plan.steps.push_back(std::move(step));
    ++stepIndex;
  }
  for (const Value *v : g.outputs()) {
    int32_t t = index.at(v);
    plan.tensors[t].index = int32_t(plan.outputs.size());
    plan.outputs.push_back(t);
  }
  plan.arenaBytes = placeTemps(plan.tensors, temps, life);
  return plan;
}

} // namespace cnnc
