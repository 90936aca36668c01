//===- ir/Graph.cpp - the graph IR ------------------------------------------===//
#include "ir/Graph.h"

#include "ir/OpDef.h"

#include <algorithm>
#include <map>

namespace cnnc {

ParamInit ParamInit::fill(double v) {
  ParamInit p;
  p.kind = "fill";
  p.args["value"] = Attribute(v);
  return p;
}

ParamInit ParamInit::gaussian(double stddev, double mean) {
  ParamInit p;
  p.kind = "gaussian";
  p.args["std"] = Attribute(stddev);
  if (mean != 0.0)
    p.args["mean"] = Attribute(mean);
  return p;
}

ParamInit ParamInit::dense(Tensor t) {
  ParamInit p;
  p.kind = "dense";
  p.data = std::move(t);
  return p;
}

const std::string &Node::op() const { return def_->name(); }

const Attribute &Node::attr(const std::string &name) const {
  auto it = attrs_.find(name);
  if (it != attrs_.end())
    return it->second;
  const AttrSpec *spec = def_->findAttr(name);
  assert(spec && spec->defaultValue && "attribute missing with no default");
  return *spec->defaultValue;
}

std::vector<Node *> Graph::nodes() const {
  std::vector<Node *> out;
  out.reserve(nodes_.size());
  for (const auto &n : nodes_)
    out.push_back(n.get());
  return out;
}

Value *Graph::addInput(const std::string &name, TensorType type) {
  auto v = std::make_unique<Value>();
  v->kind_ = Value::Kind::Input;
  v->name_ = uniqueName(name);
  v->type_ = std::move(type);
  inputs_.push_back(v.get());
  ownedValues_.push_back(std::move(v));
  return inputs_.back();
}

Value *Graph::addParam(const std::string &name, TensorType type,
                       ParamInit init, bool trainable) {
  auto v = std::make_unique<Value>();
  v->kind_ = Value::Kind::Param;
  v->name_ = uniqueName(name);
  v->type_ = std::move(type);
  v->init_ = std::move(init);
  v->trainable_ = trainable;
  params_.push_back(v.get());
  ownedValues_.push_back(std::move(v));
  return params_.back();
}

Node *Graph::addNode(const OpDef &def, std::vector<Value *> operands,
                     AttrMap attrs, std::vector<std::string> resultNames,
                     Node *before) {
  auto n = std::make_unique<Node>();
  n->def_ = &def;
  n->id_ = nextNodeId_++;
  n->graph_ = this;
  n->operands_ = std::move(operands);
  n->attrs_ = std::move(attrs);
  size_t numResults = std::max(resultNames.size(), def.resultNames().size());
  for (size_t i = 0; i < numResults; ++i) {
    auto r = std::make_unique<Value>();
    r->kind_ = Value::Kind::Result;
    r->hasType_ = false;
    std::string base = i < resultNames.size() && !resultNames[i].empty()
                           ? resultNames[i]
                           : def.name();
    r->name_ = uniqueName(base);
    r->def_ = n.get();
    r->resultIndex_ = unsigned(i);
    n->results_.push_back(std::move(r));
  }
  Node *raw = n.get();
  if (!before) {
    nodes_.push_back(std::move(n));
    return raw;
  }
  auto it = std::find_if(nodes_.begin(), nodes_.end(),
                         [&](const auto &p) { return p.get() == before; });
  assert(it != nodes_.end() && "insertion point not in this graph");
  nodes_.insert(it, std::move(n));
  return raw;
}

Node *Graph::addNode(const std::string &opName, std::vector<Value *> operands,
                     AttrMap attrs, std::vector<std::string> resultNames,
                     Node *before) {
  const OpDef *def = OpRegistry::get().lookup(opName);
  assert(def && "addNode of an unregistered op");
  return addNode(*def, std::move(operands), std::move(attrs),
                 std::move(resultNames), before);
}

void Graph::eraseNode(Node *n) {
  for (size_t i = 0; i < n->numResults(); ++i) {
    assert(!hasUses(n->result(i)) && "erasing a node whose result is used");
    names_.erase(n->result(i)->name());
  }
  auto it = std::find_if(nodes_.begin(), nodes_.end(),
                         [&](const auto &p) { return p.get() == n; });
  assert(it != nodes_.end() && "node not in this graph");
  nodes_.erase(it);
}

void Graph::eraseValue(Value *v) {
  assert(!hasUses(v) && "erasing a used value");
  auto &list = v->isParam() ? params_ : inputs_;
  list.erase(std::remove(list.begin(), list.end(), v), list.end());
  names_.erase(v->name());
  ownedValues_.erase(
      std::remove_if(ownedValues_.begin(), ownedValues_.end(),
                     [&](const auto &p) { return p.get() == v; }),
      ownedValues_.end());
}

void Graph::replaceAllUsesWith(Value *from, Value *to) {
  for (auto &n : nodes_)
    for (auto &op : n->operands_)
      if (op == from)
        op = to;
  for (auto &o : outputs_)
    if (o == from)
      o = to;
}

std::vector<Node *> Graph::users(const Value *v) const {
  std::vector<Node *> out;
  for (const auto &n : nodes_)
    if (std::find(n->operands_.begin(), n->operands_.end(), v) !=
        n->operands_.end())
      out.push_back(n.get());
  return out;
}

bool Graph::hasUses(const Value *v) const {
  if (std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end())
    return true;
  for (const auto &n : nodes_)
    if (std::find(n->operands_.begin(), n->operands_.end(), v) !=
        n->operands_.end())
      return true;
  return false;
}

Value *Graph::lookup(const std::string &name) const {
  for (Value *v : inputs_)
    if (v->name() == name)
      return v;
  for (Value *v : params_)
    if (v->name() == name)
      return v;
  for (const auto &n : nodes_)
    for (const auto &r : n->results_)
      if (r->name() == name)
        return r.get();
  return nullptr;
}

std::string Graph::uniqueName(const std::string &base) {
  std::string b = base.empty() ? std::string("v") : base;
  if (names_.insert(b).second)
    return b;
  for (unsigned i = 1;; ++i) {
    std::string candidate = b + "_" + std::to_string(i);
    if (names_.insert(candidate).second)
      return candidate;
  }
}

void Graph::rename(Value *v, const std::string &base) {
  if (v->name_ == base)
    return;
  names_.erase(v->name_);
  v->name_ = uniqueName(base);
}

Status Graph::sortTopologically() {
  std::map<const Value *, Node *> producer;
  for (const auto &n : nodes_)
    for (const auto &r : n->results_)
      producer[r.get()] = n.get();
  std::set<const Value *> available(inputs_.begin(), inputs_.end());
  available.insert(params_.begin(), params_.end());

  std::vector<std::unique_ptr<Node>> pending = std::move(nodes_);
  nodes_.clear();
  // Repeatedly take the first ready node: stable, O(n^2) in the worst case.
  while (!pending.empty()) {
    auto ready = std::find_if(pending.begin(), pending.end(), [&](auto &n) {
      for (Value *op : n->operands_)
        if (!available.count(op))
          return false;
      return true;
    });
    if (ready == pending.end()) {
      Node *stuck = pending.front().get();
      for (Value *op : stuck->operands_) {
        if (available.count(op))
          continue;
        std::string why = producer.count(op) ? "a cycle through '%" +
                                                   op->name() + "'"
                                             : "'%" + op->name() +
                                                   "', which no node defines";
        nodes_.insert(nodes_.end(), std::make_move_iterator(pending.begin()),
                      std::make_move_iterator(pending.end()));
        return Status::error("node '" + stuck->result(0)->name() + "' (" +
                             stuck->op() + ") depends on " + why);
      }
    }
    for (const auto &r : (*ready)->results_)
      available.insert(r.get());
    nodes_.push_back(std::move(*ready));
    pending.erase(ready);
  }
  return Status::success();
}

} // namespace cnnc
