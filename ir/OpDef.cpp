//===- ir/OpDef.cpp - op definitions and the op registry -------------------===//
#include "ir/OpDef.h"

#include "ir/ops/OpDefines.h"

#include <algorithm>
#include <cstdint>

namespace cnnc {

Status ShapeCtx::error(const std::string &msg) const {
  return Status::error(node_.op() + ": " + msg);
}

OpDef &OpDef::inputs(std::vector<std::string> names) {
  operands_.clear();
  for (std::string &n : names) {
    OperandSpec s;
    if (n.size() > 3 && n.compare(n.size() - 3, 3, "...") == 0) {
      s.variadic = true;
      n.resize(n.size() - 3);
    } else if (!n.empty() && n.back() == '?') {
      s.optional = true;
      n.pop_back();
    }
    s.name = n;
    operands_.push_back(std::move(s));
  }
  return *this;
}

OpDef &OpDef::outputs(std::vector<std::string> names) {
  results_ = std::move(names);
  return *this;
}

OpDef &OpDef::attr(std::string name, AttrKind kind, Attribute defaultValue,
                   std::string doc) {
  bool ok = defaultValue.coerceTo(kind);
  assert(ok && "attribute default of the wrong kind");
  (void)ok;
  attrs_.push_back({std::move(name), kind, std::move(defaultValue),
                    std::move(doc)});
  return *this;
}

OpDef &OpDef::requiredAttr(std::string name, AttrKind kind, std::string doc) {
  attrs_.push_back({std::move(name), kind, std::nullopt, std::move(doc)});
  return *this;
}

OpDef &OpDef::onnx(std::string opType, int sinceOpset) {
  onnx_.emplace_back(std::move(opType), sinceOpset);
  return *this;
}

const std::vector<AttrSpec> &annotationAttrs() {
  static const std::vector<AttrSpec> specs = [] {
    std::vector<AttrSpec> v(3);
    v[0].name = kFusionGroupAttr;
    v[0].kind = AttrKind::Int;
    v[0].doc = "the fused group (one kernel) this node belongs to; set by "
               "the fuse pass";
    v[1].name = kScheduleAttr;
    v[1].kind = AttrKind::String;
    v[1].doc = "the schedule of the node's kernel (its group's anchor); set "
               "by the schedule pass";
    v[2].name = kBlockedAttr;
    v[2].kind = AttrKind::Int;
    v[2].doc = "the node's result is stored in blocks of this many channels "
               "([N, C/L, H, W, L]); set by the block-layout pass";
    return v;
  }();
  return specs;
}

bool isAnnotationAttr(const std::string &name) {
  for (const AttrSpec &a : annotationAttrs())
    if (a.name == name)
      return true;
  return false;
}

const AttrSpec *OpDef::findAttr(const std::string &name) const {
  for (const AttrSpec &a : attrs_)
    if (a.name == name)
      return &a;
  for (const AttrSpec &a : annotationAttrs())
    if (a.name == name)
      return &a;
  return nullptr;
}

size_t OpDef::minOperands() const {
  size_t n = 0;
  for (const OperandSpec &s : operands_)
    if (!s.optional)
      ++n;
  return n;
}

size_t OpDef::maxOperands() const {
  if (!operands_.empty() && operands_.back().variadic)
    return SIZE_MAX;
  return operands_.size();
}

bool OpDef::isDifferentiable(size_t operand) const {
  return std::find(nonDiff_.begin(), nonDiff_.end(), operand) ==
         nonDiff_.end();
}

const OpRegistry &OpRegistry::get() {
  static const OpRegistry registry = [] {
    OpRegistry r;
#define CNNC_OP(Name) r.add(ops::define##Name());
#include "ir/ops/Ops.def"
    std::sort(r.ops_.begin(), r.ops_.end(),
              [](const OpDef &a, const OpDef &b) { return a.name() < b.name(); });
    return r;
  }();
  return registry;
}

void OpRegistry::add(OpDef def) {
  assert(!lookup(def.name()) && "op defined twice");
  ops_.push_back(std::move(def));
}

const OpDef *OpRegistry::lookup(const std::string &name) const {
  for (const OpDef &d : ops_)
    if (d.name() == name)
      return &d;
  return nullptr;
}

const OpDef *OpRegistry::lookupOnnx(const std::string &opType) const {
  for (const OpDef &d : ops_)
    for (const auto &o : d.onnxNames())
      if (o.first == opType)
        return &d;
  return nullptr;
}

Expected<std::vector<TensorType>> computeNodeShape(const Node &node) {
  const OpDef &def = node.def();
  assert(def.shapeFn() && "op without a shape rule");
  ShapeCtx ctx(node);
  CNNC_RETURN_IF_ERROR(def.shapeFn()(ctx));
  return ctx.outputs();
}

} // namespace cnnc
