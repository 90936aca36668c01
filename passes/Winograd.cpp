//===- passes/Winograd.cpp - a Winograd conv's weight transform split off --===//
//
// After `schedule`: each conv whose schedule says layout=winograd,
//
//   %y = conv(%x, %w, %b) {pads = P, schedule = S, fusion_group = k}
//
// becomes the transform of its weights, a kernel of its own, and the rest:
//
//   %u = winograd_weights(%w) {block = B, schedule = S}
//   %y = conv_winograd(%x, %u, %b) {filters = M, pads = P, schedule = S,
//                                   fusion_group = k}
//
// with B = S's vector width x its tile's vectors of filters (the blocks of
// conv_winograd's register tile) and M the conv's filters; %y keeps its
// name and fusion group (conv_winograd is the group's anchor, as the conv
// was). The point: %u depends on the parameters alone, so the runtime
// keeps it between runs of a function that writes no parameter
// (ModelPlan: a cached step) and transforms the weights again only after
// they change, instead of at every run (ResNet-18's layer 3: a fifth of
// the conv's time).
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "ir/Schedule.h"
#include "passes/PassManager.h"

namespace cnnc {

Status runWinograd(Graph &g, DiagEngine &, const PassOptions &) {
  for (Node *conv : g.nodes()) {
    if (conv->op() != "conv" || !conv->hasAttr(kScheduleAttr))
      continue;
    CNNC_ASSIGN_OR_RETURN(KernelSchedule s, scheduleOf(*conv));
    if (s.layout != "winograd")
      continue;
    if (!winogradApplies(*conv) || s.vector < 1 || s.tileFilters < 1)
      return Status::error("winograd: conv '" + conv->result()->name() +
                           "' is scheduled '" + s.str() +
                           "', which its kernel or stride can not take");
    const std::string schedule = conv->attr(kScheduleAttr).getString();
    Value *w = conv->operand(1);
    Node *u = g.addNode(
        "winograd_weights", {w},
        {{"block", Attribute(int64_t(s.vector) * s.tileFilters)},
         {kScheduleAttr, Attribute(schedule)}},
        {w->name() + ".winograd"}, conv);
    std::vector<Value *> operands{conv->operand(0), u->result()};
    if (conv->numOperands() > 2)
      operands.push_back(conv->operand(2));
    AttrMap attrs{{"filters", Attribute(conv->result()->type().dim(1))},
                  {kScheduleAttr, Attribute(schedule)}};
    for (const char *a : {"pads", kFusionGroupAttr})
      if (conv->hasAttr(a))
        attrs[a] = conv->attr(a);
    Node *wc = g.addNode("conv_winograd", operands, attrs, {}, conv);
    for (Node *n : {u, wc}) {
      auto types = computeNodeShape(*n);
      if (!types.ok())
        return Status::error("winograd: conv '" + conv->result()->name() +
                             "': " + types.status().message());
      n->result()->setType((*types)[0]);
    }
    std::string name = conv->result()->name();
    g.replaceAllUsesWith(conv->result(), wc->result());
    g.eraseNode(conv);
    g.rename(wc->result(), name);
  }
  return Status::success();
}

} // namespace cnnc
