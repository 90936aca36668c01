//===- passes/Training.cpp - the functions of a training artifact ---------===//
#include "passes/Training.h"

#include "ir/Diag.h"
#include "ir/OpDef.h"
#include "ir/TextIR.h"
#include "passes/Autodiff.h"
#include "passes/PassManager.h"
#include "runtime/cnnc_runtime.h"

#include <map>
#include <sstream>

namespace cnnc {

namespace {

/// An optimizer: its op and the names of its state tensors.
struct OptimizerInfo {
  std::string name, op;
  std::vector<std::string> states;
  bool takesStep = false;
};

const std::vector<OptimizerInfo> &optimizers() {
  static const std::vector<OptimizerInfo> all = {
      {"sgd", "sgd_update", {}, false},
      {"momentum", "momentum_update", {"v"}, false},
      {"nesterov", "nesterov_update", {"v"}, false},
      {"adagrad", "adagrad_update", {"cache"}, false},
      {"rmsprop", "rmsprop_update", {"cache"}, false},
      {"adam", "adam_update", {"m", "v"}, true},
      {"adadelta", "adadelta_update", {"acc_g", "acc_d"}, false},
  };
  return all;
}

/// Builds the functions; every helper adds to the graph it is given.
class Builder {
public:
  Builder(const Graph &model, const TrainOptions &opts,
          const OptimizerInfo &opt)
      : model_(model), opts_(opts), opt_(opt) {}

  Expected<std::unique_ptr<Graph>> clone(const std::string &name) {
    SourceMgr sm;
    std::ostringstream err;
    DiagEngine diag(sm, &err);
    std::unique_ptr<Graph> g = parseGraphString(printGraph(model_), sm, diag);
    if (!g)
      return Status::error("cannot copy the model graph: " + err.str());
    g->setName(name);
    auto steps = parsePipeline("infer-shapes");
    PassManager pm(*steps);
    if (!pm.run(*g, diag))
      return Status::error(err.str());
    // Running statistics are state, not trained; frozen patterns.
    for (Node *n : g->nodes())
      if (n->op() == "batch_norm")
        for (size_t i : {size_t(3), size_t(4)})
          if (n->operand(i)->isParam())
            n->operand(i)->setTrainable(false);
    for (Value *p : g->params())
      for (const std::string &pat : opts_.freeze)
        if (globMatch(pat, p->name()))
          p->setTrainable(false);
    return g;
  }

  /// The loss of graph \p g against a new `labels` input; returns the loss
  /// and the scores (the model's output).
  Expected<std::pair<Value *, Value *>> addLoss(Graph &g) {
    if (g.outputs().size() != 1)
      return Status::error("training needs a model with one output (the "
                           "class scores), this one has " +
                           std::to_string(g.outputs().size()));
    Value *scores = g.outputs()[0];
    const TensorType &st = scores->type();
    if (st.rank() != 2 || !isFloat(st.dtype()))
      return Status::error("training needs class scores [N, C] as the "
                           "output, got '" + scores->name() + "' " + st.str());
    std::string loss = opts_.loss;
    if (loss.empty() && model_.attrs().count("loss"))
      loss = model_.attrs().at("loss").getString();
    if (loss.empty())
      return Status::error("the model names no loss: give --loss="
                           "softmax_cross_entropy or --loss=hinge");
    Value *logits = scores;
    Node *def = scores->definingNode();
    if (def && def->op() == "softmax" && loss == "softmax_cross_entropy")
      logits = def->operand(0); // the loss applies the softmax itself
    Value *labels = g.addInput(g.lookup("labels") ? g.uniqueName("labels")
                                                  : "labels",
                               TensorType(DType::I64, {st.dim(0)}));
    std::string op = loss == "softmax_cross_entropy" ? "softmax_cross_entropy"
                     : loss == "hinge"               ? "hinge_loss"
                                                     : "";
    if (op.empty())
      return Status::error("unknown loss '" + loss +
                           "' (softmax_cross_entropy, hinge)");
    Node *l = add(g, op, {logits, labels}, {}, {"loss"});
    return std::make_pair(l->result(0), scores);
  }

  Value *hyperInput(Graph &g) {
    DType t = model_.inputs().empty() ? DType::F32
                                      : model_.inputs()[0]->type().dtype();
    if (!isFloat(t))
      t = DType::F32;
    return g.addInput("hyper", TensorType(t, {CNNC_HP_COUNT}));
  }

  /// Training mode: batch_norm with batch statistics (and the running
  /// statistics updated), dropout with masks drawn from hyper[seed].
  Status trainingMode(Graph &g, Value *hyper) {
    int salt = 0;
    for (Node *n : g.nodes()) {
      if (n->op() == "batch_norm") {
        CNNC_RETURN_IF_ERROR(needOp("batch_norm_train"));
        double eps = n->attrFloat("epsilon"), m = n->attrFloat("momentum");
        Node *bn = add(g, "batch_norm_train",
                       {n->operand(0), n->operand(1), n->operand(2)},
                       {{"epsilon", Attribute(eps)}},
                       {n->result(0)->name() + "_train", "batch_mean",
                        "batch_invstd"});
        g.replaceAllUsesWith(n->result(0), bn->result(0));
        Value *mean = n->operand(3), *var = n->operand(4);
        DType t = mean->type().dtype();
        const TensorType &x = n->operand(0)->type();
        int64_t count = x.numElements() / x.dim(1);
        // running = m running + (1 - m) batch; the variance unbiased.
        auto blend = [&](Value *running, Value *batch) {
          Value *a = add(g, "mul", {running, scalar(g, m, t)})->result(0);
          Value *b = add(g, "mul", {batch, scalar(g, 1 - m, t)})->result(0);
          return add(g, "add", {a, b})->result(0);
        };
        Value *inv2 = add(g, "mul", {bn->result(2), bn->result(2)})->result(0);
        Value *bvar = add(g, "div", {scalar(g, 1.0, t), inv2})->result(0);
        bvar = add(g, "sub", {bvar, scalar(g, eps, t)})->result(0);
        if (count > 1)
          bvar = add(g, "mul",
                     {bvar, scalar(g, double(count) / double(count - 1), t)})
                     ->result(0);
        add(g, "assign", {mean, blend(mean, bn->result(1))}, {});
        add(g, "assign", {var, blend(var, bvar)}, {});
        g.eraseNode(n);
      } else if (n->op() == "dropout") {
        CNNC_RETURN_IF_ERROR(needOp("dropout_train"));
        Tensor idx(TensorType(DType::I64, {}));
        idx.setDouble(0, CNNC_HP_SEED);
        Node *c = add(g, "constant", {}, {{"value", Attribute(idx)}}, {"c"});
        Value *seed = add(g, "gather", {hyper, c->result(0)}, {}, {"seed"})
                          ->result(0);
        Node *d = add(g, "dropout_train", {n->operand(0), seed},
                      {{"ratio", Attribute(n->attrFloat("ratio"))},
                       {"salt", Attribute(int64_t(salt++))}},
                      {n->result(0)->name() + "_train", "mask"});
        g.replaceAllUsesWith(n->result(0), d->result(0));
        g.eraseNode(n);
      }
    }
    return g.sortTopologically();
  }

  /// The trainable parameters of \p g, in order.
  static std::vector<Value *> trainable(const Graph &g) {
    std::vector<Value *> v;
    for (Value *p : g.params())
      if (p->trainable())
        v.push_back(p);
    return v;
  }

  /// The step count, incremented: t = train.step + 1, assigned back.
  Value *stepCount(Graph &g, DType t) {
    Value *step = g.lookup("train.step");
    if (!step)
      step = g.addParam("train.step", TensorType(t, {}), ParamInit::zeros(),
                        /*trainable=*/false);
    Value *next = add(g, "add", {step, scalar(g, 1.0, t)}, {}, {"t"})->result(0);
    add(g, "assign", {step, next}, {});
    return next;
  }

  /// Optimizer updates of \p p with gradient \p grad, assigned back.
  void update(Graph &g, Value *p, Value *grad, Value *hyper, Value *t) {
    std::vector<Value *> operands{p, grad}, states;
    for (const std::string &s : opt_.states) {
      std::string name = "opt." + s + "." + p->name();
      Value *v = g.lookup(name);
      if (!v)
        v = g.addParam(name, p->type(), ParamInit::zeros(), false);
      operands.push_back(v);
      states.push_back(v);
    }
    operands.push_back(hyper);
    if (opt_.takesStep)
      operands.push_back(t);
    std::vector<std::string> names{p->name() + "_new"};
    for (size_t i = 0; i < states.size(); ++i)
      names.push_back(states[i]->name() + "_new");
    Node *u = add(g, opt_.op, operands,
                  {{"decay", Attribute(int64_t(p->type().rank() >= 2))}},
                  names);
    add(g, "assign", {p, u->result(0)}, {});
    for (size_t i = 0; i < states.size(); ++i)
      add(g, "assign", {states[i], u->result(i + 1)}, {});
  }

  static Value *gradParam(Graph &g, Value *p) {
    std::string name = "grad." + p->name();
    Value *v = g.lookup(name);
    return v ? v : g.addParam(name, p->type(), ParamInit::zeros(), false);
  }

  /// train_step (apply = true) or forward_backward.
  Expected<std::unique_ptr<Graph>> trainFunction(bool apply) {
    CNNC_ASSIGN_OR_RETURN(std::unique_ptr<Graph> g,
                          clone(apply ? "train_step" : "forward_backward"));
    CNNC_ASSIGN_OR_RETURN(auto ls, addLoss(*g));
    Value *hyper = hyperInput(*g);
    CNNC_RETURN_IF_ERROR(trainingMode(*g, hyper));
    std::vector<Value *> wrt = trainable(*g);
    if (wrt.empty())
      return Status::error("the model has no trainable parameters (all are "
                           "frozen or constants)");
    CNNC_ASSIGN_OR_RETURN(auto grads, buildGradients(*g, ls.first, wrt));
    Value *t = apply ? stepCount(*g, hyper->type().dtype()) : nullptr;
    for (Value *p : wrt) {
      if (apply)
        update(*g, p, grads.at(p), hyper, t);
      else
        add(*g, "assign", {gradParam(*g, p), grads.at(p)}, {});
    }
    g->clearOutputs();
    g->addOutput(ls.first);
    g->addOutput(ls.second);
    return g;
  }

  Expected<std::unique_ptr<Graph>> applyGradients(const Graph &train) {
    auto g = std::make_unique<Graph>("apply_gradients");
    Value *hyper = hyperInput(*g);
    std::vector<std::pair<Value *, Value *>> pairs;
    for (Value *p : trainable(train)) {
      Value *w = g->addParam(p->name(), p->type(), p->init(), true);
      pairs.emplace_back(w, gradParam(*g, w));
    }
    Value *t = stepCount(*g, hyper->type().dtype());
    for (auto [w, grad] : pairs)
      update(*g, w, grad, hyper, t);
    return std::unique_ptr<Graph>(std::move(g));
  }

  Expected<std::unique_ptr<Graph>> evalFunction() {
    CNNC_ASSIGN_OR_RETURN(std::unique_ptr<Graph> g, clone("eval"));
    CNNC_ASSIGN_OR_RETURN(auto ls, addLoss(*g));
    g->clearOutputs();
    g->addOutput(ls.first);
    g->addOutput(ls.second);
    return g;
  }

  Expected<std::unique_ptr<Graph>> inferFunction() { return clone("infer"); }

private:
  static Status needOp(const std::string &op) {
    if (!OpRegistry::get().lookup(op))
      return Status::error("training mode needs the op '" + op +
                           "', which this cnnc lacks");
    return Status::success();
  }

  /// Adds a node with inferred result types.
  Node *add(Graph &g, const std::string &op, std::vector<Value *> operands,
            AttrMap attrs = {}, std::vector<std::string> names = {}) {
    Node *n = g.addNode(op, std::move(operands), std::move(attrs), names);
    auto types = computeNodeShape(*n);
    if (types.ok())
      for (size_t i = 0; i < n->numResults(); ++i)
        n->result(i)->setType((*types)[i]);
    return n;
  }

  Value *scalar(Graph &g, double v, DType t) {
    Tensor c(TensorType(t, {}));
    c.setDouble(0, v);
    return add(g, "constant", {}, {{"value", Attribute(c)}}, {"c"})->result(0);
  }

  const Graph &model_;
  const TrainOptions &opts_;
  const OptimizerInfo &opt_;
};

} // namespace

const std::vector<std::string> &optimizerNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const OptimizerInfo &o : optimizers())
      v.push_back(o.name);
    return v;
  }();
  return names;
}

bool globMatch(const std::string &pattern, const std::string &name) {
  // Iterative matching with backtracking to the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

Status replaceClassifierHead(Graph &g, int64_t classes) {
  if (classes < 2)
    return Status::error("a classifier head needs at least 2 classes, got " +
                         std::to_string(classes));
  if (g.outputs().size() != 1)
    return Status::error("replacing the head needs a model with one output");
  // Walk back from the output through ops that keep the class axis.
  Value *v = g.outputs()[0];
  Node *head = nullptr;
  while (Node *n = v->definingNode()) {
    if (n->op() == "gemm") {
      head = n;
      break;
    }
    const std::string &op = n->op();
    if (op != "softmax" && op != "log_softmax" && op != "identity" &&
        op != "relu" && op != "sigmoid" && op != "dropout" && op != "flatten")
      break;
    v = n->operand(0);
  }
  if (!head)
    return Status::error("no classifier head found: the output is not "
                         "computed by a gemm (fc layer) followed only by "
                         "softmax/identity-like ops");
  Value *w = head->operand(1);
  bool transB = head->attrInt("trans_b") != 0;
  const TensorType &wt = w->type();
  if (!w->isParam() || wt.rank() != 2)
    return Status::error("the head's weight '" + w->name() +
                         "' is not a parameter of rank 2");
  int64_t features = transB ? wt.dim(1) : wt.dim(0);
  std::vector<int64_t> dims = transB ? std::vector<int64_t>{classes, features}
                                     : std::vector<int64_t>{features, classes};
  // addParam reserves the name itself: only an existing one needs a suffix.
  auto fresh = [&](const std::string &n) {
    return g.lookup(n) ? g.uniqueName(n) : n;
  };
  Value *nw = g.addParam(fresh(w->name() + ".new"),
                         TensorType(wt.dtype(), dims), ParamInit::named("he"));
  head->setOperand(1, nw);
  if (head->numOperands() > 2) {
    Value *b = head->operand(2);
    Value *nb = g.addParam(fresh(b->name() + ".new"),
                           TensorType(wt.dtype(), {classes}),
                           ParamInit::zeros());
    head->setOperand(2, nb);
  }
  for (Value *p : std::vector<Value *>(g.params()))
    if (!g.hasUses(p))
      g.eraseValue(p);
  // Re-infer every type downstream (the class count changed).
  for (Node *n : g.nodes()) {
    auto types = computeNodeShape(*n);
    if (!types.ok())
      return Status::error("after replacing the head: " +
                           types.status().message());
    for (size_t i = 0; i < n->numResults(); ++i)
      n->result(i)->setType((*types)[i]);
  }
  return Status::success();
}

Expected<std::vector<std::unique_ptr<Graph>>>
buildTrainingFunctions(const Graph &model, const TrainOptions &opts) {
  const OptimizerInfo *opt = nullptr;
  for (const OptimizerInfo &o : optimizers())
    if (o.name == opts.optimizer)
      opt = &o;
  if (!opt) {
    std::string names;
    for (const std::string &n : optimizerNames())
      names += (names.empty() ? "" : ", ") + n;
    return Status::error("unknown optimizer '" + opts.optimizer + "' (" +
                         names + ")");
  }
  for (const std::string &pat : opts.freeze) {
    bool any = false;
    for (const Value *p : model.params())
      any |= globMatch(pat, p->name());
    if (!any)
      return Status::error("--freeze '" + pat + "' matches no parameter");
  }
  Builder b(model, opts, *opt);
  std::vector<std::unique_ptr<Graph>> fns;
  CNNC_ASSIGN_OR_RETURN(auto infer, b.inferFunction());
  fns.push_back(std::move(infer));
  CNNC_ASSIGN_OR_RETURN(auto eval, b.evalFunction());
  fns.push_back(std::move(eval));
  CNNC_ASSIGN_OR_RETURN(auto train, b.trainFunction(true));
  CNNC_ASSIGN_OR_RETURN(auto fb, b.trainFunction(false));
  CNNC_ASSIGN_OR_RETURN(auto apply, b.applyGradients(*train));
  fns.push_back(std::move(train));
  fns.push_back(std::move(fb));
  fns.push_back(std::move(apply));
  return fns;
}

} // namespace cnnc
