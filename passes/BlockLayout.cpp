//===- passes/BlockLayout.cpp - activations kept in channel blocks --------===//
//
// After `pack-weights`: a conv_nchwc sums in blocks of filters and reads x
// in blocks of channels (ir/ops/Conv.cpp), so between two of them an
// activation stored in NCHW is copied twice: read back across the blocks
// into NCHW where it is stored, and copied into blocks again where the next
// conv reads it (ResNet-50 on AVX-512: 21% of its samples). This pass keeps
// such activations in blocks. A value gets the annotation
//
//   %y = conv_nchwc(%x, %wb) {..., blocked = L}
//
// on the node computing it when it is stored as [N, C/L, H, W, L] (the
// channels of a block of L innermost) instead of [N, C, H, W]: the same
// bytes, indexed otherwise (codegen/HalideLowering.cpp reads and writes it
// so; op lowerings still index it as N, C, H, W, and conv_nchwc reads the
// blocks directly). A value is blocked when
//  - it is computed by a conv_nchwc of vector width L, by a depthwise
//    conv of width L (depthwiseBlockable: ir/ops/Conv.cpp then computes
//    it across the channels of a block), or by an element-wise op (relu,
//    clip, a residual add, ...) whose operands of its own shape are all
//    blocked by L (a broadcast operand, a bias, is read as it is);
//  - each of its readers is a conv_nchwc of width L reading it as x, or
//    an element-wise op or a depthwise conv whose result is blocked by L;
//  - it is a 4-D f32 tensor whose channels L divides, and not an output of
//    the graph (the caller sees NCHW).
// The rules are applied until nothing changes, starting from every
// candidate, so a chain of element-wise ops between convs is blocked as a
// whole or not at all. Everything else (pools, concat, Winograd and
// other grouped convs, gemm) reads and writes NCHW as before.
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "ir/Schedule.h"
#include "passes/PassManager.h"

#include <map>
#include <set>

namespace cnnc {

/// The vector width of a conv_nchwc (its schedule's), 0 for other nodes.
static int64_t nchwcLanes(const Node &n) {
  if (n.op() != "conv_nchwc")
    return 0;
  Expected<KernelSchedule> s = scheduleOf(n);
  return s.ok() ? s->vector : 0;
}

/// The vector width of a depthwise conv that can work in blocks
/// (depthwiseBlockable, scheduled), 0 for other nodes.
static int64_t depthwiseLanes(const Node &n) {
  if (!depthwiseBlockable(n) || !n.hasAttr(kScheduleAttr))
    return 0;
  Expected<KernelSchedule> s = scheduleOf(n);
  return s.ok() && s->vector > 1 ? s->vector : 0;
}

static bool elementwise(const Node &n) {
  FusionPattern p = n.def().fusionPattern();
  return (p == FusionPattern::Elementwise || p == FusionPattern::Broadcast) &&
         n.def().isPure() && n.numResults() == 1;
}

Status runBlockLayout(Graph &g, DiagEngine &, const PassOptions &) {
  for (Node *n : g.nodes())
    n->attrs().erase(kBlockedAttr);
  std::set<const Value *> outputs(g.outputs().begin(), g.outputs().end());
  // The candidates and their block width (0: not known yet, an
  // element-wise op's, taken from its operands).
  std::map<const Value *, int64_t> lanes;
  for (Node *n : g.nodes()) {
    if (n->numResults() != 1)
      continue;
    const Value *v = n->result(0);
    const TensorType &t = v->type();
    if (outputs.count(v) || !t.isStatic() || t.rank() != 4 ||
        t.dtype() != DType::F32)
      continue;
    if (int64_t l = nchwcLanes(*n))
      lanes[v] = l;
    else if (int64_t l = depthwiseLanes(*n))
      lanes[v] = l;
    else if (elementwise(*n))
      lanes[v] = 0;
  }
  auto blockedBy = [&](const Value *v) -> int64_t {
    auto it = lanes.find(v);
    return it == lanes.end() ? -1 : it->second;
  };
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto it = lanes.begin(); it != lanes.end();) {
      const Value *v = it->first;
      const Node &p = *v->definingNode();
      int64_t l = it->second;
      bool keep = true;
      if (!nchwcLanes(p) && !depthwiseLanes(p)) {
        // Its operands of its own shape: all blocked, by one width.
        bool any = false;
        for (const Value *o : p.operands()) {
          if (o->type() != v->type())
            continue;
          int64_t lo = blockedBy(o);
          if (lo < 0 || (l > 0 && lo > 0 && lo != l)) {
            keep = false;
            break;
          }
          any = true;
          if (lo > 0 && l == 0) {
            l = lo;
            changed = true;
          }
        }
        keep = keep && any;
      }
      if (keep && l > 0 && v->type().dim(1) % l != 0)
        keep = false;
      if (keep) {
        for (const Node *u : g.users(v)) {
          if (nchwcLanes(*u)) {
            bool onlyX = nchwcLanes(*u) == (l > 0 ? l : nchwcLanes(*u));
            for (size_t i = 1; i < u->numOperands(); ++i)
              onlyX = onlyX && u->operand(i) != v;
            if (onlyX) {
              if (l == 0) {
                l = nchwcLanes(*u);
                changed = true;
              }
              continue;
            }
          } else if (elementwise(*u) || depthwiseLanes(*u)) {
            int64_t lu = blockedBy(u->result(0));
            if (lu >= 0 && (lu == 0 || l == 0 || lu == l))
              continue;
          }
          keep = false;
          break;
        }
      }
      if (!keep) {
        it = lanes.erase(it);
        changed = true;
        continue;
      }
      it->second = l;
      ++it;
    }
  }
  for (auto &[v, l] : lanes)
    if (l > 0)
      v->definingNode()->attrs()[kBlockedAttr] = Attribute(l);
  return Status::success();
}

} // namespace cnnc
