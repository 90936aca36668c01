//===- passes/ConstantFold.cpp - evaluate nodes on constants ---------------===//
//
// A pure node whose operands are all results of `constant` nodes (or, for an
// op whose fold reads only types, such as `shape`, any operands with static
// types), and whose op has a fold rule, is evaluated at compile time and
// replaced by `constant` nodes holding the results. Walking in order folds
// whole chains (the exporter's Shape -> Gather -> Concat -> Reshape).
// Parameters are never folded: they are trained.
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "passes/PassManager.h"

namespace cnnc {

/// The constant value of \p v, or null if it is not a constant's result.
static const Tensor *constantValue(const Value *v) {
  const Node *def = v->definingNode();
  if (!def || def->op() != "constant")
    return nullptr;
  return &def->attrTensor("value");
}

static bool isFoldable(const Node &n) {
  const OpDef &def = n.def();
  if (!def.foldFn() || !def.isPure() || n.op() == "constant")
    return false;
  for (size_t i = 0; i < n.numResults(); ++i)
    if (!n.result(i)->type().isStatic())
      return false;
  for (const Value *op : n.operands()) {
    if (constantValue(op))
      continue;
    if (!def.foldNeedsOnlyTypes() || !op->type().isStatic())
      return false;
  }
  return true;
}

Status runConstantFold(Graph &g, DiagEngine &diag, const PassOptions &) {
  for (Node *n : g.nodes()) {
    if (!isFoldable(*n))
      continue;
    std::vector<Tensor> inputs;
    for (const Value *op : n->operands()) {
      const Tensor *c = constantValue(op);
      inputs.push_back(c ? *c : Tensor());
    }
    FoldCtx ctx(*n, std::move(inputs));
    Status s = n->def().foldFn()(ctx);
    if (!s.ok()) {
      // A fold that cannot evaluate (e.g. an index out of range) is a user
      // error in the model, reported at the node.
      diag.error(n->loc(), n->op() + ": " + s.message());
      return Status::error("");
    }
    std::vector<Value *> replacements;
    for (size_t i = 0; i < n->numResults(); ++i) {
      Tensor t = ctx.outputs()[i];
      assert(!t.empty() && t.type() == n->result(i)->type() &&
             "fold produced a result of the wrong type");
      Node *c = g.addNode("constant", {}, {{"value", Attribute(t)}},
                          {n->result(i)->name() + "_folded"}, n);
      c->setLoc(n->loc());
      c->result(0)->setType(t.type());
      replacements.push_back(c->result(0));
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < n->numResults(); ++i) {
      names.push_back(n->result(i)->name());
      g.replaceAllUsesWith(n->result(i), replacements[i]);
    }
    g.eraseNode(n);
    for (size_t i = 0; i < replacements.size(); ++i)
      g.rename(replacements[i], names[i]);
  }
  return Status::success();
}

} // namespace cnnc
