//===- passes/Autodiff.cpp - reverse-mode automatic differentiation --------===//
//
// The algorithm: mark the values that depend on a requested value (forward
// from `wrt`) and those the loss depends on (backward from the loss); a
// node is differentiated when a result of it reaches the loss and an
// operand depends on `wrt`. Nodes are visited in reverse order, so every use
// of a value has added its contribution before the value's own producer
// reads the sum. The `autodiff` pass (for cnnc-opt and tests) differentiates
// the graph's first output with respect to every trainable parameter and
// appends the gradients as outputs named `grad.<param>`.
//
//===----------------------------------------------------------------------===//
#include "passes/Autodiff.h"

#include "ir/OpDef.h"
#include "ir/TextIR.h"
#include "ir/ops/GradCtx.h"
#include "passes/PassManager.h"

#include <set>

namespace cnnc {

namespace {

class Differentiator {
public:
  Differentiator(Graph &g) : g_(g) {}

  /// Sums the contributions to \p v's gradient (null: none).
  Value *gradOf(const Value *v) {
    auto it = pending_.find(v);
    if (it == pending_.end() || it->second.empty())
      return nullptr;
    std::vector<Value *> &parts = it->second;
    while (parts.size() > 1) {
      Value *b = parts.back();
      parts.pop_back();
      Value *a = parts.back();
      parts.back() = emit("add", {a, b}, {})->result(0);
    }
    return parts[0];
  }

  void contribute(const Value *v, Value *g) { pending_[v].push_back(g); }

  Node *emit(const std::string &op, std::vector<Value *> operands,
             AttrMap attrs, size_t numResults = 0) {
    std::vector<std::string> names;
    std::string base = "d_" + op;
    size_t want = std::max(numResults,
                           OpRegistry::get().lookup(op)->resultNames().size());
    for (size_t i = 0; i < want; ++i)
      names.push_back(base);
    Node *n = g_.addNode(op, std::move(operands), std::move(attrs), names);
    auto types = computeNodeShape(*n);
    if (!types.ok()) {
      if (status_.ok())
        status_ = types.status();
      return n;
    }
    for (size_t i = 0; i < n->numResults(); ++i)
      n->result(i)->setType((*types)[i]);
    return n;
  }

  Value *scalar(double v, DType t) {
    Tensor c(TensorType(t, {}));
    c.setDouble(0, v);
    Node *n = g_.addNode("constant", {}, {{"value", Attribute(c)}}, {"c"});
    n->result(0)->setType(c.type());
    return n->result(0);
  }

  /// Reduces \p grad (a broadcast shape) to \p target's shape: sums over
  /// the leading axes \p target lacks and the axes where it has size 1.
  Value *unbroadcast(Value *grad, const TensorType &target) {
    const std::vector<int64_t> &gd = grad->type().dims(), &td = target.dims();
    if (gd == td)
      return grad;
    std::vector<int64_t> axes;
    size_t lead = gd.size() - std::min(gd.size(), td.size());
    for (size_t i = 0; i < gd.size(); ++i)
      if (i < lead || (td[i - lead] == 1 && gd[i] != 1))
        axes.push_back(int64_t(i));
    Value *s = grad;
    if (!axes.empty())
      s = emit("reduce_sum", {grad},
               {{"axes", Attribute(axes)}, {"keepdims", Attribute(int64_t(1))}})
              ->result(0);
    if (s->type().dims() != td)
      s = emit("reshape", {s}, {{"shape", Attribute(td)}})->result(0);
    return s;
  }

  Status &status() { return status_; }

private:
  Graph &g_;
  std::map<const Value *, std::vector<Value *>> pending_;
  Status status_;
};

class GradCtxImpl : public GradCtx {
public:
  GradCtxImpl(Differentiator &d, const Node &n, std::vector<bool> needs)
      : d_(d), n_(n), needs_(std::move(needs)) {}
  const Node &node() const override { return n_; }
  Value *dy(size_t i) override { return d_.gradOf(n_.result(i)); }
  bool needs(size_t i) const override { return needs_[i]; }
  Node *emitNode(const std::string &op, std::vector<Value *> operands,
                 AttrMap attrs, size_t numResults) override {
    return d_.emit(op, std::move(operands), std::move(attrs), numResults);
  }
  Value *scalar(double v, DType t) override { return d_.scalar(v, t); }
  void addGrad(size_t i, Value *g) override {
    if (!needs_[i] || !g)
      return;
    d_.contribute(n_.operand(i), d_.unbroadcast(g, n_.operand(i)->type()));
  }

private:
  Differentiator &d_;
  const Node &n_;
  std::vector<bool> needs_;
};

} // namespace

Expected<std::map<const Value *, Value *>>
buildGradients(Graph &g, Value *loss, const std::vector<Value *> &wrt,
               const Node **failed) {
  if (!loss->hasType() || loss->type().rank() != 0 ||
      !isFloat(loss->type().dtype()))
    return Status::error("autodiff: the loss '" + loss->name() +
                         "' must be a float scalar, not " +
                         (loss->hasType() ? loss->type().str() : "untyped"));
  std::vector<Node *> forward = g.nodes();

  // Values that depend on a requested value, through differentiable operands.
  std::set<const Value *> depends(wrt.begin(), wrt.end());
  for (Node *n : forward) {
    bool any = false;
    for (size_t i = 0; i < n->numOperands(); ++i)
      any |= n->def().isDifferentiable(i) && depends.count(n->operand(i));
    if (any)
      for (size_t r = 0; r < n->numResults(); ++r)
        depends.insert(n->result(r));
  }
  // Values the loss depends on.
  std::set<const Value *> reaches{loss};
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    Node *n = *it;
    bool any = false;
    for (size_t r = 0; r < n->numResults(); ++r)
      any |= reaches.count(n->result(r)) > 0;
    if (any)
      reaches.insert(n->operands().begin(), n->operands().end());
  }

  Differentiator d(g);
  d.contribute(loss, d.scalar(1.0, loss->type().dtype()));
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    Node *n = *it;
    bool out = false;
    for (size_t r = 0; r < n->numResults(); ++r)
      out |= reaches.count(n->result(r)) && depends.count(n->result(r));
    std::vector<bool> needs(n->numOperands());
    bool in = false;
    for (size_t i = 0; i < n->numOperands(); ++i) {
      needs[i] = n->def().isDifferentiable(i) && depends.count(n->operand(i));
      in |= needs[i];
    }
    if (!out || !in)
      continue;
    std::string where = "autodiff: node '" + n->result(0)->name() + "' (" +
                        n->op() + ")";
    auto fail = [&](const std::string &msg) {
      if (failed)
        *failed = n;
      return Status::error(where + ": " + msg);
    };
    if (!n->def().gradFn())
      return fail("the op has no gradient rule");
    GradCtxImpl ctx(d, *n, needs);
    // A node none of whose results received a gradient contributes none.
    bool anyGrad = false;
    for (size_t r = 0; r < n->numResults() && !anyGrad; ++r)
      anyGrad = ctx.dy(r) != nullptr;
    if (!anyGrad)
      continue;
    Status st = n->def().gradFn()(ctx);
    if (!st.ok())
      return fail(st.message());
    if (!d.status().ok())
      return fail(d.status().message());
  }

  std::map<const Value *, Value *> result;
  for (Value *v : wrt) {
    Value *gv = d.gradOf(v);
    if (!d.status().ok())
      return Status::error("autodiff: " + d.status().message());
    if (!gv) {
      Value *z = d.scalar(0.0, v->type().dtype());
      gv = d.emit("expand", {z}, {{"shape", Attribute(v->type().dims())}})
               ->result(0);
    }
    result[v] = gv;
  }
  return result;
}

Status runAutodiff(Graph &g, DiagEngine &diag, const PassOptions &) {
  if (g.outputs().empty())
    return Status::error("autodiff: graph @" + g.name() +
                         " has no output to differentiate");
  std::vector<Value *> wrt;
  for (Value *p : g.params())
    if (p->trainable())
      wrt.push_back(p);
  const Node *failed = nullptr;
  auto grads = buildGradients(g, g.outputs()[0], wrt, &failed);
  if (!grads.ok()) {
    diag.error(failed ? failed->loc() : g.loc(), grads.status());
    return Status::error("");
  }
  for (Value *p : wrt) {
    Value *gv = grads->at(p);
    // A gradient that is the parameter's own value or an earlier output
    // still gets its own name through an identity.
    if (gv->isParam() || gv->isInput())
      gv = g.addNode("identity", {gv}, {}, {"grad." + p->name()})->result(0);
    else
      g.rename(gv, "grad." + p->name());
    gv->setType(p->type());
    g.addOutput(gv);
  }
  return Status::success();
}

} // namespace cnnc
