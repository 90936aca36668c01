//===- ir/ops/GradCtx.h - what an op's gradient rule sees ------------------===//
//
// An op's `.grad(...)` rule builds, in ordinary IR, the gradients of the
// node's operands from the gradients of its results (reverse mode). The
// rule emits nodes through this context (their shapes are inferred at once)
// and hands each operand gradient to addGrad, which sums the contributions
// of every use of a value and reduces broadcast gradients back to the
// operand's shape. Implemented by passes/Autodiff.cpp.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <string>
#include <vector>

namespace cnnc {

class GradCtx {
public:
  virtual ~GradCtx() = default;

  /// The forward node being differentiated.
  virtual const Node &node() const = 0;
  Value *x(size_t i) const { return node().operand(i); }
  Value *y(size_t i = 0) const { return node().result(i); }

  /// The gradient of result \p i, or null when no gradient reaches it (the
  /// rule treats it as zero).
  virtual Value *dy(size_t i = 0) = 0;
  /// True if operand \p i needs a gradient (it depends on a value being
  /// differentiated); the rule may skip the work for the others.
  virtual bool needs(size_t i) const = 0;

  /// Appends a node of op \p op; its result types are inferred at once (a
  /// failure is reported by the autodiff pass after the rule returns).
  virtual Node *emitNode(const std::string &op, std::vector<Value *> operands,
                         AttrMap attrs = {}, size_t numResults = 0) = 0;
  /// emitNode(...)->result(0).
  Value *emit(const std::string &op, std::vector<Value *> operands,
              AttrMap attrs = {}) {
    return emitNode(op, std::move(operands), std::move(attrs))->result(0);
  }
  /// A scalar constant of dtype \p t (broadcasts in add/mul/...).
  virtual Value *scalar(double v, DType t) = 0;
  /// Adds \p g to the gradient of operand \p i. \p g may have the
  /// broadcast shape of a broadcasting op: it is summed back to the
  /// operand's shape.
  virtual void addGrad(size_t i, Value *g) = 0;

  /// "op: gradient: msg", for rules that cannot handle an attribute value.
  Status error(const std::string &msg) const {
    return Status::error(node().op() + ": gradient: " + msg);
  }
};

} // namespace cnnc
