//===- passes/Fuse.cpp - group nodes that run as one kernel ----------------===//
//
// Marks groups of nodes that codegen compiles into one Halide pipeline, so
// that the values between them never go through memory as tensors of their
// own (codegen/HalideLowering.cpp, lowerGroup). A group is a chain:
//
//   anchor     any op with a lowering whose pattern is not Opaque (conv,
//              gemm, a reduction, a backward op, an element-wise op, ...)
//   epilogue   element-wise and broadcast ops (relu, add, mul, relu_grad,
//              batch_norm, an optimizer update, ...), each reading the
//              value before it at its own index: the value's type is the
//              op's result type, so it is never broadcast
//   pool tail  after a Complex anchor (conv, gemm) and its epilogue: one
//              max_pool or avg_pool, which ends the group
//
// Each value inside the chain has exactly one user, the next node, and is
// not a graph output, so nothing outside the group needs it: conv + bias +
// ReLU + pool writes only the pooled tensor, a residual conv + add + ReLU
// only the block's output, and in a backward graph conv_grad_data or
// max_pool_grad + relu_grad apply the ReLU's mask as they store dx. The
// planner orders the groups and the other steps topologically; a member
// never reads a value computed (outside the chain) from the anchor's other
// results, so the groups form no cycle.
//
// Every node of a group of two or more gets `fusion_group = <k>` (k counts
// groups in node order); nodes alone stay unmarked. Only impure ops
// (random, side effects) and ops without a lowering are never grouped.
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "passes/PassManager.h"

#include <algorithm>
#include <map>
#include <set>

namespace cnnc {

/// May \p n be a member of a group at all?
static bool fusible(const Node &n) {
  const OpDef &def = n.def();
  return def.lowerFn() && def.isPure() &&
         def.fusionPattern() != FusionPattern::Opaque && n.numResults() > 0;
}

static bool isElementwise(const Node &n) {
  FusionPattern p = n.def().fusionPattern();
  return p == FusionPattern::Elementwise || p == FusionPattern::Broadcast;
}

/// The values computed from \p anchor's results other than its first (a
/// batch_norm_train's mean and invstd) by nodes outside the chain: a chain
/// member must not read one, or the group would depend on itself.
static std::set<const Value *> sideDerived(const Graph &g, const Node *anchor) {
  std::set<const Value *> derived;
  for (size_t r = 1; r < anchor->numResults(); ++r)
    derived.insert(anchor->result(r));
  if (derived.empty())
    return derived;
  bool after = false;
  for (const Node *n : g.nodes()) {
    if (n == anchor) {
      after = true;
      continue;
    }
    if (!after)
      continue;
    for (const Value *v : n->operands())
      if (derived.count(v)) {
        for (size_t r = 0; r < n->numResults(); ++r)
          derived.insert(n->result(r));
        break;
      }
  }
  return derived;
}

Status runFuse(Graph &g, DiagEngine &, const PassOptions &) {
  // A graph that was fused before is fused again from scratch.
  for (Node *n : g.nodes())
    n->attrs().erase(kFusionGroupAttr);
  std::set<const Value *> outputs(g.outputs().begin(), g.outputs().end());
  std::set<const Node *> grouped;
  int64_t next = 0;
  for (Node *anchor : g.nodes()) {
    if (grouped.count(anchor) || !fusible(*anchor))
      continue;
    std::vector<Node *> chain{anchor};
    const Value *tip = anchor->result(0);
    bool complex = anchor->def().fusionPattern() == FusionPattern::Complex;
    std::set<const Value *> side = sideDerived(g, anchor);
    auto readsSide = [&](const Node *u) {
      for (const Value *v : u->operands())
        if (side.count(v))
          return true;
      return false;
    };
    while (true) {
      if (outputs.count(tip))
        break;
      std::vector<Node *> users = g.users(tip);
      // A node may read the value twice (mul(x, x)): one user node.
      users.erase(std::unique(users.begin(), users.end()), users.end());
      if (users.size() != 1)
        break;
      Node *u = users[0];
      if (grouped.count(u) || !fusible(*u) || u->numResults() != 1 ||
          readsSide(u))
        break;
      if (isElementwise(*u) && u->result(0)->type() == tip->type()) {
        chain.push_back(u);
        tip = u->result(0);
        continue;
      }
      if (complex && (u->op() == "max_pool" || u->op() == "avg_pool"))
        chain.push_back(u);
      break;
    }
    if (chain.size() < 2)
      continue;
    for (Node *n : chain) {
      n->attrs()[kFusionGroupAttr] = Attribute(next);
      grouped.insert(n);
    }
    ++next;
  }
  return Status::success();
}

} // namespace cnnc
