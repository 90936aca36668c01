//===- passes/FoldBatchNorm.cpp - batch norm folded into the conv before it ===//
//
// For inference: y = batch_norm(conv(x, w, b), scale, bias, mean, var) with
// every one of w, b, scale, bias, mean, var a parameter of known value
// (dense, zeros or fill) becomes y = conv(x, w', b') with, per output
// channel m and s[m] = scale[m] / sqrt(var[m] + epsilon),
//   w'[m, ...] = w[m, ...] * s[m]
//   b'[m]      = (b[m] - mean[m]) * s[m] + bias[m]      (b = 0 if absent)
// The conv's result must have no other user. The new parameters are named
// <w>.bn_folded and <b or w>.bn_bias_folded; dce then drops the old ones.
// Not for training graphs: the folded parameters are new values, not the
// trained ones (the compiler runs it only for inference-only models).
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "passes/PassManager.h"

#include <algorithm>
#include <cmath>

namespace cnnc {

/// The initial value of parameter \p v, when the IR knows it.
static std::optional<Tensor> knownValue(const Value *v) {
  if (!v->isParam() || !v->type().isStatic())
    return std::nullopt;
  const ParamInit &init = v->init();
  if (init.kind == "dense" && init.data)
    return *init.data;
  if (init.kind != "zeros" && init.kind != "fill")
    return std::nullopt;
  Tensor t(v->type());
  double fill = 0;
  if (init.kind == "fill") {
    auto it = init.args.find("value");
    if (it == init.args.end() || it->second.kind() != AttrKind::Float)
      return std::nullopt;
    fill = it->second.getFloat();
  }
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.setDouble(i, fill);
  return t;
}

Status runFoldBatchNorm(Graph &g, DiagEngine &, const PassOptions &) {
  for (Node *bn : g.nodes()) {
    if (bn->op() != "batch_norm")
      continue;
    Value *y = bn->operand(0);
    Node *conv = y->definingNode();
    if (!conv || conv->op() != "conv" || g.users(y).size() != 1 ||
        std::find(g.outputs().begin(), g.outputs().end(), y) != g.outputs().end())
      continue;
    std::optional<Tensor> w = knownValue(conv->operand(1));
    std::optional<Tensor> b;
    if (conv->numOperands() > 2 && !(b = knownValue(conv->operand(2))))
      continue;
    std::optional<Tensor> scale = knownValue(bn->operand(1)),
                          bias = knownValue(bn->operand(2)),
                          mean = knownValue(bn->operand(3)),
                          var = knownValue(bn->operand(4));
    if (!w || !scale || !bias || !mean || !var)
      continue;
    int64_t m = w->type().dim(0), per = w->numElements() / std::max<int64_t>(m, 1);
    if (scale->numElements() != m || bias->numElements() != m ||
        mean->numElements() != m || var->numElements() != m ||
        (b && b->numElements() != m))
      continue;
    double eps = bn->attrFloat("epsilon");
    Tensor w2(w->type()), b2(scale->type());
    for (int64_t k = 0; k < m; ++k) {
      double s = scale->getDouble(k) / std::sqrt(var->getDouble(k) + eps);
      for (int64_t i = 0; i < per; ++i)
        w2.setDouble(k * per + i, w->getDouble(k * per + i) * s);
      double bk = b ? b->getDouble(k) : 0.0;
      b2.setDouble(k, (bk - mean->getDouble(k)) * s + bias->getDouble(k));
    }
    const std::string &wn = conv->operand(1)->name();
    Value *wp = g.addParam(wn + ".bn_folded", w->type(),
                           ParamInit::dense(std::move(w2)), false);
    Value *bp = g.addParam(
        (b ? conv->operand(2)->name() : wn) + ".bn_bias_folded",
        scale->type(), ParamInit::dense(std::move(b2)), false);
    Node *folded = g.addNode(conv->def(), {conv->operand(0), wp, bp},
                             conv->attrs(), {bn->result()->name() + ".conv"},
                             bn);
    folded->result()->setType(bn->result()->type());
    g.replaceAllUsesWith(bn->result(), folded->result());
    g.eraseNode(bn);
    g.eraseNode(conv);
  }
  return Status::success();
}

} // namespace cnnc
