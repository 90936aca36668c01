//===- ir/ops/Assign.cpp - assign: store a value into a parameter ---------===//
//
// The only op that writes state: `assign(%w, %v)` has no result and, when
// its function runs, stores v into the parameter w. The planner
// (codegen/ModelPlan.cpp) places every assign after all other steps of its
// function, so a parameter read anywhere in a function reads the value it
// had when the function started; the runtime performs the copy.
//
//===----------------------------------------------------------------------===//
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

static Status inferAssign(ShapeCtx &c) {
  const Value *target = c.node().operand(0);
  if (!target->isParam())
    return c.error("the target '" + target->name() +
                   "' must be a parameter, not a computed value or an input");
  if (c.input(0) != c.input(1))
    return c.error("value " + c.input(1).str() + " does not match parameter '" +
                   target->name() + "' of type " + c.input(0).str());
  return Status::success();
}

OpDef defineAssign() {
  return OpDef("assign")
      .summary("Stores `value` into the parameter `target` when the function "
               "ends (training updates, running statistics); no result")
      .inputs({"target", "value"})
      .outputs({})
      .inferShape(inferAssign)
      .flops([](const Node &) { return int64_t(0); })
      .impure()
      .nonDifferentiable(0)
      .nonDifferentiable(1)
      .pattern(FusionPattern::Opaque);
}

} // namespace cnnc::ops
