//===- passes/Schedule.cpp - choose each kernel's CPU schedule -------------===//
//
// For every kernel (a node alone, or a fused group, see passes/Fuse.cpp)
// chooses its loop schedule for a CPU with ir/Schedule.h's model and writes
// it on the kernel's anchor (a lone node, or the group's first node) as
// the `schedule` annotation: the vector width, conv's register tile, and
// which loop (if any) runs in parallel. Options describe the machine:
//
//   schedule{vector-bits=256,registers=16,cores=2,conv-layout=auto}
//
// conv-layout (auto, nchw or nchwc) forces every conv that can take it
// into one layout; auto chooses per conv (chooseConvLayout).
// blocked-activations=0 says no block-layout pass follows (training): the
// layout choices that count on blocked neighbours are off.
// Also l1-bytes and l2-bytes, the data caches per core.
// (the compiler passes its target's: AVX2 256 bits and 16 registers,
// AVX-512 512 and 32, NEON 128 and 32; the cores of the compiling machine).
// Codegen and conv's lowering read the annotation back; a node without one
// gets the same choice for the default machine.
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "ir/Schedule.h"
#include "passes/PassManager.h"

#include <map>
#include <set>

namespace cnnc {

Status runSchedule(Graph &g, DiagEngine &, const PassOptions &opts) {
  MachineModel m;
  CNNC_ASSIGN_OR_RETURN(int64_t bits, opts.getInt("vector-bits", m.vectorBits));
  CNNC_ASSIGN_OR_RETURN(int64_t regs,
                        opts.getInt("registers", m.vectorRegisters));
  CNNC_ASSIGN_OR_RETURN(int64_t cores, opts.getInt("cores", m.cores));
  CNNC_ASSIGN_OR_RETURN(int64_t l1, opts.getInt("l1-bytes", m.l1Bytes));
  CNNC_ASSIGN_OR_RETURN(int64_t l2, opts.getInt("l2-bytes", m.l2Bytes));
  CNNC_ASSIGN_OR_RETURN(int64_t blocked, opts.getInt("blocked-activations", 1));
  if (blocked != 0 && blocked != 1)
    return Status::error("schedule: blocked-activations must be 0 or 1, got " +
                         std::to_string(blocked));
  std::string layout = opts.getString("conv-layout", m.convLayout);
  if (!isConvLayoutChoice(layout))
    return Status::error(std::string("schedule: conv-layout must be ") +
                         kConvLayoutChoices + ", got '" + layout + "'");
  m.convLayout = layout;
  if (bits < 64 || bits > 2048 || bits % 64)
    return Status::error("schedule: vector-bits must be a multiple of 64 "
                         "from 64 to 2048, got " + std::to_string(bits));
  if (regs < 8 || regs > 256)
    return Status::error("schedule: registers must be from 8 to 256, got " +
                         std::to_string(regs));
  if (cores < 1 || cores > 4096)
    return Status::error("schedule: cores must be from 1 to 4096, got " +
                         std::to_string(cores));
  for (auto [name, bytes] : {std::pair<const char *, int64_t>{"l1-bytes", l1},
                              {"l2-bytes", l2}})
    if (bytes < 4096 || bytes > (int64_t(1) << 30))
      return Status::error(std::string("schedule: ") + name +
                           " must be from 4096 to 2^30, got " +
                           std::to_string(bytes));
  if (l2 < l1)
    return Status::error("schedule: l2-bytes (" + std::to_string(l2) +
                         ") must not be below l1-bytes (" +
                         std::to_string(l1) + ")");
  m.l1Bytes = l1;
  m.l2Bytes = l2;
  m.vectorBits = int(bits);
  m.vectorRegisters = int(regs);
  m.cores = int(cores);
  // The last node of each fused group: what the group's kernel stores.
  std::map<int64_t, const Node *> tips;
  for (const Node *n : g.nodes())
    if (n->hasAttr(kFusionGroupAttr))
      tips[n->attr(kFusionGroupAttr).getInt()] = n;
  std::set<const Value *> outputs(g.outputs().begin(), g.outputs().end());
  auto feedsDepthwise = [&](const Node &anchor) {
    const Node *tip = anchor.hasAttr(kFusionGroupAttr)
                          ? tips.at(anchor.attr(kFusionGroupAttr).getInt())
                          : &anchor;
    if (tip->numResults() != 1 || outputs.count(tip->result(0)))
      return false;
    std::vector<Node *> users = g.users(tip->result(0));
    if (users.empty())
      return false;
    for (const Node *u : users)
      if (!depthwiseBlockable(*u) || u->operand(1) == tip->result(0))
        return false;
    return true;
  };
  std::set<int64_t> anchored;
  for (Node *n : g.nodes()) {
    n->attrs().erase(kScheduleAttr);
    if (!n->def().lowerFn() || n->numResults() == 0)
      continue;
    if (n->hasAttr(kFusionGroupAttr) &&
        !anchored.insert(n->attr(kFusionGroupAttr).getInt()).second)
      continue; // not the group's first node
    KernelContext ctx;
    ctx.feedsDepthwise = feedsDepthwise(*n);
    ctx.blockedActivations = blocked != 0;
    n->attrs()[kScheduleAttr] = Attribute(chooseSchedule(*n, m, ctx).str());
  }
  return Status::success();
}

} // namespace cnnc
