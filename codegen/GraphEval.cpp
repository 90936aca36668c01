//===- codegen/GraphEval.cpp - a whole graph through the Halide JIT --------===//
#include "codegen/GraphEval.h"

#include "codegen/HalideLowering.h"
#include "ir/OpDef.h"
#include "ir/ParamInit.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace cnnc {

Tensor cloneTensor(const Tensor &t) {
  if (t.empty())
    return t;
  Tensor c(t.type());
  if (t.numBytes())
    std::memcpy(c.rawData(), t.rawData(), t.numBytes());
  return c;
}

GraphEvaluator::GraphEvaluator(const Graph &g, uint64_t seed)
    : g_(g), seed_(seed) {}

GraphEvaluator::~GraphEvaluator() = default;

Status GraphEvaluator::set(const Value *v, Tensor t) {
  if (!v->isInput() && !v->isParam())
    return Status::error("graph eval: '" + v->name() +
                         "' is not an input or a parameter");
  if (t.type() != v->type() || t.empty())
    return Status::error("graph eval: value of '" + v->name() + "' is " +
                         t.type().str() + ", expected " + v->type().str());
  fixed_[v] = std::move(t);
  return Status::success();
}

Status GraphEvaluator::set(const std::string &name, Tensor t) {
  Value *v = g_.lookup(name);
  if (!v)
    return Status::error("graph eval: no value named '" + name + "'");
  return set(v, std::move(t));
}

Expected<std::vector<Tensor>> GraphEvaluator::run() {
  std::vector<const Value *> outs(g_.outputs().begin(), g_.outputs().end());
  return evaluate(outs);
}

Expected<std::vector<Tensor>>
GraphEvaluator::evaluate(const std::vector<const Value *> &wanted) {
  std::vector<Node *> nodes = g_.nodes();
  // The nodes the wanted values depend on, by a backward walk.
  std::set<const Value *> need(wanted.begin(), wanted.end());
  std::vector<bool> run(nodes.size(), false);
  for (size_t k = nodes.size(); k-- > 0;) {
    const Node *n = nodes[k];
    for (size_t r = 0; r < n->numResults() && !run[k]; ++r)
      run[k] = need.count(n->result(r)) > 0;
    if (run[k])
      need.insert(n->operands().begin(), n->operands().end());
  }

  std::map<const Value *, Tensor> env;
  for (const Value *v : need) {
    if (!v->isInput() && !v->isParam())
      continue;
    auto it = fixed_.find(v);
    if (it != fixed_.end()) {
      env[v] = it->second;
      continue;
    }
    if (v->isInput())
      return Status::error("graph eval: input '" + v->name() +
                           "' has no value");
    const std::vector<Value *> &params = g_.params();
    size_t index = size_t(
        std::find(params.begin(), params.end(), v) - params.begin());
    if (!v->type().isStatic())
      return Status::error("graph eval: parameter '" + v->name() + "' has " +
                           "the dynamic type " + v->type().str());
    Tensor init = materializeParam(v->init(), v->type(), seed_ + index);
    fixed_[v] = init;
    env[v] = init;
  }

  for (size_t k = 0; k < nodes.size(); ++k) {
    if (!run[k])
      continue;
    const Node *n = nodes[k];
    std::string where = "graph eval: node '" +
                        (n->numResults() ? n->result(0)->name() : n->op()) +
                        "' (" + n->op() + "): ";
    if (n->op() == "constant") {
      env[n->result(0)] = n->attrTensor("value");
      continue;
    }
    std::vector<Tensor> ins;
    for (const Value *v : n->operands()) {
      auto it = env.find(v);
      if (it == env.end())
        return Status::error(where + "operand '" + v->name() +
                             "' has no value");
      ins.push_back(it->second);
    }
    auto &jit = compiled_[n];
    if (!jit) {
      auto c = JitNode::compile(*n);
      if (!c.ok()) {
        compiled_.erase(n);
        return Status::error(where + c.status().message());
      }
      jit = std::move(*c);
    }
    auto outs = jit->run(ins);
    if (!outs.ok())
      return Status::error(where + outs.status().message());
    for (size_t r = 0; r < n->numResults(); ++r)
      env[n->result(r)] = std::move((*outs)[r]);
  }

  std::vector<Tensor> result;
  for (const Value *v : wanted) {
    auto it = env.find(v);
    if (it == env.end())
      return Status::error("graph eval: '" + v->name() + "' has no value");
    result.push_back(it->second);
  }
  return result;
}

} // namespace cnnc
