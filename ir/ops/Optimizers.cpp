//===- ir/ops/Optimizers.cpp - parameter update rules of the optimizers --===//
//
// One op per optimizer: (w, g, state..., hyper[, t]) -> (w', state'...),
// elementwise. `hyper` is the training function's hyperparameter vector,
// indexed by cnnc_hyper (runtime/cnnc_runtime.h, the one definition of the
// layout). With `decay` = 1 the L2 weight decay term wd * w is added to the
// gradient first. The training builder (passes/Training.cpp) assigns the
// results back to the parameter and its state.
//
//   sgd       w' = w - lr g
//   momentum  v' = mu v - lr g;  w' = w + v'
//   nesterov  v' = mu v - lr g;  w' = w - mu v + (1 + mu) v'
//   adagrad   c' = c + g^2;  w' = w - lr g / (sqrt(c') + eps)
//   rmsprop   c' = rho c + (1 - rho) g^2;  w' = w - lr g / (sqrt(c') + eps)
//   adam      m' = b1 m + (1 - b1) g;  v' = b2 v + (1 - b2) g^2;
//             w' = w - lr (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps)
//   adadelta  a' = rho a + (1 - rho) g^2;
//             d = -sqrt(u + eps) / sqrt(a' + eps) g;  u' = rho u + (1-rho) d^2;
//             w' = w + lr d
// (t is the step number, from 1, as an extra scalar operand of adam.)
//
//===----------------------------------------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"
#include "runtime/cnnc_runtime.h"

namespace cnnc::ops {

namespace {

/// What an update rule sees: the elements of w, g and the state, and the
/// hyperparameters; it returns w' then the new state, in order.
struct UpdateArgs {
  Halide::Expr w, g;
  std::vector<Halide::Expr> state;
  std::function<Halide::Expr(int)> hyper; ///< hyper[cnnc_hyper]
  Halide::Expr t;                         ///< adam: the step number
};
using UpdateRule = std::function<std::vector<Halide::Expr>(const UpdateArgs &)>;

} // namespace

/// The optimizer op \p name with \p states state tensors (named after
/// \p stateNames); adam also takes the step number t.
static OpDef optimizerOp(const std::string &name,
                         std::vector<std::string> stateNames, bool takesStep,
                         UpdateRule rule) {
  size_t states = stateNames.size();
  std::vector<std::string> inputs{"w", "g"}, outputs{"w_new"};
  for (const std::string &s : stateNames) {
    inputs.push_back(s);
    outputs.push_back(s + "_new");
  }
  inputs.push_back("hyper");
  if (takesStep)
    inputs.push_back("t");
  auto shape = [states, takesStep](ShapeCtx &c) -> Status {
    const TensorType &w = c.input(0);
    CNNC_RETURN_IF_ERROR(expectFloat(c, 0));
    for (size_t i = 1; i < 2 + states; ++i)
      if (c.input(i) != w)
        return c.error(operandName(c, i) + " " + c.input(i).str() +
                       " must have the type of w " + w.str());
    const TensorType &h = c.input(2 + states);
    if (h.rank() != 1 || h.dim(0) < CNNC_HP_COUNT || h.dtype() != w.dtype())
      return c.error("hyper must be a vector of " +
                     std::to_string(CNNC_HP_COUNT) + " " +
                     dtypeName(w.dtype()) + ", got " + h.str());
    if (takesStep) {
      const TensorType &t = c.input(3 + states);
      if (t.rank() != 0 || t.dtype() != w.dtype())
        return c.error("t must be a scalar " + std::string(dtypeName(w.dtype())) +
                       ", got " + t.str());
    }
    for (size_t i = 0; i <= states; ++i)
      c.setOutput(i, w);
    return Status::success();
  };
  auto lower = [states, takesStep, rule](LowerCtx &c) -> Status {
    Halide::Type ty = LowerCtx::halideType(c.inType(0).dtype());
    Index at = outIndex(c);
    UpdateArgs a;
    a.w = c.in(0, at);
    a.g = c.in(1, at);
    for (size_t i = 0; i < states; ++i)
      a.state.push_back(c.in(2 + i, at));
    size_t h = 2 + states;
    a.hyper = [&c, h](int i) { return c.in(h, {Halide::Expr(i)}); };
    if (takesStep)
      a.t = c.in(3 + states, {});
    if (c.node().attrInt("decay"))
      a.g = a.g + a.hyper(CNNC_HP_WEIGHT_DECAY) * a.w;
    std::vector<Halide::Expr> out = rule(a);
    for (size_t i = 0; i < out.size(); ++i)
      c.define(i, Halide::cast(ty, out[i]));
    return Status::success();
  };
  std::vector<size_t> hyperOperands{2 + states};
  if (takesStep)
    hyperOperands.push_back(3 + states);
  OpDef def(name);
  def.inputs(inputs)
      .outputs(outputs)
      .attr("decay", AttrKind::Int, int64_t(0),
            "1: add the L2 weight decay term hyper[weight_decay] * w to g")
      .inferShape(shape)
      .lower(lower)
      .flops([states](const Node &n) {
        const TensorType &w = n.operand(0)->type();
        return w.isStatic() ? int64_t(4 + 4 * states) * w.numElements() : 0;
      })
      .pattern(FusionPattern::Elementwise);
  for (size_t i = 0; i < inputs.size(); ++i)
    def.nonDifferentiable(i);
  // With one result (sgd), w_new may take the gradient's bytes; with state
  // results, a later result still reads g after the first is written.
  if (states == 0)
    def.inPlace(1);
  return def;
}

static Halide::Expr one(const Halide::Expr &like) {
  return Halide::Internal::make_one(like.type());
}

OpDef defineSgdUpdate() {
  return optimizerOp("sgd_update", {}, false, [](const UpdateArgs &a) {
           return std::vector<Halide::Expr>{a.w - a.hyper(CNNC_HP_LR) * a.g};
         })
      .summary("SGD step: w' = w - lr g");
}

OpDef defineMomentumUpdate() {
  return optimizerOp("momentum_update", {"v"}, false,
                     [](const UpdateArgs &a) {
                       Halide::Expr mu = a.hyper(CNNC_HP_MOMENTUM);
                       Halide::Expr v = mu * a.state[0] -
                                        a.hyper(CNNC_HP_LR) * a.g;
                       return std::vector<Halide::Expr>{a.w + v, v};
                     })
      .summary("Momentum step: v' = mu v - lr g; w' = w + v'");
}

OpDef defineNesterovUpdate() {
  return optimizerOp("nesterov_update", {"v"}, false,
                     [](const UpdateArgs &a) {
                       Halide::Expr mu = a.hyper(CNNC_HP_MOMENTUM);
                       Halide::Expr v = mu * a.state[0] -
                                        a.hyper(CNNC_HP_LR) * a.g;
                       return std::vector<Halide::Expr>{
                           a.w - mu * a.state[0] + (one(mu) + mu) * v, v};
                     })
      .summary("Nesterov momentum step: v' = mu v - lr g; "
               "w' = w - mu v + (1 + mu) v'");
}

OpDef defineAdagradUpdate() {
  return optimizerOp("adagrad_update", {"cache"}, false,
                     [](const UpdateArgs &a) {
                       Halide::Expr c = a.state[0] + a.g * a.g;
                       return std::vector<Halide::Expr>{
                           a.w - a.hyper(CNNC_HP_LR) * a.g /
                                     (Halide::sqrt(c) + a.hyper(CNNC_HP_EPS)),
                           c};
                     })
      .summary("Adagrad step: c' = c + g^2; w' = w - lr g / (sqrt(c') + eps)");
}

OpDef defineRmspropUpdate() {
  return optimizerOp("rmsprop_update", {"cache"}, false,
                     [](const UpdateArgs &a) {
                       Halide::Expr rho = a.hyper(CNNC_HP_BETA2);
                       Halide::Expr c =
                           rho * a.state[0] + (one(rho) - rho) * a.g * a.g;
                       return std::vector<Halide::Expr>{
                           a.w - a.hyper(CNNC_HP_LR) * a.g /
                                     (Halide::sqrt(c) + a.hyper(CNNC_HP_EPS)),
                           c};
                     })
      .summary("RMSProp step: c' = rho c + (1 - rho) g^2; "
               "w' = w - lr g / (sqrt(c') + eps)");
}

OpDef defineAdamUpdate() {
  return optimizerOp("adam_update", {"m", "v"}, true,
                     [](const UpdateArgs &a) {
                       Halide::Expr b1 = a.hyper(CNNC_HP_MOMENTUM);
                       Halide::Expr b2 = a.hyper(CNNC_HP_BETA2);
                       Halide::Expr m = b1 * a.state[0] + (one(b1) - b1) * a.g;
                       Halide::Expr v =
                           b2 * a.state[1] + (one(b2) - b2) * a.g * a.g;
                       Halide::Expr mHat = m / (one(b1) - Halide::pow(b1, a.t));
                       Halide::Expr vHat = v / (one(b2) - Halide::pow(b2, a.t));
                       return std::vector<Halide::Expr>{
                           a.w - a.hyper(CNNC_HP_LR) * mHat /
                                     (Halide::sqrt(vHat) + a.hyper(CNNC_HP_EPS)),
                           m, v};
                     })
      .summary("Adam step with bias correction at step t (from 1)");
}

OpDef defineAdadeltaUpdate() {
  return optimizerOp("adadelta_update", {"acc_g", "acc_d"}, false,
                     [](const UpdateArgs &a) {
                       Halide::Expr rho = a.hyper(CNNC_HP_BETA2);
                       Halide::Expr eps = a.hyper(CNNC_HP_EPS);
                       Halide::Expr ag =
                           rho * a.state[0] + (one(rho) - rho) * a.g * a.g;
                       Halide::Expr d = -Halide::sqrt(a.state[1] + eps) /
                                        Halide::sqrt(ag + eps) * a.g;
                       Halide::Expr ad =
                           rho * a.state[1] + (one(rho) - rho) * d * d;
                       return std::vector<Halide::Expr>{
                           a.w + a.hyper(CNNC_HP_LR) * d, ag, ad};
                     })
      .summary("Adadelta step (Zeiler 2012), scaled by lr (1 for the paper's)");
}

} // namespace cnnc::ops
