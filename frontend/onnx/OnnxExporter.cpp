//===- frontend/onnx/OnnxExporter.cpp - graph IR -> ONNX model ------------===//
#include "frontend/onnx/OnnxExporter.h"

#include "ir/FileIO.h"

#include "frontend/onnx/OnnxExportCtx.h"
#include "frontend/onnx/OnnxProto.h"
#include "ir/OpDef.h"
#include "ir/ParamInit.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <unistd.h>

namespace cnnc {

using namespace onnxproto;

namespace {

/// Names in the ONNX graph: every IR value name, plus the initializers
/// and helper values the export adds.
class NameTable {
public:
  explicit NameTable(const Graph &g) {
    for (const Value *v : g.inputs())
      used_.insert(v->name());
    for (const Value *v : g.params())
      used_.insert(v->name());
    for (const Node *n : g.nodes())
      for (size_t i = 0; i < n->numResults(); ++i)
        used_.insert(n->result(i)->name());
  }
  std::string unique(const std::string &base) {
    if (used_.insert(base).second)
      return base;
    for (unsigned i = 1;; ++i)
      if (used_.insert(base + "_" + std::to_string(i)).second)
        return base + "_" + std::to_string(i);
  }

private:
  std::set<std::string> used_;
};

/// The OnnxExportCtx of one node.
class NodeExportCtx final : public OnnxExportCtx {
public:
  NodeExportCtx(const Node &node, onnx::GraphProto &graph,
                onnx::NodeProto &np, NameTable &names)
      : node_(node), graph_(graph), np_(np), names_(names),
        attrs_(node.attrs()) {}

  const Node &node() const override { return node_; }
  int opset() const override { return kOnnxExportOpset; }
  void addConstantInput(const std::string &suffix, Tensor t) override {
    std::string name = names_.unique(node_.result(0)->name() + "_" + suffix);
    onnx::TensorProto *init = graph_.add_initializer();
    tensorToProto(t, init);
    init->set_name(name);
    np_.add_input(name);
  }
  void addEmptyInput() override { np_.add_input(""); }
  int64_t dtypeToOnnx(DType t) const override {
    return onnxproto::dtypeToOnnx(t);
  }
  AttrMap &attrs() override { return attrs_; }

private:
  const Node &node_;
  onnx::GraphProto &graph_;
  onnx::NodeProto &np_;
  NameTable &names_;
  AttrMap attrs_;
};

} // namespace

static void setType(onnx::ValueInfoProto *vi, const TensorType &t) {
  auto *tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(dtypeToOnnx(t.dtype()));
  auto *shape = tt->mutable_shape();
  for (int64_t d : t.dims()) {
    auto *dim = shape->add_dim();
    if (d >= 0)
      dim->set_dim_value(d); // an unknown dim is left without a value
  }
}

/// Writes \p a as ONNX attribute \p name; empty lists are left out (in the
/// IR they mean the default, as ONNX's absent attribute).
static void addAttribute(onnx::NodeProto &np, const std::string &name,
                         const Attribute &a) {
  using AP = onnx::AttributeProto;
  if ((a.kind() == AttrKind::Ints && a.getInts().empty()) ||
      (a.kind() == AttrKind::Floats && a.getFloats().empty()))
    return;
  AP *out = np.add_attribute();
  out->set_name(snakeToCamel(name));
  switch (a.kind()) {
  case AttrKind::Int:
    out->set_type(AP::INT);
    out->set_i(a.getInt());
    break;
  case AttrKind::Float:
    out->set_type(AP::FLOAT);
    out->set_f(float(a.getFloat()));
    break;
  case AttrKind::String:
    out->set_type(AP::STRING);
    out->set_s(a.getString());
    break;
  case AttrKind::Ints:
    out->set_type(AP::INTS);
    for (int64_t v : a.getInts())
      out->add_ints(v);
    break;
  case AttrKind::Floats:
    out->set_type(AP::FLOATS);
    for (double v : a.getFloats())
      out->add_floats(float(v));
    break;
  case AttrKind::Tensor:
    out->set_type(AP::TENSOR);
    tensorToProto(a.getTensor(), out->mutable_t());
    break;
  }
}

static Status exportNode(const Node &n, onnx::GraphProto &graph,
                         NameTable &names) {
  const OpDef &def = n.def();
  if (def.onnxNames().empty())
    return Status::error("cannot export " + n.op() + " '" +
                         n.result()->name() + "': the op has no ONNX form");
  onnx::NodeProto np;
  np.set_op_type(def.onnxNames().front().first);
  np.set_name(n.result()->name());
  for (const Value *v : n.operands())
    np.add_input(v->name());
  for (size_t i = 0; i < n.numResults(); ++i)
    np.add_output(n.result(i)->name());
  NodeExportCtx ctx(n, graph, np, names);
  if (def.onnxExportFn()) {
    Status s = def.onnxExportFn()(ctx);
    if (!s.ok())
      return Status::error("cannot export " + n.op() + " '" +
                           n.result()->name() + "': " + s.message());
  }
  for (const auto &[name, value] : ctx.attrs())
    if (!isAnnotationAttr(name))
      addAttribute(np, name, value);
  *graph.add_node() = std::move(np);
  return Status::success();
}

Expected<std::string> exportOnnxBytes(const Graph &g, uint64_t seed) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("cnnc");
  auto *opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxExportOpset);
  onnx::GraphProto &graph = *model.mutable_graph();
  graph.set_name(g.name());
  NameTable names(g);

  for (const Value *v : g.inputs()) {
    auto *vi = graph.add_input();
    vi->set_name(v->name());
    setType(vi, v->type());
  }
  for (size_t i = 0; i < g.params().size(); ++i) {
    const Value *p = g.params()[i];
    if (!p->type().isStatic())
      return Status::error("cannot export param '" + p->name() +
                           "' of dynamic type " + p->type().str());
    onnx::TensorProto *init = graph.add_initializer();
    tensorToProto(materializeParam(p->init(), p->type(), seed + i), init);
    init->set_name(p->name());
  }
  for (const Node *n : g.nodes())
    CNNC_RETURN_IF_ERROR(exportNode(*n, graph, names));

  // An ONNX graph output is a distinct node output: an input, a parameter
  // or a value returned twice goes through an Identity.
  std::set<const Value *> written;
  for (const Value *v : g.outputs()) {
    std::string name = v->name();
    if (!v->definingNode() || !written.insert(v).second) {
      name = names.unique(v->name() + "_out");
      auto *id = graph.add_node();
      id->set_op_type("Identity");
      id->set_name(name);
      id->add_input(v->name());
      id->add_output(name);
    }
    auto *vi = graph.add_output();
    vi->set_name(name);
    setType(vi, v->type());
  }
  if (model.ByteSizeLong() > size_t(INT_MAX))
    return Status::error("the model would be larger than 2 GB, which "
                         "protobuf cannot write");
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    return Status::error("cannot serialize the ONNX model");
  return bytes;
}

Status exportOnnx(const Graph &g, const std::string &path, uint64_t seed) {
  CNNC_ASSIGN_OR_RETURN(std::string bytes, exportOnnxBytes(g, seed));
  return writeFile(path, bytes);
}

} // namespace cnnc
