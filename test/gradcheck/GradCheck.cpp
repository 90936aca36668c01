//===- test/gradcheck/GradCheck.cpp - analytic vs numerical gradients ------===//
#include "GradCheck.h"

#include "codegen/GraphEval.h"
#include "ir/OpDef.h"
#include "passes/Autodiff.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace cnnc::gradcheck {

static int64_t count(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

Value *CaseBuilder::input(const std::string &name, std::vector<int64_t> dims,
                          double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t(TensorType(DType::F64, std::move(dims)));
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.setDouble(i, u(rng_));
  return input(name, t, true);
}

Value *CaseBuilder::input(const std::string &name, Tensor value, bool wrt) {
  Value *v = g_.addInput(name, value.type());
  feeds_[v] = std::move(value);
  if (wrt)
    wrt_.push_back(v);
  return v;
}

Node *CaseBuilder::nodeN(const std::string &op, std::vector<Value *> operands,
                         AttrMap attrs) {
  Node *n = g_.addNode(op, std::move(operands), std::move(attrs));
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

Value *CaseBuilder::node(const std::string &op, std::vector<Value *> operands,
                         AttrMap attrs) {
  return nodeN(op, std::move(operands), std::move(attrs))->result(0);
}

Tensor CaseBuilder::away(std::vector<int64_t> dims, double lo, double hi,
                         std::vector<double> kinks, double margin) {
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t(TensorType(DType::F64, std::move(dims)));
  for (int64_t i = 0; i < t.numElements(); ++i) {
    double v;
    bool near;
    do {
      v = u(rng_);
      near = false;
      for (double k : kinks)
        near |= std::fabs(v - k) < margin;
    } while (near);
    t.setDouble(i, v);
  }
  return t;
}

Tensor CaseBuilder::distinct(std::vector<int64_t> dims, double spacing) {
  int64_t n = count(dims);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    perm[size_t(i)] = i;
  std::shuffle(perm.begin(), perm.end(), rng_);
  std::uniform_real_distribution<double> jitter(0, spacing / 4);
  Tensor t(TensorType(DType::F64, std::move(dims)));
  for (int64_t i = 0; i < n; ++i)
    t.setDouble(i, (double(perm[size_t(i)]) - double(n) / 2) * spacing +
                       jitter(rng_));
  return t;
}

Tensor CaseBuilder::labels(std::vector<int64_t> dims, int64_t n) {
  std::uniform_int_distribution<int64_t> u(0, n - 1);
  Tensor t(TensorType(DType::I64, std::move(dims)));
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.setInt(i, u(rng_));
  return t;
}

Expected<Value *> buildLoss(CaseBuilder &b) {
  CNNC_RETURN_IF_ERROR(b.status());
  if (b.lossTerms().empty() || b.wrt().empty())
    return Status::error("gradcheck: a case needs a loss term and an input");

  // loss = sum over terms y of reduce_sum(y * R_y).
  Value *loss = nullptr;
  for (Value *y : b.lossTerms()) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    Tensor r(y->type());
    for (int64_t i = 0; i < r.numElements(); ++i)
      r.setDouble(i, u(b.rng()));
    Value *rv = b.node("constant", {}, {{"value", Attribute(r)}});
    Value *term = b.node("reduce_sum", {b.node("mul", {y, rv})},
                         {{"keepdims", Attribute(int64_t(0))}});
    loss = loss ? b.node("add", {loss, term}) : term;
  }
  CNNC_RETURN_IF_ERROR(b.status());
  return loss;
}

Expected<Result> check(CaseBuilder &b, const Options &opts) {
  CNNC_ASSIGN_OR_RETURN(Value * loss, buildLoss(b));
  Graph &g = b.graph();

  size_t before = g.numNodes();
  CNNC_ASSIGN_OR_RETURN(auto grads, buildGradients(g, loss, b.wrt()));
  Result res;
  res.backwardNodes = g.numNodes() - before;
  if (opts.tamper)
    opts.tamper(g, grads);

  GraphEvaluator ev(g);
  for (const auto &[v, t] : b.feeds())
    CNNC_RETURN_IF_ERROR(ev.set(v, t));
  std::vector<const Value *> wanted{loss};
  for (Value *v : b.wrt())
    wanted.push_back(grads.at(v));
  CNNC_ASSIGN_OR_RETURN(std::vector<Tensor> analytic, ev.evaluate(wanted));
  analytic.erase(analytic.begin());
  if (opts.perturb)
    opts.perturb(analytic);

  double h = opts.step;
  for (size_t k = 0; k < b.wrt().size(); ++k) {
    Value *x = b.wrt()[k];
    const Tensor &x0 = b.feeds().at(x);
    const Tensor &a = analytic[k];
    if (a.type() != x0.type())
      return Status::error("gradcheck: the gradient of '" + x->name() +
                           "' is " + a.type().str() + ", expected " +
                           x0.type().str());
    for (int64_t i = 0; i < x0.numElements(); ++i) {
      double l[2];
      for (int s = 0; s < 2; ++s) {
        Tensor xs = cloneTensor(x0);
        xs.setDouble(i, x0.getDouble(i) + (s ? -h : h));
        CNNC_RETURN_IF_ERROR(ev.set(x, xs));
        CNNC_ASSIGN_OR_RETURN(std::vector<Tensor> out, ev.evaluate({loss}));
        l[s] = out[0].getDouble(0);
      }
      double numeric = (l[0] - l[1]) / (2 * h), an = a.getDouble(i);
      double rel = std::fabs(an - numeric) /
                   std::max(std::fabs(an) + std::fabs(numeric), 1e-12);
      ++res.elements;
      if (!(rel <= res.maxRelError)) { // NaN counts as the worst
        res.maxRelError = std::isnan(rel) ? INFINITY : rel;
        std::ostringstream os;
        os << x->name() << "[" << i << "]: analytic " << an << ", numeric "
           << numeric;
        res.worst = os.str();
      }
    }
    CNNC_RETURN_IF_ERROR(ev.set(x, x0));
  }
  return res;
}

} // namespace cnnc::gradcheck
