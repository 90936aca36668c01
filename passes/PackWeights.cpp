//===- passes/PackWeights.cpp - a conv's weight layout split off ----------===//
//
// After `schedule`: each conv whose schedule needs its weights in another
// layout gets that layout's copy of them as a kernel of its own. A conv
// scheduled layout=winograd,
//
//   %y = conv(%x, %w, %b) {pads = P, schedule = S, fusion_group = k}
//
// becomes the transform of its weights and the rest:
//
//   %u = winograd_weights(%w) {block = B, schedule = S}
//   %y = conv_winograd(%x, %u, %b) {filters = M, pads = P, schedule = S,
//                                   fusion_group = k}
//
// and one scheduled layout=nchwc becomes its weights in blocks and the rest:
//
//   %wb = nchwc_weights(%w) {block = B, cblock = V, schedule = S}
//   %y = conv_nchwc(%x, %wb, %b) {filters = M, strides, pads, dilations,
//                                 schedule = S, fusion_group = k}
//
// with V = S's vector width, B = V x its tile's vectors of filters (the
// blocks of the register tile) and M the conv's filters; %y keeps its name
// and fusion group (the new conv is the group's anchor, as the conv was).
// The point: %u and %wb depend on the parameters alone, so the runtime
// keeps them between runs of a function that writes no parameter
// (ModelPlan: a cached step) and computes them again only after the
// parameters change, instead of at every run (ResNet-18's layer 3: the
// Winograd transform was a fifth of the conv's time; ResNet-50's 1024 ->
// 256 1x1 conv: the copy into blocks, a gather per weight, 14%).
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "ir/Schedule.h"
#include "passes/PassManager.h"

namespace cnnc {

Status runPackWeights(Graph &g, DiagEngine &, const PassOptions &) {
  for (Node *conv : g.nodes()) {
    if (conv->op() != "conv" || !conv->hasAttr(kScheduleAttr))
      continue;
    CNNC_ASSIGN_OR_RETURN(KernelSchedule s, scheduleOf(*conv));
    const bool winograd = s.layout == "winograd";
    if (!winograd && s.layout != "nchwc")
      continue;
    const std::string what = "conv '" + conv->result()->name() +
                             "' is scheduled '" + s.str() + "', which ";
    if (s.vector < 1 || s.tileFilters < 1)
      return Status::error(what + "gives no vector width or register tile");
    if (winograd && !winogradApplies(*conv))
      return Status::error(what + "its kernel or stride can not take");
    if (!winograd && conv->attrInt("group") != 1)
      return Status::error(what + "needs a conv of one group");
    const std::string schedule = conv->attr(kScheduleAttr).getString();
    const int64_t block = int64_t(s.vector) * s.tileFilters;
    Value *w = conv->operand(1);
    AttrMap packAttrs{{"block", Attribute(block)},
                      {kScheduleAttr, Attribute(schedule)}};
    if (!winograd)
      packAttrs["cblock"] =
          Attribute(int64_t(nchwcChannelBlock(w->type().dim(1), s.vector)));
    Node *packed = g.addNode(winograd ? "winograd_weights" : "nchwc_weights",
                             {w}, packAttrs,
                             {w->name() + (winograd ? ".winograd" : ".nchwc")},
                             conv);
    std::vector<Value *> operands{conv->operand(0), packed->result()};
    if (conv->numOperands() > 2)
      operands.push_back(conv->operand(2));
    AttrMap attrs{{"filters", Attribute(conv->result()->type().dim(1))},
                  {kScheduleAttr, Attribute(schedule)}};
    std::vector<const char *> kept{"pads", kFusionGroupAttr};
    if (!winograd)
      kept.insert(kept.end(), {"strides", "dilations"});
    for (const char *a : kept)
      if (conv->hasAttr(a))
        attrs[a] = conv->attr(a);
    Node *packedConv = g.addNode(winograd ? "conv_winograd" : "conv_nchwc",
                                 operands, attrs, {}, conv);
    for (Node *n : {packed, packedConv}) {
      auto types = computeNodeShape(*n);
      if (!types.ok())
        return Status::error("conv '" + conv->result()->name() + "': " +
                             types.status().message());
      n->result()->setType((*types)[0]);
    }
    std::string name = conv->result()->name();
    g.replaceAllUsesWith(conv->result(), packedConv->result());
    g.eraseNode(conv);
    g.rename(packedConv->result(), name);
  }
  return Status::success();
}

} // namespace cnnc
