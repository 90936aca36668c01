//===- ir/Verifier.cpp - structural and type checks of a graph -------------===//
#include "ir/Verifier.h"

#include "ir/OpDef.h"
#include "ir/ParamInit.h"
#include "ir/TextIR.h"

#include <set>

namespace cnnc {

/// "1 operand", "2 or more operands", "2 to 3 operands".
static std::string countRange(size_t lo, size_t hi) {
  if (hi == SIZE_MAX)
    return std::to_string(lo) + " or more operands";
  if (lo == hi)
    return countNoun(lo, "operand");
  return std::to_string(lo) + " to " + std::to_string(hi) + " operands";
}

/// Checks operand/result counts and attributes against the op's schema.
static bool verifySchema(const Node &n, DiagEngine &diag) {
  const OpDef &def = n.def();
  bool ok = true;
  auto fail = [&](const std::string &msg) {
    diag.error(n.loc(), def.name() + ": " + msg);
    ok = false;
  };
  if (n.numOperands() < def.minOperands() ||
      n.numOperands() > def.maxOperands())
    fail("expects " + countRange(def.minOperands(), def.maxOperands()) +
         ", got " + std::to_string(n.numOperands()));
  if (n.numResults() != def.resultNames().size())
    fail("has " + countNoun(def.resultNames().size(), "result") + ", got " +
         std::to_string(n.numResults()));
  for (const auto &[name, value] : n.attrs()) {
    const AttrSpec *spec = def.findAttr(name);
    if (!spec) {
      std::string known;
      for (const AttrSpec &a : def.attrSpecs())
        known += (known.empty() ? "" : ", ") + a.name;
      fail("unknown attribute '" + name + "'" +
           (known.empty() ? " (it has none)" : " (expected " + known + ")"));
      continue;
    }
    if (value.kind() != spec->kind)
      fail("attribute '" + name + "' must be " + attrKindName(spec->kind) +
           ", got " + attrKindName(value.kind()));
  }
  for (const AttrSpec &spec : def.attrSpecs())
    if (!spec.defaultValue && !n.hasAttr(spec.name))
      fail("missing required attribute '" + spec.name + "'");
  return ok;
}

bool verifyGraph(const Graph &g, DiagEngine &diag) {
  bool ok = true;
  std::set<const Value *> defined(g.inputs().begin(), g.inputs().end());
  for (const Value *p : g.params()) {
    defined.insert(p);
    Status s = validateParamInit(p->init(), p->type());
    if (!s.ok()) {
      diag.error(p->loc(), "param " + printValueName(p->name()) + ": " +
                               s.message());
      ok = false;
    }
  }
  for (const Value *in : g.inputs())
    if (in->type().dtype() == DType::Bool) {
      diag.error(in->loc(), "input " + printValueName(in->name()) +
                                " has unsupported element type bool");
      ok = false;
    }

  for (const Node *n : g.nodes()) {
    bool nodeOk = true;
    for (const Value *op : n->operands())
      if (!defined.count(op)) {
        diag.error(n->loc(), n->op() + ": operand " +
                                 printValueName(op->name()) +
                                 " is used before it is defined");
        nodeOk = false;
      }
    nodeOk = verifySchema(*n, diag) && nodeOk;
    if (nodeOk) {
      auto inferred = computeNodeShape(*n);
      if (!inferred.ok()) {
        diag.error(n->loc(), inferred.status());
        nodeOk = false;
      } else {
        for (size_t i = 0; i < n->numResults(); ++i) {
          const TensorType &declared = n->result(i)->type();
          const TensorType &want = (*inferred)[i];
          if (!n->result(i)->hasType() || declared.isCompatibleWith(want))
            continue;
          diag.error(n->loc(),
                     n->op() + ": result " +
                         printValueName(n->result(i)->name()) +
                         " is declared " + declared.str() + " but the op gives " +
                         want.str());
          nodeOk = false;
        }
      }
    }
    ok &= nodeOk;
    for (size_t i = 0; i < n->numResults(); ++i)
      defined.insert(n->result(i));
  }
  // A graph must compute something: an output, or an effect (assign).
  bool effects = false;
  for (const Node *n : g.nodes())
    effects |= !n->def().isPure();
  if (g.outputs().empty() && !effects) {
    diag.error(g.loc(), "graph @" + g.name() + " returns nothing");
    ok = false;
  }
  return ok;
}

} // namespace cnnc
