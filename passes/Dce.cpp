//===- passes/Dce.cpp - remove what no graph output depends on -------------===//
//
// Removes nodes none of whose results are used (transitively) by a graph
// output, then the parameters that nothing uses any more. Graph inputs are
// the interface of the model and stay, used or not.
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "passes/PassManager.h"

#include <set>

namespace cnnc {

Status runDce(Graph &g, DiagEngine &, const PassOptions &) {
  // Mark live values backwards from the outputs.
  std::set<const Value *> live(g.outputs().begin(), g.outputs().end());
  std::vector<Node *> nodes = g.nodes();
  std::set<const Node *> liveNodes;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node *n = *it;
    bool needed = !n->def().isPure();
    for (size_t i = 0; i < n->numResults() && !needed; ++i)
      needed = live.count(n->result(i));
    if (!needed)
      continue;
    liveNodes.insert(n);
    live.insert(n->operands().begin(), n->operands().end());
  }
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it)
    if (!liveNodes.count(*it))
      g.eraseNode(*it);
  std::vector<Value *> params = g.params();
  for (Value *p : params)
    if (!live.count(p))
      g.eraseValue(p);
  return Status::success();
}

} // namespace cnnc
