//===- ir/Printer.cpp - the IR text form: printer --------------------------===//
#include "ir/OpDef.h"
#include "ir/TextIR.h"

#include <cctype>

namespace cnnc {

static bool isBareName(const std::string &name) {
  if (name.empty())
    return false;
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

std::string printValueName(const std::string &name) {
  return isBareName(name) ? "%" + name : "%" + quoteString(name);
}

static std::string printGraphName(const std::string &name) {
  return isBareName(name) ? "@" + name : "@" + quoteString(name);
}

/// "{a = 1, b = [2, 3]}" with a leading space, or "" when empty.
static std::string printAttrDict(const AttrMap &attrs, const OpDef *def) {
  std::string s;
  for (const auto &[name, value] : attrs) {
    if (def) {
      const AttrSpec *spec = def->findAttr(name);
      if (spec && spec->defaultValue && *spec->defaultValue == value)
        continue;
    }
    s += (s.empty() ? "" : ", ") + name + " = " + value.str();
  }
  return s.empty() ? "" : " {" + s + "}";
}

static std::string printInit(const Value &p) {
  const ParamInit &init = p.init();
  if (init.kind == "dense" && init.data)
    return "dense " + formatTensorData(*init.data);
  return init.kind + printAttrDict(init.args, nullptr);
}

std::string printGraph(const Graph &g, const PrintOptions &opts) {
  std::string s = "graph " + printGraphName(g.name()) + "(";
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const Value *v = g.inputs()[i];
    s += (i ? ", " : "") + printValueName(v->name()) + ": " + v->type().str();
  }
  s += ")";
  if (!g.attrs().empty())
    s += " attributes" + printAttrDict(g.attrs(), nullptr);
  s += " {\n";
  for (const Value *p : g.params()) {
    s += "  param " + printValueName(p->name()) + ": " + p->type().str() +
         " = " + printInit(*p);
    if (!p->trainable())
      s += " frozen";
    s += "\n";
  }
  for (const Node *n : g.nodes()) {
    s += "  ";
    for (size_t i = 0; i < n->numResults(); ++i)
      s += (i ? ", " : "") + printValueName(n->result(i)->name());
    s += (n->numResults() ? " = " : "") + n->op() + "(";
    for (size_t i = 0; i < n->numOperands(); ++i)
      s += (i ? ", " : "") + printValueName(n->operand(i)->name());
    s += ")" + printAttrDict(n->attrs(), &n->def()) +
         (n->numResults() ? " : " : "");
    for (size_t i = 0; i < n->numResults(); ++i)
      s += (i ? ", " : "") + n->result(i)->type().str();
    if (opts.printLocations && opts.sourceMgr && n->loc().valid())
      s += " loc(" + quoteString(opts.sourceMgr->name(n->loc().buffer)) + ":" +
           std::to_string(n->loc().line) + ":" + std::to_string(n->loc().col) +
           ")";
    s += "\n";
  }
  s += "  return";
  for (size_t i = 0; i < g.outputs().size(); ++i)
    s += (i ? ", " : " ") + printValueName(g.outputs()[i]->name());
  s += "\n}\n";
  return s;
}

} // namespace cnnc
