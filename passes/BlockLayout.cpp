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
//  - it is computed by a conv_nchwc or conv_winograd of vector width L, by
//    a depthwise conv of width L (depthwiseBlockable: ir/ops/Conv.cpp then
//    computes it across the channels of a block), or by an op that keeps
//    the blocks of its operands, all blocked by L: an element-wise op
//    (relu, clip, a residual add, ...; its operands of its own shape, a
//    broadcast operand such as a bias is read as it is), a max or average
//    pool (its x), or a concat of channels (each operand whole blocks);
//  - each of its readers is a conv_nchwc or conv_winograd of width L
//    reading it as x, one of the ops above whose result is blocked by L,
//    or a global pool (which reads the blocks through the N, C, H, W view);
//  - it is a 4-D f32 tensor whose channels L divides, and not an output of
//    the graph (the caller sees NCHW).
// The rules are applied until nothing changes, starting from every
// candidate, so a chain of ops between convs is blocked as a whole or not
// at all. Everything else (grouped convs other than depthwise, nchw convs,
// gemm) reads and writes NCHW as before. A concat of blocked values at
// batch 1 costs nothing: the memory plan has its operands' producers
// write their blocks into its result (codegen/ModelPlan.cpp).
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "ir/Schedule.h"
#include "passes/PassManager.h"

#include <map>
#include <set>

namespace cnnc {

/// The vector width of a conv_nchwc or conv_winograd (its schedule's),
/// 0 for other nodes: both sum in blocks of filters, and read x in blocks
/// of channels (ir/ops/Conv.cpp).
static int64_t nchwcLanes(const Node &n) {
  if (n.op() != "conv_nchwc" && n.op() != "conv_winograd")
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

/// A max or average pool over 4-D x: its result can be blocked like x.
static bool pool(const Node &n) {
  return (n.op() == "max_pool" || n.op() == "avg_pool") &&
         n.operand(0)->type().rank() == 4;
}

/// A concat of channels (axis 1 of 4-D tensors).
static bool channelConcat(const Node &n) {
  return n.op() == "concat" && n.result(0)->type().rank() == 4 &&
         n.hasAttr("axis") &&
         (n.attrInt("axis") == 1 || n.attrInt("axis") == -3);
}

/// The operands of \p n that are blocked with its result: an element-wise
/// op's of the result's own shape, a pool's x, all of a concat's.
static std::vector<const Value *> blockedOperands(const Node &n) {
  std::vector<const Value *> ops;
  if (pool(n))
    ops.push_back(n.operand(0));
  else if (channelConcat(n))
    ops.assign(n.operands().begin(), n.operands().end());
  else
    for (const Value *o : n.operands())
      if (o->type() == n.result(0)->type())
        ops.push_back(o);
  return ops;
}

/// A reader of x that reads blocks through the N, C, H, W view: a global
/// pool reduces each channel over H x W (its [N, C, 1, 1] result is NCHW).
static bool readsView(const Node &n) {
  return n.op() == "global_avg_pool" || n.op() == "global_max_pool";
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
    else if (elementwise(*n) || pool(*n) || channelConcat(*n))
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
        // The operands blocked with it: all blocked, by one width.
        bool any = false;
        for (const Value *o : blockedOperands(p)) {
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
        // A concat's operands are whole blocks of the result.
        if (keep && l > 0 && channelConcat(p))
          for (const Value *o : p.operands())
            keep = keep && o->type().dim(1) % l == 0;
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
          } else if (elementwise(*u) || depthwiseLanes(*u) || pool(*u) ||
                     channelConcat(*u)) {
            int64_t lu = blockedBy(u->result(0));
            if (lu >= 0 && (lu == 0 || l == 0 || lu == l))
              continue;
          } else if (readsView(*u)) {
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
