//===- ir/Graph.h - the graph IR: values, nodes, parameters, graphs --------===//
//
// A Graph owns its Values and Nodes. Values are graph inputs, parameters
// (trainable weights or state, with their initial values) or node results.
// Nodes are kept in a topological order; creation ids break ties so that
// printing is deterministic.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Attribute.h"
#include "ir/SourceLoc.h"
#include "ir/Support.h"
#include "ir/Type.h"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cnnc {

class Graph;
class Node;
class OpDef;

/// How a parameter gets its initial value. The kinds and their arguments are
/// defined in ir/ParamInit.cpp:
///   zeros | fill {value} | gaussian {mean, std} | uniform {low, high}
///   | he | xavier | dense (explicit data)
struct ParamInit {
  std::string kind = "zeros";
  AttrMap args;              ///< e.g. {std = 0.01}
  std::optional<Tensor> data; ///< set when kind == "dense"

  static ParamInit zeros() { return ParamInit(); }
  static ParamInit fill(double v);
  static ParamInit gaussian(double stddev, double mean = 0.0);
  static ParamInit dense(Tensor t);
  static ParamInit named(std::string kind) {
    ParamInit p;
    p.kind = std::move(kind);
    return p;
  }
};

/// A tensor-valued SSA value.
class Value {
public:
  enum class Kind { Input, Param, Result };

  Kind kind() const { return kind_; }
  bool isInput() const { return kind_ == Kind::Input; }
  bool isParam() const { return kind_ == Kind::Param; }
  const std::string &name() const { return name_; }
  const TensorType &type() const { return type_; }
  void setType(TensorType t) {
    type_ = std::move(t);
    hasType_ = true;
  }
  /// False for a node result whose type nobody has set yet (a frontend
  /// builds nodes first and runs shape inference after).
  bool hasType() const { return hasType_; }
  /// The node that computes this value; null for inputs and parameters.
  Node *definingNode() const { return def_; }
  /// Which result of definingNode() this is.
  unsigned resultIndex() const { return resultIndex_; }
  SourceLoc loc() const { return loc_; }
  void setLoc(SourceLoc l) { loc_ = l; }

  /// Parameters only: initial value and whether training updates it.
  ParamInit &init() { return init_; }
  const ParamInit &init() const { return init_; }
  bool trainable() const { return trainable_; }
  void setTrainable(bool t) { trainable_ = t; }

private:
  friend class Graph;
  Kind kind_ = Kind::Result;
  std::string name_;
  TensorType type_;
  Node *def_ = nullptr;
  unsigned resultIndex_ = 0;
  SourceLoc loc_;
  bool hasType_ = true;
  ParamInit init_;
  bool trainable_ = true;
};

/// One operation: an OpDef applied to operands, with attributes, producing
/// one or more results.
class Node {
public:
  const OpDef &def() const { return *def_; }
  /// The IR op name (snake_case), e.g. "conv".
  const std::string &op() const;
  unsigned id() const { return id_; }

  size_t numOperands() const { return operands_.size(); }
  Value *operand(size_t i) const { return operands_[i]; }
  const std::vector<Value *> &operands() const { return operands_; }
  void setOperand(size_t i, Value *v) { operands_[i] = v; }

  size_t numResults() const { return results_.size(); }
  Value *result(size_t i = 0) const { return results_[i].get(); }

  const AttrMap &attrs() const { return attrs_; }
  AttrMap &attrs() { return attrs_; }
  bool hasAttr(const std::string &name) const { return attrs_.count(name); }
  /// The attribute \p name, or its schema default. Asserts that one exists
  /// (the verifier guarantees it for every declared attribute).
  const Attribute &attr(const std::string &name) const;
  int64_t attrInt(const std::string &name) const { return attr(name).getInt(); }
  double attrFloat(const std::string &name) const {
    return attr(name).getFloat();
  }
  const std::string &attrString(const std::string &name) const {
    return attr(name).getString();
  }
  const std::vector<int64_t> &attrInts(const std::string &name) const {
    return attr(name).getInts();
  }
  const std::vector<double> &attrFloats(const std::string &name) const {
    return attr(name).getFloats();
  }
  const Tensor &attrTensor(const std::string &name) const {
    return attr(name).getTensor();
  }
  void setAttr(const std::string &name, Attribute a) {
    attrs_[name] = std::move(a);
  }

  SourceLoc loc() const { return loc_; }
  void setLoc(SourceLoc l) { loc_ = l; }
  Graph &graph() const { return *graph_; }

private:
  friend class Graph;
  const OpDef *def_ = nullptr;
  unsigned id_ = 0;
  Graph *graph_ = nullptr;
  std::vector<Value *> operands_;
  std::vector<std::unique_ptr<Value>> results_;
  AttrMap attrs_;
  SourceLoc loc_;
};

/// A graph: inputs, parameters, nodes in topological order, outputs.
class Graph {
public:
  explicit Graph(std::string name = "main") : name_(std::move(name)) {}
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;

  const std::string &name() const { return name_; }
  void setName(std::string n) { name_ = std::move(n); }
  SourceLoc loc() const { return loc_; }
  void setLoc(SourceLoc l) { loc_ = l; }
  /// Graph-level attributes (e.g. loss = "softmax_cross_entropy").
  AttrMap &attrs() { return attrs_; }
  const AttrMap &attrs() const { return attrs_; }

  const std::vector<Value *> &inputs() const { return inputs_; }
  const std::vector<Value *> &params() const { return params_; }
  const std::vector<Value *> &outputs() const { return outputs_; }
  /// Nodes in execution (topological) order.
  std::vector<Node *> nodes() const;
  size_t numNodes() const { return nodes_.size(); }

  /// Adds a graph input. \p name must be unused (see uniqueName).
  Value *addInput(const std::string &name, TensorType type);
  /// Adds a parameter with its initial value.
  Value *addParam(const std::string &name, TensorType type, ParamInit init,
                  bool trainable = true);
  /// Creates a node. Result names are made unique from \p resultNames (or
  /// the op name when empty); result types start unknown-shaped f32 with the
  /// rank left empty, until shape inference fills them. The node goes at the
  /// end, or before \p before when given.
  Node *addNode(const OpDef &def, std::vector<Value *> operands,
                AttrMap attrs = {}, std::vector<std::string> resultNames = {},
                Node *before = nullptr);
  /// Creates a node of the op registered as \p opName (asserts it exists).
  Node *addNode(const std::string &opName, std::vector<Value *> operands,
                AttrMap attrs = {}, std::vector<std::string> resultNames = {},
                Node *before = nullptr);
  void addOutput(Value *v) { outputs_.push_back(v); }
  void setOutput(size_t i, Value *v) { outputs_[i] = v; }
  void clearOutputs() { outputs_.clear(); }

  /// Removes \p n; its results must have no users left.
  void eraseNode(Node *n);
  /// Removes a parameter or input that nothing uses.
  void eraseValue(Value *v);
  /// Makes every use of \p from (operands and graph outputs) use \p to.
  void replaceAllUsesWith(Value *from, Value *to);
  /// Nodes that use \p v as an operand, in order (each node once).
  std::vector<Node *> users(const Value *v) const;
  /// True if a node or a graph output uses \p v.
  bool hasUses(const Value *v) const;

  /// Looks a value up by name (inputs, params and results); null if none.
  Value *lookup(const std::string &name) const;
  /// \p base if unused, else base_1, base_2, ...; the name is reserved.
  std::string uniqueName(const std::string &base);
  /// Renames \p v to a unique name derived from \p base.
  void rename(Value *v, const std::string &base);

  /// Reorders nodes topologically, stable by current position.
  /// Fails if there is a cycle or an operand defined by no node of this graph.
  Status sortTopologically();

private:
  std::string name_;
  SourceLoc loc_;
  AttrMap attrs_;
  std::vector<std::unique_ptr<Value>> ownedValues_; // inputs and params
  std::vector<Value *> inputs_, params_, outputs_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::set<std::string> names_;
  unsigned nextNodeId_ = 0;
};

} // namespace cnnc
