//===- frontend/onnx/OnnxImporter.cpp - ONNX model -> graph IR ------------===//
//
// One generic path for every op: look the op type up in the registry, copy
// attributes (camelCase -> snake_case) and inputs, let the op's
// `.onnxImport` hook adjust them, check them against the op's schema,
// create the node, infer its shape and fold it if its operands are
// constant. Errors are reported at a label naming the ONNX node, and the
// node's outputs are "poisoned" so that its dependents are skipped quietly.
//
//===----------------------------------------------------------------------===//
#include "frontend/onnx/OnnxImporter.h"

#include "frontend/onnx/OnnxImportCtx.h"
#include "frontend/onnx/OnnxProto.h"
#include "ir/OpDef.h"
#include "ir/Verifier.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace cnnc {

using namespace onnxproto;

/// Folding at import time makes constants of shape arithmetic; a result
/// larger than this stays a node (and is not allocated).
static constexpr int64_t kMaxFoldElements = int64_t(1) << 22;

static bool isDefaultDomain(const std::string &domain) {
  return domain.empty() || domain == "ai.onnx";
}

/// The double nearest the shortest decimal that reads back as \p f, so
/// that an ONNX float attribute 1e-5f is the IR's 1e-05, not
/// 9.99999974737875e-06.
static double floatAttrToDouble(float f) {
  if (!std::isfinite(f))
    return double(f);
  return std::strtod(formatFloat(f).c_str(), nullptr);
}

/// The number of elements of \p t, or -1 if unknown or absurdly large.
static int64_t boundedElements(const TensorType &t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || d > kMaxFoldElements)
      return -1;
    n *= d; // both factors are at most 2^22: no overflow
    if (n > kMaxFoldElements)
      return -1;
  }
  return n;
}

/// True if \p t has more than 2^40 elements (known dims only): no model
/// computes such a tensor, and its sizes would overflow int64 in FLOP
/// counts. A corrupt file's dims are caught here.
static bool isAbsurdlyLarge(const TensorType &t) {
  constexpr int64_t kMax = int64_t(1) << 40;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d <= 0)
      continue;
    if (d > kMax || n > kMax / d)
      return true;
    n *= d;
  }
  return false;
}

/// "node 'conv1' (Conv, opset 13)", or "node #3 (...)" when unnamed.
static std::string nodeLabel(const onnx::NodeProto &np, int index,
                             int opset) {
  std::string who = np.name().empty() ? "#" + std::to_string(index)
                                      : "'" + np.name() + "'";
  return "node " + who + " (" + np.op_type() + ", opset " +
         std::to_string(opset) + ")";
}

namespace {

/// An initializer: its data (or why it cannot be read) and, once a node
/// uses it as a value, the parameter or constant that holds it.
struct Initializer {
  std::optional<Tensor> tensor;
  Status error;
  Value *value = nullptr;
  bool reported = false;
};

class Importer;

/// The OnnxImportCtx of one ONNX node.
class NodeCtx final : public OnnxImportCtx {
public:
  NodeCtx(Importer &imp, const onnx::NodeProto &np, const OpDef &def,
          SourceLoc loc)
      : imp_(imp), np_(np), def_(def), loc_(loc) {}

  const std::string &opType() const override { return np_.op_type(); }
  int opset() const override;
  size_t numInputs() const override { return size_t(np_.input_size()); }
  bool hasInput(size_t i) const override {
    return i < numInputs() && !np_.input(int(i)).empty();
  }
  std::string inputName(size_t i) const override {
    return i < numInputs() ? np_.input(int(i)) : std::string();
  }
  Expected<Value *> input(size_t i) override;
  Expected<Tensor> constantInput(size_t i) override;
  size_t numOutputs() const override { return size_t(np_.output_size()); }
  bool outputUsed(size_t i) const override;
  AttrMap &attrs() override { return attrs_; }
  void setOperands(std::vector<Value *> operands) override {
    operands_ = std::move(operands);
  }
  Expected<Value *> addNode(const std::string &op,
                            std::vector<Value *> operands,
                            AttrMap attrs) override;
  Expected<DType> dtypeFromOnnx(int64_t t) const override {
    std::optional<DType> d = onnxproto::dtypeFromOnnx(int32_t(t));
    if (!d || t != int64_t(int32_t(t)))
      return Status::error("unsupported dtype " + onnxDTypeName(int32_t(t)));
    return *d;
  }
  void setOutput(size_t i, Value *v) override {
    if (outputs_.size() <= i)
      outputs_.resize(i + 1, nullptr);
    outputs_[i] = v;
  }

  /// Converts the ONNX attributes into attrs_; reports each failure.
  bool convertAttributes();
  /// Runs the generic path after the hook: operands, schema checks, the
  /// node. Returns false after reporting an error.
  bool build();

private:
  void error(const std::string &msg);
  /// The ONNX spelling of IR attribute \p name, for messages.
  std::string onnxAttrName(const std::string &name) const {
    auto it = onnxNames_.find(name);
    return it == onnxNames_.end() ? name : it->second;
  }
  Expected<Attribute> convertAttribute(const onnx::AttributeProto &a);
  bool mapHookOutputs();
  bool checkSchema(const std::vector<Value *> &operands);

  Importer &imp_;
  const onnx::NodeProto &np_;
  const OpDef &def_;
  SourceLoc loc_;
  AttrMap attrs_;
  std::map<std::string, std::string> onnxNames_;
  std::optional<std::vector<Value *>> operands_;
  std::vector<Value *> outputs_;
  std::set<const Node *> created_;
};

class Importer {
public:
  Importer(onnx::ModelProto &model, uint32_t buffer, std::string baseDir,
           const OnnxImportOptions &options, SourceMgr &sm, DiagEngine &diag)
      : model_(model), buffer_(buffer), baseDir_(std::move(baseDir)),
        options_(options), sm_(sm), diag_(diag) {}

  Expected<std::unique_ptr<Graph>> run();

private:
  friend class NodeCtx;

  SourceLoc fileLoc() const { return SourceLoc{buffer_, 0, 0}; }
  void error(SourceLoc loc, const std::string &msg) {
    diag_.error(loc, msg);
    failed_ = true;
  }
  bool readOpset();
  void readInitializers();
  void readInputs();
  void countUses();
  void importNode(int index);
  void readOutputs();
  void removeDeadConstants();
  void poison(const onnx::NodeProto &np) {
    for (const std::string &o : np.output())
      if (!o.empty())
        poisoned_.insert(o);
    failed_ = true;
  }

  /// True if \p name is a graph input, an initializer or a value defined so far.
  bool isDefined(const std::string &name) const {
    return values_.count(name) || inits_.count(name);
  }
  /// The data of initializer \p name; reports its error once (the Status
  /// then has an empty message: already reported).
  Expected<Tensor> initializerTensor(const std::string &name);
  /// The IR value of ONNX value \p name (materializing an initializer).
  Expected<Value *> valueOf(const std::string &name);
  /// Infers \p n's result types and folds it when its operands are
  /// constant. Returns its results (constants after folding); on error the
  /// node is erased.
  Expected<std::vector<Value *>> finalize(Node *n);
  /// The hint appended to "not a constant" errors when inputs have
  /// unknown dims.
  std::string unknownDimsHint() const;

  onnx::ModelProto &model_;
  uint32_t buffer_;
  std::string baseDir_;
  const OnnxImportOptions &options_;
  SourceMgr &sm_;
  DiagEngine &diag_;

  std::unique_ptr<Graph> g_;
  int opset_ = 0;
  bool failed_ = false;
  std::vector<std::string> dynamicInputs_;
  std::unordered_map<std::string, Value *> values_;
  std::unordered_map<std::string, Initializer> inits_;
  std::unordered_set<std::string> poisoned_;
  std::unordered_map<std::string, int> uses_;
};

} // namespace

//===----------------------------------------------------------------------===//
// NodeCtx
//===----------------------------------------------------------------------===//

int NodeCtx::opset() const { return imp_.opset_; }

void NodeCtx::error(const std::string &msg) { imp_.error(loc_, msg); }

Expected<Value *> NodeCtx::input(size_t i) {
  if (!hasInput(i))
    return Status::error("input " + std::to_string(i) + " is not given");
  return imp_.valueOf(np_.input(int(i)));
}

Expected<Tensor> NodeCtx::constantInput(size_t i) {
  if (!hasInput(i))
    return Status::error("input " + std::to_string(i) + " is not given");
  const std::string &name = np_.input(int(i));
  if (imp_.inits_.count(name))
    return imp_.initializerTensor(name);
  auto it = imp_.values_.find(name);
  if (it != imp_.values_.end()) {
    const Node *def = it->second->definingNode();
    if (def && def->op() == "constant")
      return def->attrTensor("value");
  }
  return Status::error("input " + std::to_string(i) + " ('" + name +
                       "') must be a constant: an initializer, a Constant "
                       "node, or computed from them and static shapes" +
                       imp_.unknownDimsHint());
}

bool NodeCtx::outputUsed(size_t i) const {
  if (i >= numOutputs() || np_.output(int(i)).empty())
    return false;
  auto it = imp_.uses_.find(np_.output(int(i)));
  return it != imp_.uses_.end() && it->second > 0;
}

Expected<Value *> NodeCtx::addNode(const std::string &op,
                                   std::vector<Value *> operands,
                                   AttrMap attrs) {
  const OpDef *def = OpRegistry::get().lookup(op);
  assert(def && "ONNX import hook adds an unknown op");
  std::string base;
  for (const std::string &o : np_.output())
    if (!o.empty()) {
      base = o + "." + op;
      break;
    }
  Node *n = imp_.g_->addNode(*def, std::move(operands), std::move(attrs),
                             {base.empty() ? op : base});
  n->setLoc(loc_);
  CNNC_ASSIGN_OR_RETURN(std::vector<Value *> results, imp_.finalize(n));
  for (Value *r : results)
    if (r->definingNode())
      created_.insert(r->definingNode());
  return results[0];
}

Expected<Attribute> NodeCtx::convertAttribute(const onnx::AttributeProto &a) {
  using AP = onnx::AttributeProto;
  if (!a.ref_attr_name().empty())
    return Status::error("attribute '" + a.name() +
                         "' refers to a function attribute: unsupported");
  int type = a.type();
  if (type == AP::UNDEFINED) {
    // Before IR version 3 the type was implied by the field that is set.
    type = a.has_f()           ? AP::FLOAT
           : a.has_i()         ? AP::INT
           : a.has_s()         ? AP::STRING
           : a.has_t()         ? AP::TENSOR
           : a.floats_size()   ? AP::FLOATS
           : a.strings_size()  ? AP::STRINGS
           : a.has_g()         ? AP::GRAPH
                               : AP::INTS;
  }
  switch (type) {
  case AP::INT:
    return Attribute(int64_t(a.i()));
  case AP::FLOAT:
    return Attribute(floatAttrToDouble(a.f()));
  case AP::STRING:
    return Attribute(a.s());
  case AP::INTS:
    return Attribute(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
  case AP::FLOATS: {
    std::vector<double> v;
    for (float f : a.floats())
      v.push_back(floatAttrToDouble(f));
    return Attribute(std::move(v));
  }
  case AP::TENSOR: {
    auto t = tensorFromProto(a.t(), imp_.baseDir_);
    if (!t.ok())
      return Status::error("attribute '" + a.name() +
                           "': " + t.status().message());
    return Attribute(*t);
  }
  default:
    break;
  }
  std::string kind = AP::AttributeType_IsValid(type)
                         ? AP::AttributeType_Name(AP::AttributeType(type))
                         : std::to_string(type);
  return Status::error("unsupported attribute '" + a.name() + "' of type " +
                       kind);
}

bool NodeCtx::convertAttributes() {
  bool ok = true;
  for (const onnx::AttributeProto &a : np_.attribute()) {
    auto v = convertAttribute(a);
    if (!v.ok()) {
      error(v.status().message());
      ok = false;
      continue;
    }
    std::string name = camelToSnake(a.name());
    onnxNames_[name] = a.name();
    attrs_[name] = std::move(*v);
  }
  return ok;
}

/// Maps the outputs a hook set; a used output it left unset is an error.
bool NodeCtx::mapHookOutputs() {
  bool ok = true;
  for (size_t i = 0; i < numOutputs(); ++i) {
    const std::string &name = np_.output(int(i));
    Value *v = i < outputs_.size() ? outputs_[i] : nullptr;
    if (name.empty())
      continue;
    if (!v) {
      if (outputUsed(i)) {
        error("output " + std::to_string(i) + " ('" + name +
              "') is not supported");
        ok = false;
      }
      imp_.poisoned_.insert(name);
      continue;
    }
    if (v->definingNode() && created_.count(v->definingNode()))
      imp_.g_->rename(v, name);
    imp_.values_[name] = v;
  }
  return ok;
}

bool NodeCtx::checkSchema(const std::vector<Value *> &operands) {
  bool ok = true;
  size_t lo = def_.minOperands(), hi = def_.maxOperands();
  if (operands.size() < lo || operands.size() > hi) {
    std::string range = hi == SIZE_MAX    ? std::to_string(lo) + " or more"
                        : lo == hi        ? std::to_string(lo)
                                          : std::to_string(lo) + " to " +
                                         std::to_string(hi);
    error("has " + countNoun(operands.size(), "input") + "; " +
          def_.name() + " takes " + range);
    ok = false;
  }
  for (auto &[name, value] : attrs_) {
    const AttrSpec *spec = def_.findAttr(name);
    if (!spec) {
      error("unsupported attribute '" + onnxAttrName(name) + "'");
      ok = false;
      continue;
    }
    if (!value.coerceTo(spec->kind)) {
      error("attribute '" + onnxAttrName(name) + "' must be " +
            (attrKindName(spec->kind)[0] == 'i' ? "an " : "a ") +
            attrKindName(spec->kind) + ", got " + attrKindName(value.kind()));
      ok = false;
    }
  }
  for (const AttrSpec &spec : def_.attrSpecs())
    if (!spec.defaultValue && !attrs_.count(spec.name)) {
      error("missing attribute '" + spec.name + "'");
      ok = false;
    }
  // Outputs past the IR op's results (Dropout's mask, MaxPool's Indices,
  // BatchNormalization's training statistics) may only be unused.
  for (size_t i = def_.resultNames().size(); i < numOutputs(); ++i)
    if (outputUsed(i)) {
      error("output " + std::to_string(i) + " ('" + np_.output(int(i)) +
            "') is not supported");
      ok = false;
    }
  return ok;
}

bool NodeCtx::build() {
  if (!outputs_.empty())
    return mapHookOutputs();

  std::vector<Value *> operands;
  if (operands_) {
    operands = *operands_;
  } else {
    size_t n = numInputs();
    while (n > 0 && np_.input(int(n - 1)).empty())
      --n; // trailing optional inputs left out
    for (size_t i = 0; i < n; ++i) {
      if (!hasInput(i)) {
        error("input " + std::to_string(i) +
              " is left out but a later input is given: unsupported");
        return false;
      }
      auto v = input(i);
      if (!v.ok()) {
        if (!v.status().message().empty())
          error(v.status().message());
        return false;
      }
      operands.push_back(*v);
    }
  }
  if (!checkSchema(operands))
    return false;

  std::vector<std::string> names;
  size_t numResults = def_.resultNames().size();
  for (size_t i = 0; i < numResults; ++i)
    names.push_back(i < numOutputs() ? np_.output(int(i)) : std::string());
  Node *n = imp_.g_->addNode(def_, operands, attrs_, names);
  n->setLoc(loc_);
  auto results = imp_.finalize(n);
  if (!results.ok()) {
    error(results.status().message());
    return false;
  }
  for (size_t i = 0; i < numResults && i < numOutputs(); ++i)
    if (!np_.output(int(i)).empty())
      imp_.values_[np_.output(int(i))] = (*results)[i];
  for (size_t i = numResults; i < numOutputs(); ++i)
    if (!np_.output(int(i)).empty())
      imp_.poisoned_.insert(np_.output(int(i))); // unused, checked above
  return true;
}

//===----------------------------------------------------------------------===//
// Importer
//===----------------------------------------------------------------------===//

std::string Importer::unknownDimsHint() const {
  if (dynamicInputs_.empty())
    return "";
  std::string names;
  for (const std::string &n : dynamicInputs_)
    names += (names.empty() ? "'" : ", '") + n + "'";
  return " (input " + names +
         " has unknown dims; fix them with --batch or --shape)";
}

Expected<Tensor> Importer::initializerTensor(const std::string &name) {
  Initializer &init = inits_.at(name);
  if (init.tensor)
    return *init.tensor;
  if (!init.reported) {
    error(sm_.addLabel(buffer_, "initializer '" + name + "'"),
          init.error.message());
    init.reported = true;
  }
  return Status::error("");
}

Expected<Value *> Importer::valueOf(const std::string &name) {
  auto it = values_.find(name);
  if (it != values_.end())
    return it->second;
  auto init = inits_.find(name);
  assert(init != inits_.end() && "valueOf an undefined name");
  if (init->second.value)
    return init->second.value;
  CNNC_ASSIGN_OR_RETURN(Tensor t, initializerTensor(name));
  Value *v;
  if (isFloat(t.dtype())) {
    // Weights: trainable parameters that start from the model's values.
    v = g_->addParam(name, t.type(), ParamInit::dense(t));
  } else {
    // Indices and shapes are not trained; as constants they also fold.
    Node *c = g_->addNode("constant", {}, {{"value", Attribute(t)}}, {name});
    c->result(0)->setType(t.type());
    v = c->result(0);
  }
  v->setLoc(sm_.addLabel(buffer_, "initializer '" + name + "'"));
  init->second.value = v;
  return v;
}

/// The value of \p v if a `constant` node defines it.
static const Tensor *constantValue(const Value *v) {
  const Node *def = v->definingNode();
  if (!def || def->op() != "constant")
    return nullptr;
  return &def->attrTensor("value");
}

Expected<std::vector<Value *>> Importer::finalize(Node *n) {
  auto types = computeNodeShape(*n);
  if (!types.ok()) {
    g_->eraseNode(n);
    return types.status();
  }
  for (const TensorType &t : *types)
    if (isAbsurdlyLarge(t)) {
      std::string op = n->op();
      g_->eraseNode(n);
      return Status::error(op + ": result " + t.str() +
                           " has more than 2^40 elements");
    }
  std::vector<Value *> results;
  for (size_t i = 0; i < n->numResults(); ++i) {
    n->result(i)->setType((*types)[i]);
    results.push_back(n->result(i));
  }

  const OpDef &def = n->def();
  bool foldable = def.foldFn() && def.isPure() && n->op() != "constant";
  for (size_t i = 0; foldable && i < n->numResults(); ++i)
    foldable = boundedElements(n->result(i)->type()) >= 0;
  std::vector<Tensor> inputs;
  for (size_t i = 0; foldable && i < n->numOperands(); ++i) {
    const Tensor *c = constantValue(n->operand(i));
    foldable = c || (def.foldNeedsOnlyTypes() &&
                     n->operand(i)->type().isStatic());
    inputs.push_back(c ? *c : Tensor());
  }
  if (!foldable)
    return results;

  FoldCtx ctx(*n, std::move(inputs));
  Status s = def.foldFn()(ctx);
  if (!s.ok()) {
    std::string op = n->op();
    g_->eraseNode(n);
    return Status::error(op + ": " + s.message());
  }
  std::vector<std::string> names;
  for (Value *r : results) {
    const Tensor &t = ctx.outputs()[r->resultIndex()];
    if (t.empty() || t.type() != r->type()) {
      assert(false && "fold produced a result of the wrong type");
      return results; // keep the node rather than a wrong constant
    }
    names.push_back(r->name());
  }
  SourceLoc loc = n->loc();
  g_->eraseNode(n);
  results.clear();
  for (size_t i = 0; i < names.size(); ++i) {
    const Tensor &t = ctx.outputs()[i];
    Node *c = g_->addNode("constant", {}, {{"value", Attribute(t)}},
                          {names[i]});
    c->setLoc(loc);
    c->result(0)->setType(t.type());
    results.push_back(c->result(0));
  }
  return results;
}

bool Importer::readOpset() {
  bool found = false;
  for (const onnx::OperatorSetIdProto &o : model_.opset_import())
    if (isDefaultDomain(o.domain())) {
      opset_ = int(std::min<int64_t>(o.version(), INT_MAX));
      found = true;
    }
  if (!found) {
    if (model_.opset_import_size() == 0 && model_.ir_version() < 3) {
      opset_ = 1; // IR version 1 and 2 models predate opset_import
      return true;
    }
    error(fileLoc(), "the model imports no opset of the default ONNX domain");
    return false;
  }
  if (opset_ < kMinOnnxOpset || opset_ > kMaxOnnxOpset) {
    error(fileLoc(), "unsupported opset " + std::to_string(opset_) +
                         " (supported: " + std::to_string(kMinOnnxOpset) +
                         " to " + std::to_string(kMaxOnnxOpset) + ")");
    return false;
  }
  return true;
}

void Importer::readInitializers() {
  auto *graph = model_.mutable_graph();
  for (onnx::TensorProto &t : *graph->mutable_initializer()) {
    Initializer init;
    auto v = tensorFromProto(t, baseDir_);
    if (v.ok())
      init.tensor = std::move(*v);
    else
      init.error = v.status();
    inits_[t.name()] = std::move(init);
    // The data lives in the Tensor now; free the protobuf copy (clear()
    // would keep the capacity), so that peak memory stays near the model's
    // size rather than twice it.
    std::string().swap(*t.mutable_raw_data());
    google::protobuf::RepeatedField<float>().Swap(t.mutable_float_data());
  }
  if (graph->sparse_initializer_size() > 0)
    error(fileLoc(), "sparse initializers are not supported");
}

void Importer::readInputs() {
  std::set<std::string> inputNames;
  for (const onnx::ValueInfoProto &in : model_.graph().input()) {
    const std::string &name = in.name();
    if (inits_.count(name))
      continue; // an initializer listed as input (IR version < 4): a param
    inputNames.insert(name);
    SourceLoc loc = sm_.addLabel(buffer_, "input '" + name + "'");
    auto fail = [&](const std::string &msg) {
      error(loc, msg);
      poisoned_.insert(name);
    };
    if (!in.type().has_tensor_type()) {
      fail("unsupported input type (not a tensor)");
      continue;
    }
    const onnx::TypeProto::Tensor &tt = in.type().tensor_type();
    std::optional<DType> dt = dtypeFromOnnx(tt.elem_type());
    if (!dt) {
      fail("unsupported dtype " + onnxDTypeName(tt.elem_type()));
      continue;
    }
    auto given = options_.shapes.find(name);
    std::vector<int64_t> dims;
    bool bad = false;
    if (tt.has_shape()) {
      for (const auto &d : tt.shape().dim()) {
        if (d.has_dim_value() && d.dim_value() < 0) {
          fail("negative dimension " + std::to_string(d.dim_value()));
          bad = true;
          break;
        }
        dims.push_back(d.has_dim_value() ? d.dim_value() : kDynamic);
      }
    }
    if (bad)
      continue;
    if (given != options_.shapes.end()) {
      if (tt.has_shape() && given->second.size() != dims.size()) {
        fail("--shape gives " + std::to_string(given->second.size()) +
             " dims but the input has rank " + std::to_string(dims.size()));
        continue;
      }
      dims = given->second;
    } else if (!tt.has_shape()) {
      fail("the model gives no shape: set it with --shape " + name +
           "=<dims, e.g. 1x3x224x224>");
      continue;
    }
    if (options_.batch && !dims.empty()) {
      if (dims[0] == kDynamic)
        dims[0] = *options_.batch;
      else if (dims[0] != *options_.batch && given == options_.shapes.end())
        diag_.warning(loc, "dimension 0 is fixed at " +
                               std::to_string(dims[0]) + "; --batch " +
                               std::to_string(*options_.batch) +
                               " does not change it (--shape does)");
    }
    TensorType type(*dt, dims);
    if (isAbsurdlyLarge(type)) {
      fail("shape " + type.str() + " has more than 2^40 elements");
      continue;
    }
    auto bound = options_.inputValues.find(name);
    if (bound != options_.inputValues.end()) {
      if (!type.isCompatibleWith(bound->second.type())) {
        fail("the value bound to it is " + bound->second.type().str() +
             ", not " + type.str());
        continue;
      }
      Node *c = g_->addNode("constant", {},
                            {{"value", Attribute(bound->second)}}, {name});
      c->setLoc(loc);
      c->result(0)->setType(bound->second.type());
      values_[name] = c->result(0);
      continue;
    }
    if (!type.isStatic())
      dynamicInputs_.push_back(name);
    Value *v = g_->addInput(name, type);
    v->setLoc(loc);
    values_[name] = v;
  }
  for (const auto &[name, dims] : options_.shapes) {
    if (inputNames.count(name))
      continue;
    std::string known;
    for (const std::string &n : inputNames)
      known += (known.empty() ? "" : ", ") + n;
    error(fileLoc(), "--shape names '" + name +
                         "', which is not an input of the model (inputs: " +
                         (known.empty() ? "none" : known) + ")");
  }
}

void Importer::countUses() {
  for (const onnx::NodeProto &np : model_.graph().node())
    for (const std::string &in : np.input())
      ++uses_[in];
  for (const onnx::ValueInfoProto &out : model_.graph().output())
    ++uses_[out.name()];
}

void Importer::importNode(int index) {
  const onnx::NodeProto &np = model_.graph().node(index);
  SourceLoc loc = sm_.addLabel(buffer_, nodeLabel(np, index, opset_));
  auto fail = [&](const std::string &msg) {
    error(loc, msg);
    poison(np);
  };
  // Dependents of a failed node are skipped without a word.
  for (const std::string &in : np.input())
    if (!in.empty() && poisoned_.count(in))
      return poison(np);

  if (!isDefaultDomain(np.domain()))
    return fail("unsupported op (domain '" + np.domain() + "')");
  const OpDef *def = OpRegistry::get().lookupOnnx(np.op_type());
  if (!def)
    return fail("unsupported op");
  for (const auto &[type, since] : def->onnxNames())
    if (type == np.op_type() && opset_ < since)
      return fail("unsupported op before opset " + std::to_string(since));
  for (const std::string &in : np.input())
    if (!in.empty() && !isDefined(in))
      return fail("input '" + in +
                  "' is not a graph input, an initializer or an output of "
                  "an earlier node");

  NodeCtx ctx(*this, np, *def, loc);
  if (!ctx.convertAttributes())
    return poison(np);
  if (def->onnxImportFn()) {
    Status s = def->onnxImportFn()(ctx);
    if (!s.ok()) {
      if (s.message().empty())
        return poison(np); // already reported (an initializer)
      return fail(s.message());
    }
  }
  if (!ctx.build())
    poison(np);
}

void Importer::readOutputs() {
  for (const onnx::ValueInfoProto &out : model_.graph().output()) {
    const std::string &name = out.name();
    if (poisoned_.count(name))
      continue;
    if (!isDefined(name)) {
      error(sm_.addLabel(buffer_, "output '" + name + "'"),
            "not computed by any node");
      continue;
    }
    auto v = valueOf(name);
    if (v.ok())
      g_->addOutput(*v);
  }
}

void Importer::removeDeadConstants() {
  std::vector<Node *> nodes = g_->nodes();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node *n = *it;
    if (n->op() == "constant" && !g_->hasUses(n->result()))
      g_->eraseNode(n);
  }
}

Expected<std::unique_ptr<Graph>> Importer::run() {
  if (!model_.has_graph()) {
    error(fileLoc(), "not an ONNX model: it has no graph");
    return Status::error("");
  }
  if (!readOpset())
    return Status::error("");
  const onnx::GraphProto &graph = model_.graph();
  g_ = std::make_unique<Graph>(graph.name().empty() ? "main" : graph.name());
  g_->setLoc(fileLoc());
  readInitializers();
  readInputs();
  countUses();
  for (int i = 0; i < graph.node_size(); ++i)
    importNode(i);
  readOutputs();
  if (failed_)
    return Status::error("");
  if (g_->outputs().empty()) {
    error(fileLoc(), "the graph has no outputs");
    return Status::error("");
  }
  removeDeadConstants();
  if (!verifyGraph(*g_, diag_))
    return Status::error("");
  return std::move(g_);
}

//===----------------------------------------------------------------------===//
// Reading the protobuf
//===----------------------------------------------------------------------===//

namespace {
/// Silences protobuf's own logging (it would print to stderr about a
/// malformed message) while a model is parsed.
class QuietProtobufLog {
public:
  QuietProtobufLog()
      : old_(google::protobuf::SetLogHandler(
            [](google::protobuf::LogLevel, const char *, int,
               const std::string &) {})) {}
  ~QuietProtobufLog() { google::protobuf::SetLogHandler(old_); }

private:
  google::protobuf::LogHandler *old_;
};

/// Collects text-format parse errors as diagnostics at line:col.
class TextErrors final : public google::protobuf::io::ErrorCollector {
public:
  TextErrors(DiagEngine &diag, uint32_t buffer) : diag_(diag), buffer_(buffer) {}
  void AddError(int line, google::protobuf::io::ColumnNumber col,
                const std::string &msg) override {
    report(Severity::Error, line, col, msg);
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber col,
                  const std::string &msg) override {
    report(Severity::Warning, line, col, msg);
  }
  bool hadError = false;

private:
  void report(Severity sev, int line, int col, const std::string &msg) {
    // protobuf counts lines and columns from 0; -1 means unknown.
    SourceLoc loc{buffer_, uint32_t(line < 0 ? 0 : line + 1),
                  uint32_t(col < 0 ? 0 : col + 1)};
    std::string text = msg;
    // Diagnostics are lower-case without a final period.
    if (!text.empty())
      text[0] = char(std::tolower(static_cast<unsigned char>(text[0])));
    if (!text.empty() && text.back() == '.')
      text.pop_back();
    diag_.report(sev, loc, text);
    hadError |= sev == Severity::Error;
  }
  DiagEngine &diag_;
  uint32_t buffer_;
};
} // namespace

/// Parses a binary ModelProto from \p in; false if it is not one.
static bool parseBinary(google::protobuf::io::ZeroCopyInputStream &in,
                        onnx::ModelProto &model) {
  QuietProtobufLog quiet;
  google::protobuf::io::CodedInputStream coded(&in);
  // The default limit is 64 MB in old protobuf; models go up to 2 GB.
  coded.SetTotalBytesLimit(INT_MAX);
  return model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

static std::string dirOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// Imports a parsed model, turning any exception (out of memory on a
/// corrupt file) into a diagnostic.
static Expected<std::unique_ptr<Graph>>
importModel(onnx::ModelProto &model, uint32_t buffer,
            const std::string &baseDir, const OnnxImportOptions &options,
            SourceMgr &sm, DiagEngine &diag) {
  try {
    Importer imp(model, buffer, baseDir, options, sm, diag);
    return imp.run();
  } catch (const std::bad_alloc &) {
    diag.error(SourceLoc{buffer, 0, 0}, "out of memory while importing");
  } catch (const std::exception &e) {
    diag.error(SourceLoc{buffer, 0, 0},
               std::string("internal error while importing: ") + e.what());
  }
  return Status::error("");
}

static Expected<std::unique_ptr<Graph>> notAModel(DiagEngine &diag,
                                                  uint32_t buffer,
                                                  const std::string &why) {
  diag.error(SourceLoc{buffer, 0, 0}, why);
  return Status::error("");
}

Expected<std::unique_ptr<Graph>> importOnnx(const std::string &path,
                                            const OnnxImportOptions &options,
                                            SourceMgr &sm, DiagEngine &diag) {
  // The buffer holds no text: a binary model has no lines to show.
  uint32_t buffer = sm.addBuffer(path, "");
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return notAModel(diag, buffer,
                     std::string("cannot open the file: ") +
                         std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return notAModel(diag, buffer, "not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return notAModel(diag, buffer, "the file is empty");
  }
  if (st.st_size > INT_MAX) {
    ::close(fd);
    return notAModel(diag, buffer,
                     "the model is larger than 2 GB; protobuf cannot read "
                     "it (keep the weights in external data files)");
  }
  onnx::ModelProto model;
  bool ok;
  {
    google::protobuf::io::FileInputStream in(fd);
    in.SetCloseOnDelete(true);
    ok = parseBinary(in, model);
  }
  if (!ok)
    return notAModel(diag, buffer,
                     "not a valid ONNX model (protobuf parse failed; the "
                     "file is truncated or not ONNX)");
  return importModel(model, buffer, dirOf(path), options, sm, diag);
}

Expected<std::unique_ptr<Graph>>
importOnnxBytes(const std::string &bytes, const std::string &name,
                const OnnxImportOptions &options, SourceMgr &sm,
                DiagEngine &diag, const std::string &baseDir) {
  uint32_t buffer = sm.addBuffer(name, "");
  if (bytes.empty())
    return notAModel(diag, buffer, "the file is empty");
  if (bytes.size() > size_t(INT_MAX))
    return notAModel(diag, buffer, "the model is larger than 2 GB");
  onnx::ModelProto model;
  google::protobuf::io::ArrayInputStream in(bytes.data(), int(bytes.size()));
  if (!parseBinary(in, model))
    return notAModel(diag, buffer,
                     "not a valid ONNX model (protobuf parse failed; the "
                     "file is truncated or not ONNX)");
  return importModel(model, buffer, baseDir, options, sm, diag);
}

Expected<std::unique_ptr<Graph>>
importOnnxText(const std::string &text, const std::string &name,
               const OnnxImportOptions &options, SourceMgr &sm,
               DiagEngine &diag, const std::string &baseDir) {
  uint32_t buffer = sm.addBuffer(name, text);
  onnx::ModelProto model;
  TextErrors errors(diag, buffer);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  bool ok;
  {
    QuietProtobufLog quiet;
    ok = parser.ParseFromString(text, &model);
  }
  if (!ok) {
    if (!errors.hadError)
      diag.error(SourceLoc{buffer, 0, 0},
                 "not a text-format ONNX model (ModelProto)");
    return Status::error("");
  }
  return importModel(model, buffer, baseDir, options, sm, diag);
}

Expected<std::unique_ptr<Graph>> importOnnxTextFile(
    const std::string &path, const OnnxImportOptions &options, SourceMgr &sm,
    DiagEngine &diag) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return notAModel(diag, sm.addBuffer(path, ""),
                     std::string("cannot open the file: ") +
                         std::strerror(errno));
  std::ifstream in(path, std::ios::binary);
  if (!S_ISREG(st.st_mode) || !in)
    return notAModel(diag, sm.addBuffer(path, ""),
                     "cannot open the file: not a regular file");
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  return importOnnxText(text, path, options, sm, diag, dirOf(path));
}

} // namespace cnnc
