//===- frontend/dsl/Layers.h - the layer table of the network language ----===//
//
// Private to frontend/dsl. A layer line
//     conv c1 filters=6 size=5x5 pad=2
// is parsed into a LayerDecl; its kind selects a LayerSpec in layerTable(),
// which lists the allowed options with their value types and the function
// that lowers the layer to graph nodes through a LayerBuilder. Adding a layer
// kind means adding one table entry and its builder (Layers.cpp).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Diag.h"
#include "ir/Graph.h"
#include "ir/Lexer.h"

#include <array>
#include <map>
#include <string>
#include <vector>

namespace cnnc::dsl {

/// The value of one `key=value` option, as written.
struct OptionValue {
  Token tok;                ///< Int, Float, DimsX or Ident; '[' for a list
  std::vector<Token> items; ///< the names of a list `[a, b]`
  bool isList = false;
};

/// One `key=value` of a layer line.
struct LayerOption {
  Token key;
  OptionValue value;
};

/// One layer line, before it is checked against the table.
struct LayerDecl {
  Token kind;                   ///< the first word of the line
  Token nameTok;                ///< the explicit name; Eof when absent
  std::string name;             ///< explicit, or the default <kind><index>
  std::vector<Token> positional; ///< words after the name (input size, loss)
  std::vector<LayerOption> options;
  /// The option \p key, or null.
  const LayerOption *find(const std::string &key) const;
};

/// What an option's value must be.
enum class ValueType {
  PositiveInt, ///< 6
  Int,         ///< -1
  Float,       ///< 0.01, 1e-4, 3
  Probability, ///< a number in [0, 1)
  Window,      ///< 5 or 5x3 (height x width), all positive
  Pad,         ///< 2, 1x2, or `same`
  Init,        ///< he | xavier | gaussian
  Bias,        ///< a number (the constant initial bias) or `none`
  Layers,      ///< a layer name, or a list [a, b]
};

/// One allowed option of a layer kind.
struct KeySpec {
  const char *key;
  ValueType type;
  bool required = false;
};

/// What a layer line holds between its kind and its options.
enum class Positional {
  Name,  ///< an optional layer name
  Input, ///< an optional name, then the size (1x28x28 or 784)
  Loss,  ///< the loss kind (softmax_cross_entropy | hinge)
};

class LayerBuilder;
/// Lowers one layer; reports through the builder and returns false on error.
using BuildFn = bool (*)(LayerBuilder &);

/// One layer kind of the network language.
struct LayerSpec {
  const char *kind;
  Positional positional;
  std::vector<KeySpec> keys;
  BuildFn build;
  const char *summary;
  /// The key \p key, or null.
  const KeySpec *findKey(const std::string &key) const;
  /// "filters, size, stride" for messages.
  std::string keyList() const;
};

/// Every layer kind, in the order the documentation lists them.
const std::vector<LayerSpec> &layerTable();
/// The layer kind \p kind, or null.
const LayerSpec *findLayerSpec(const std::string &kind);

/// The state shared by all layers while a network is built.
struct NetworkState {
  NetworkState(Graph &g, DiagEngine &d) : graph(g), diag(d) {}
  Graph &graph;
  DiagEngine &diag;
  int64_t batch = 1;
  /// Output of each layer built so far, by layer name.
  std::map<std::string, Value *> outputs;
  /// The output of the latest layer (what the next layer reads by default).
  Value *last = nullptr;
  std::string lastName;
};

/// What a builder sees of its layer: the options (already type-checked), its
/// inputs, and helpers that add parameters and shape-inferred nodes.
class LayerBuilder {
public:
  LayerBuilder(NetworkState &net, const LayerDecl &decl, const LayerSpec &spec,
               std::vector<Value *> inputs, std::vector<std::string> inputNames)
      : net_(net), decl_(decl), spec_(spec), inputs_(std::move(inputs)),
        inputNames_(std::move(inputNames)) {}

  const LayerDecl &decl() const { return decl_; }
  const std::string &name() const { return decl_.name; }
  /// "conv c1", the prefix of this layer's semantic errors.
  std::string label() const;
  SourceLoc loc() const { return decl_.kind.loc; }
  Graph &graph() { return net_.graph; }
  int64_t batch() const { return net_.batch; }

  /// The values this layer reads: the previous layer's output, or from=.
  const std::vector<Value *> &inputs() const { return inputs_; }
  Value *input() const { return inputs_.front(); }
  /// The layer name of input \p i, for messages.
  const std::string &inputName(size_t i) const { return inputNames_[i]; }
  /// Error unless the layer reads exactly one value (from= may name several).
  bool expectOneInput();

  bool has(const std::string &key) const { return decl_.find(key); }
  int64_t getInt(const std::string &key, int64_t dflt) const;
  double getFloat(const std::string &key, double dflt) const;
  /// A Window or Pad value as {height, width}; a single number is square.
  std::array<int64_t, 2> getPair(const std::string &key,
                                 std::array<int64_t, 2> dflt) const;
  /// The identifier value of \p key (init=he, pad=same), or \p dflt.
  std::string getIdent(const std::string &key, const std::string &dflt) const;
  /// Where option \p key's value is (the layer kind when absent).
  SourceLoc valueLoc(const std::string &key) const;

  /// The weight initialiser from init= and std=; false after an error.
  bool weightInit(ParamInit &out);
  /// The bias initialiser from bias=; false when bias=none.
  bool biasInit(ParamInit &out) const;

  /// Adds parameter `<layer>.<suffix>` of f32 \p dims.
  Value *addParam(const std::string &suffix, std::vector<int64_t> dims,
                  ParamInit init, bool trainable = true);
  /// Adds a node of op \p op, infers its result type, and names its result
  /// \p resultName (the layer name by default). Null after an error.
  Value *addNode(const std::string &op, std::vector<Value *> operands,
                 AttrMap attrs = {}, const std::string &resultName = "");
  /// Makes \p v the output of this layer.
  void setOutput(Value *v) { output_ = v; }
  Value *output() const { return output_; }

  /// Reports "<kind> <name>: msg" at the layer; returns false.
  bool error(const std::string &msg) const;
  /// Reports \p msg as is at \p loc; returns false.
  bool errorAt(SourceLoc loc, const std::string &msg) const;

  /// Checks that a window of \p extent (dilated kernel) at \p stride with
  /// padding \p padBegin + \p padEnd tiles an input of size \p in exactly:
  /// the network language rejects (W - F + 2P) / S + 1 that is not an
  /// integer (CS231n), where ONNX models would round down. \p axis is
  /// "height" or "width".
  bool checkWindow(const char *axis, int64_t in, int64_t extent,
                   int64_t stride, int64_t padBegin, int64_t padEnd) const;

  NetworkState &net() { return net_; }

private:
  NetworkState &net_;
  const LayerDecl &decl_;
  const LayerSpec &spec_;
  std::vector<Value *> inputs_;
  std::vector<std::string> inputNames_;
  Value *output_ = nullptr;
};

/// Parses the integer sizes of a DimsX token ("1x28x28") or an Int token.
/// False if a size does not fit in int64.
bool parseSizes(const Token &tok, std::vector<int64_t> &out);

} // namespace cnnc::dsl
