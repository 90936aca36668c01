//===- ir/OpDef.h - the definition of an op: every facet in one place ------===//
//
// Each op is defined once, in ir/ops/<Op>.cpp, by a function defineXxx() that
// returns an OpDef built with the fluent setters below; ir/ops/Ops.def lists
// them all. Everything else (parser, printer, verifier, shape inference,
// constant folding, --summary, the ONNX importer, docs/ops.md) reads the
// registry and has no per-op code.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Attribute.h"
#include "ir/Graph.h"
#include "ir/Support.h"
#include "ir/Type.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cnnc {

class LowerCtx; // ir/ops/LowerCtx.h: what an op's Halide lowering sees
class OnnxImportCtx; // frontend/onnx/OnnxImportCtx.h: ONNX node -> IR node
class OnnxExportCtx; // frontend/onnx/OnnxExportCtx.h: IR node -> ONNX node
class GradCtx; // ir/ops/GradCtx.h: what an op's gradient rule sees

/// How an op may be fused (read by the fusion pass; after TVM's TOpPattern).
enum class FusionPattern {
  Elementwise, ///< out[i] = f(in[i]) with identical shapes
  Broadcast,   ///< elementwise with numpy broadcasting
  Injective,   ///< each output element reads one input element (reshape, ...)
  Reduction,   ///< reduces axes (pooling, softmax, ...)
  Complex,     ///< conv, gemm: fusable with elementwise consumers
  Opaque,      ///< never fused
};

/// One declared operand. Optional operands may be left off at the end;
/// a variadic operand (the last one) takes one or more values.
struct OperandSpec {
  std::string name;
  bool optional = false;
  bool variadic = false;
};

/// Annotations the compiler's own passes put on nodes of any op, next to
/// the op's attributes: `fusion_group` (int, the fuse pass: nodes with the
/// same value run as one kernel), `schedule` (string, the schedule
/// pass: the loop schedule of a group's kernel, on its anchor) and
/// `blocked` (int, the block-layout pass: how the result is stored). They are
/// printed and parsed like attributes and accepted by the verifier on
/// every op (OpDef::findAttr finds them), but they are not part of what a
/// node computes: the ONNX exporter leaves them out.
inline constexpr const char *kFusionGroupAttr = "fusion_group";
inline constexpr const char *kScheduleAttr = "schedule";
/// `blocked = L` (int, the block-layout pass): the node's result is stored
/// in blocks of L channels, [N, C/L, H, W, L], not [N, C, H, W].
inline constexpr const char *kBlockedAttr = "blocked";
struct AttrSpec;
const std::vector<AttrSpec> &annotationAttrs();
bool isAnnotationAttr(const std::string &name);

/// One declared attribute, with its kind and its default (none = required).
struct AttrSpec {
  std::string name;
  AttrKind kind;
  std::optional<Attribute> defaultValue;
  std::string doc;
};

/// What shape inference sees of a node: operand types and attributes, and
/// where it writes the result types.
class ShapeCtx {
public:
  explicit ShapeCtx(const Node &node) : node_(node) {
    results_.resize(node.numResults());
  }
  const Node &node() const { return node_; }
  size_t numInputs() const { return node_.numOperands(); }
  const TensorType &input(size_t i) const { return node_.operand(i)->type(); }
  int64_t attrInt(const std::string &n) const { return node_.attrInt(n); }
  double attrFloat(const std::string &n) const { return node_.attrFloat(n); }
  const std::string &attrString(const std::string &n) const {
    return node_.attrString(n);
  }
  const std::vector<int64_t> &attrInts(const std::string &n) const {
    return node_.attrInts(n);
  }
  const std::vector<double> &attrFloats(const std::string &n) const {
    return node_.attrFloats(n);
  }
  const Tensor &attrTensor(const std::string &n) const {
    return node_.attrTensor(n);
  }
  bool hasAttr(const std::string &n) const { return node_.hasAttr(n); }

  void setOutput(size_t i, TensorType t) { results_[i] = std::move(t); }
  const std::vector<TensorType> &outputs() const { return results_; }

  /// An error about this node; the message is prefixed with the op name
  /// ("conv: " + msg) and should give the actual numbers.
  Status error(const std::string &msg) const;

private:
  const Node &node_;
  std::vector<TensorType> results_;
};

/// What constant folding sees: the node (attributes, result types after
/// shape inference) and the operand values; it fills the results.
class FoldCtx {
public:
  FoldCtx(const Node &node, std::vector<Tensor> inputs)
      : node_(node), inputs_(std::move(inputs)) {
    results_.resize(node.numResults());
  }
  const Node &node() const { return node_; }
  size_t numInputs() const { return inputs_.size(); }
  const Tensor &input(size_t i) const { return inputs_[i]; }
  /// A zero tensor of result \p i's (static) type, to be filled.
  Tensor &makeOutput(size_t i) {
    results_[i] = Tensor(node_.result(i)->type());
    return results_[i];
  }
  void setOutput(size_t i, Tensor t) { results_[i] = std::move(t); }
  std::vector<Tensor> &outputs() { return results_; }

private:
  const Node &node_;
  std::vector<Tensor> inputs_;
  std::vector<Tensor> results_;
};

using ShapeFn = std::function<Status(ShapeCtx &)>;
using FoldFn = std::function<Status(FoldCtx &)>;
/// Defines the op's results as Halide Funcs (ir/ops/LowerCtx.h).
using LowerFn = std::function<Status(LowerCtx &)>;
/// Converts an ONNX node's inputs and attributes into this op's operands and
/// attributes where they differ (e.g. Reshape's shape input becomes the
/// `shape` attribute); without one, attributes are copied by name.
using OnnxImportFn = std::function<Status(OnnxImportCtx &)>;
/// Writes the node as ONNX (opset 13) where the IR differs from it (e.g.
/// reshape's `shape` attribute becomes an initializer input); without one,
/// operands and attributes are written as they are.
using OnnxExportFn = std::function<Status(OnnxExportCtx &)>;
/// Builds the backward nodes of one node (reverse mode): reads the gradients
/// of its results and sets those of the operands that need one
/// (ir/ops/GradCtx.h; run by passes/Autodiff.cpp).
using GradFn = std::function<Status(GradCtx &)>;
/// Floating-point operations of one execution of the node (a multiply-add
/// counts 2), from its (inferred) operand and result types.
using FlopsFn = std::function<int64_t(const Node &)>;

/// The definition of one op.
class OpDef {
public:
  explicit OpDef(std::string name) : name_(std::move(name)) {}

  // Fluent setters, used only in ir/ops/*.cpp.
  OpDef &summary(std::string s) { summary_ = std::move(s); return *this; }
  /// Operand names; "b?" marks an optional operand, "xs..." a variadic one.
  OpDef &inputs(std::vector<std::string> names);
  OpDef &outputs(std::vector<std::string> names);
  OpDef &attr(std::string name, AttrKind kind, Attribute defaultValue,
              std::string doc = "");
  OpDef &requiredAttr(std::string name, AttrKind kind, std::string doc = "");
  /// The ONNX op type this op imports from, and the first opset where the
  /// importer supports it. May be given more than once (e.g. MaxPool for
  /// max_pool and GlobalMaxPool for global_max_pool are separate ops).
  OpDef &onnx(std::string opType, int sinceOpset);
  OpDef &inferShape(ShapeFn fn) { shapeFn_ = std::move(fn); return *this; }
  OpDef &fold(FoldFn fn) { foldFn_ = std::move(fn); return *this; }
  OpDef &flops(FlopsFn fn) { flopsFn_ = std::move(fn); return *this; }
  OpDef &pattern(FusionPattern p) { pattern_ = p; return *this; }
  OpDef &lower(LowerFn fn) { lowerFn_ = std::move(fn); return *this; }
  OpDef &onnxImport(OnnxImportFn fn) { onnxImportFn_ = std::move(fn); return *this; }
  OpDef &onnxExport(OnnxExportFn fn) { onnxExportFn_ = std::move(fn); return *this; }
  OpDef &grad(GradFn fn) { gradFn_ = std::move(fn); return *this; }
  /// Operand \p i never carries a gradient (labels, indices, a shape): the
  /// gradient rule is not asked for it and autodiff stops there.
  OpDef &nonDifferentiable(size_t i) { nonDiff_.push_back(i); return *this; }
  /// The fold needs only the operand types, not their values (shape):
  /// FoldCtx::input(i) is then an empty Tensor for non-constant operands.
  OpDef &foldsFromTypes() { foldsFromTypes_ = true; return *this; }
  /// Marks an op with side effects or randomness: never CSE'd or folded.
  OpDef &impure() { pure_ = false; return *this; }
  /// The result may be written over operand \p i's bytes: the memory planner
  /// (codegen/ModelPlan.cpp) does so when operand i is a temporary whose
  /// last use is this node and whose type is the result's exact type.
  /// Declare it only for an op with one result whose lowering reads operand
  /// i at the result's own index and nowhere else (an elementwise rule: no
  /// window, broadcast of that operand, reduction or gather), so that every
  /// element is read before it is overwritten. The default schedule never
  /// recomputes an element of such an op (codegen/HalideLowering.cpp).
  /// Repeatable: the planner takes the first operand that qualifies.
  OpDef &inPlace(size_t i) { inPlace_.push_back(i); return *this; }

  const std::string &name() const { return name_; }
  const std::string &summaryText() const { return summary_; }
  const std::vector<OperandSpec> &operandSpecs() const { return operands_; }
  const std::vector<std::string> &resultNames() const { return results_; }
  const std::vector<AttrSpec> &attrSpecs() const { return attrs_; }
  /// The op's attribute \p name, or an annotation (annotationAttrs()).
  const AttrSpec *findAttr(const std::string &name) const;
  const std::vector<std::pair<std::string, int>> &onnxNames() const {
    return onnx_;
  }
  const ShapeFn &shapeFn() const { return shapeFn_; }
  const FoldFn &foldFn() const { return foldFn_; }
  const FlopsFn &flopsFn() const { return flopsFn_; }
  const LowerFn &lowerFn() const { return lowerFn_; }
  const OnnxImportFn &onnxImportFn() const { return onnxImportFn_; }
  const OnnxExportFn &onnxExportFn() const { return onnxExportFn_; }
  const GradFn &gradFn() const { return gradFn_; }
  bool isDifferentiable(size_t operand) const;
  FusionPattern fusionPattern() const { return pattern_; }
  bool isPure() const { return pure_; }
  /// The operands the result may overwrite (see inPlace()), in order.
  const std::vector<size_t> &inPlaceOperands() const { return inPlace_; }
  bool foldNeedsOnlyTypes() const { return foldsFromTypes_; }

  /// Smallest and largest operand count (max = SIZE_MAX when variadic).
  size_t minOperands() const;
  size_t maxOperands() const;

private:
  std::string name_, summary_;
  std::vector<OperandSpec> operands_;
  std::vector<std::string> results_{"y"};
  std::vector<AttrSpec> attrs_;
  std::vector<std::pair<std::string, int>> onnx_;
  ShapeFn shapeFn_;
  FoldFn foldFn_;
  FlopsFn flopsFn_;
  LowerFn lowerFn_;
  OnnxImportFn onnxImportFn_;
  OnnxExportFn onnxExportFn_;
  GradFn gradFn_;
  std::vector<size_t> nonDiff_;
  std::vector<size_t> inPlace_;
  FusionPattern pattern_ = FusionPattern::Opaque;
  bool pure_ = true;
  bool foldsFromTypes_ = false;
};

/// Every op, built once from ir/ops/Ops.def.
class OpRegistry {
public:
  /// The process-wide registry (built on first use, thread-safe).
  static const OpRegistry &get();
  /// The op named \p name, or null.
  const OpDef *lookup(const std::string &name) const;
  /// The op that imports ONNX \p opType, or null.
  const OpDef *lookupOnnx(const std::string &opType) const;
  /// All ops, sorted by name.
  const std::vector<OpDef> &ops() const { return ops_; }

  /// Adds a definition (used while building; asserts the name is new).
  void add(OpDef def);

private:
  std::vector<OpDef> ops_;
};

/// docs/ops.md: a Markdown table of every op (name, ONNX mapping, operands,
/// attributes with defaults, summary).
std::string opDocsMarkdown();

/// Runs the op's shape rule on \p node (operand types and attributes as they
/// are now) and returns the result types; errors come prefixed with the op
/// name. Does not change the node.
Expected<std::vector<TensorType>> computeNodeShape(const Node &node);

} // namespace cnnc
