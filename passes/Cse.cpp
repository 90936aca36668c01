//===- passes/Cse.cpp - common subexpression elimination -------------------===//
//
// Two pure nodes with the same op, the same operands (by identity), the same
// attributes and the same result types compute the same values: the later
// one is replaced by the earlier. One forward walk suffices because nodes are
// in topological order and replacement only makes later nodes more alike.
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "ir/TextIR.h"
#include "passes/PassManager.h"

#include <map>

namespace cnnc {

/// A key that is equal for nodes computing the same thing. Operands are
/// identified by their (unique) names, printed as in the IR so that a name
/// holding ',' is quoted and cannot run into the next one; attributes by
/// their text form.
static std::string nodeKey(const Node &n) {
  std::string key = n.op() + "(";
  for (const Value *op : n.operands())
    key += printValueName(op->name()) + ",";
  key += ")";
  for (const auto &[name, value] : n.attrs()) {
    const AttrSpec *spec = n.def().findAttr(name);
    if (spec && spec->defaultValue && *spec->defaultValue == value)
      continue; // an explicit default equals an absent attribute
    key += name + "=" + value.str() + ";";
  }
  for (size_t i = 0; i < n.numResults(); ++i)
    key += ":" + n.result(i)->type().str();
  return key;
}

Status runCse(Graph &g, DiagEngine &, const PassOptions &) {
  std::map<std::string, Node *> seen;
  for (Node *n : g.nodes()) {
    if (!n->def().isPure())
      continue;
    auto [it, inserted] = seen.emplace(nodeKey(*n), n);
    if (inserted)
      continue;
    Node *earlier = it->second;
    for (size_t i = 0; i < n->numResults(); ++i)
      g.replaceAllUsesWith(n->result(i), earlier->result(i));
    g.eraseNode(n);
  }
  return Status::success();
}

} // namespace cnnc
