//===- frontend/dsl/NetworkParser.cpp - the network language (.cnn) -------===//
//
// Three steps: read every line into a LayerDecl and check its options against
// the layer table (reporting every mistake in the file); name the layers and
// check the order of input, layers and loss; then build the layers one after
// the other (stopping at the first error, since later shapes depend on it).
//
//===----------------------------------------------------------------------===//
#include "frontend/dsl/NetworkParser.h"

#include "frontend/dsl/Layers.h"
#include "ir/Lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

namespace cnnc {

using namespace dsl;

namespace {

/// One line of tokens; the last one is the Newline or Eof that ends it.
using Line = std::vector<Token>;

class NetworkParser {
public:
  NetworkParser(const SourceMgr &sm, uint32_t buffer, DiagEngine &diag,
                const NetworkOptions &options)
      : sm_(sm), buffer_(buffer), diag_(diag), options_(options) {}

  std::unique_ptr<Graph> run();

private:
  bool error(SourceLoc loc, const std::string &msg) {
    diag_.error(loc, msg);
    return false;
  }
  std::vector<Line> readLines();
  bool parseHeader(const std::vector<Line> &lines);
  bool parseLayer(const Line &line, LayerDecl &decl);
  bool parseValue(const Line &line, size_t &i, const std::string &kind,
                  OptionValue &v);
  bool checkPositional(LayerDecl &decl, const LayerSpec &spec);
  bool checkLossKind(LayerDecl &decl, const std::vector<Token> &words);
  bool checkInputSize(LayerDecl &decl, const std::vector<Token> &words,
                      size_t i);
  bool checkOptions(const LayerDecl &decl, const LayerSpec &spec);
  bool checkValue(const LayerDecl &decl, const KeySpec &key,
                  const LayerOption &opt);
  bool assignNames();
  bool checkOrder();
  bool resolveInputs(size_t index, NetworkState &net,
                     std::vector<Value *> &inputs,
                     std::vector<std::string> &names);
  bool buildLayers(Graph &g);

  const SourceMgr &sm_;
  uint32_t buffer_;
  DiagEngine &diag_;
  const NetworkOptions &options_;
  Token networkTok_, nameTok_;
  std::vector<LayerDecl> decls_;
  std::vector<const LayerSpec *> specs_;
};

} // namespace

//===----------------------------------------------------------------------===//
// Reading lines
//===----------------------------------------------------------------------===//

std::vector<Line> NetworkParser::readLines() {
  Lexer lex(sm_.text(buffer_), buffer_, sm_.firstLine(buffer_),
            /*newlines=*/true);
  std::vector<Line> lines;
  Line cur;
  bool bad = false;
  for (;;) {
    Token t = lex.next();
    if (t.is(Tok::Error) && !bad) {
      error(t.loc, t.text);
      bad = true;
    }
    if (!t.is(Tok::Newline) && !t.is(Tok::Eof)) {
      cur.push_back(std::move(t));
      continue;
    }
    // A line with a lexer error is dropped: the error says all there is.
    if (!cur.empty() && !bad) {
      cur.push_back(t);
      lines.push_back(std::move(cur));
    }
    cur.clear();
    bad = false;
    if (t.is(Tok::Eof))
      return lines;
  }
}

bool NetworkParser::parseHeader(const std::vector<Line> &lines) {
  if (lines.empty())
    return error(SourceLoc{buffer_, sm_.firstLine(buffer_), 1},
                 "expected 'network <name>' as the first line, got the end "
                 "of the file");
  const Line &l = lines.front();
  if (!l[0].isIdent("network"))
    return error(l[0].loc, "expected 'network <name>' as the first line, "
                           "got '" + l[0].text + "'");
  networkTok_ = l[0];
  if (!l[1].is(Tok::Ident))
    return error(l[1].loc, "expected a network name after 'network'");
  nameTok_ = l[1];
  if (!l[2].is(Tok::Newline) && !l[2].is(Tok::Eof))
    return error(l[2].loc, "unexpected '" + l[2].text +
                               "' after the network name");
  return true;
}

static bool startsOption(const Line &line, size_t i) {
  return line[i].is(Tok::Ident) && i + 1 < line.size() &&
         line[i + 1].is(Tok::Equal);
}

static bool isLineEnd(const Token &t) {
  return t.is(Tok::Newline) || t.is(Tok::Eof);
}

/// The text of \p t for messages ("end of line" for the end).
static std::string describe(const Token &t) {
  return isLineEnd(t) ? std::string(tokName(t.kind)) : "'" + t.text + "'";
}

bool NetworkParser::parseValue(const Line &line, size_t &i,
                               const std::string &kind, OptionValue &v) {
  const Token &t = line[i];
  if (t.is(Tok::Int) || t.is(Tok::Float) || t.is(Tok::DimsX) ||
      t.is(Tok::Ident)) {
    v.tok = t;
    ++i;
    return true;
  }
  if (!t.is(Tok::LBracket))
    return error(t.loc, kind + ": expected a value after '=', got " +
                            describe(t));
  v.tok = t;
  v.isList = true;
  ++i;
  while (!line[i].is(Tok::RBracket)) {
    if (!v.items.empty()) {
      if (!line[i].is(Tok::Comma))
        return error(line[i].loc, kind + ": expected ',' or ']' in the list, "
                                         "got " + describe(line[i]));
      ++i;
    }
    const Token &item = line[i];
    if (!item.is(Tok::Ident) && !item.is(Tok::Int) && !item.is(Tok::Float) &&
        !item.is(Tok::DimsX))
      return error(item.loc, kind + ": expected a value in the list, got " +
                                 describe(item));
    v.items.push_back(line[i++]);
  }
  ++i;
  return true;
}

bool NetworkParser::parseLayer(const Line &line, LayerDecl &decl) {
  decl.kind = line[0];
  if (!decl.kind.is(Tok::Ident))
    return error(decl.kind.loc, "expected a layer kind, got " +
                                    describe(decl.kind));
  const std::string &kind = decl.kind.text;
  size_t i = 1;
  while (!isLineEnd(line[i]) && !startsOption(line, i)) {
    const Token &t = line[i];
    if (!t.is(Tok::Ident) && !t.is(Tok::Int) && !t.is(Tok::DimsX))
      return error(t.loc, kind + ": unexpected " + describe(t));
    decl.positional.push_back(line[i++]);
  }
  while (!isLineEnd(line[i])) {
    if (!startsOption(line, i))
      return error(line[i].loc, kind + ": expected an option like key=value, "
                                       "got " + describe(line[i]));
    LayerOption opt;
    opt.key = line[i];
    i += 2;
    if (!parseValue(line, i, kind, opt.value))
      return false;
    if (const LayerOption *prev = decl.find(opt.key.text)) {
      error(opt.key.loc, kind + ": option '" + opt.key.text + "' given twice");
      diag_.note(prev->key.loc, "first given here");
      return false;
    }
    decl.options.push_back(std::move(opt));
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Checking a line against the layer table
//===----------------------------------------------------------------------===//

static std::string kindList() {
  std::string s;
  for (const LayerSpec &spec : layerTable())
    s += (s.empty() ? "" : ", ") + std::string(spec.kind);
  return s;
}

/// The loss kind after `loss`; false after an error.
bool NetworkParser::checkLossKind(LayerDecl &decl,
                                  const std::vector<Token> &words) {
  if (words.empty())
    return error(decl.kind.loc, "loss: missing the loss kind "
                                "(softmax_cross_entropy or hinge)");
  const Token &t = words[0];
  if (!t.isIdent("softmax_cross_entropy") && !t.isIdent("hinge"))
    return error(t.loc, "loss: unknown loss '" + t.text +
                            "' (expected softmax_cross_entropy or hinge)");
  decl.positional.push_back(t);
  return true;
}

/// The size after `input [name]`; false after an error.
bool NetworkParser::checkInputSize(LayerDecl &decl,
                                   const std::vector<Token> &words, size_t i) {
  if (i == words.size())
    return error(decl.kind.loc, "input: missing the input size, like "
                                "'input data 1x28x28' (C x H x W)");
  const Token &size = words[i];
  std::vector<int64_t> sizes;
  bool ok = (size.is(Tok::Int) || size.is(Tok::DimsX)) &&
            parseSizes(size, sizes);
  for (int64_t s : sizes)
    ok &= s > 0;
  if (!ok)
    return error(size.loc, "input: expected positive sizes like 1x28x28 "
                           "(C x H x W) or 784, got '" + size.text + "'");
  decl.positional.push_back(size);
  return true;
}

bool NetworkParser::checkPositional(LayerDecl &decl, const LayerSpec &spec) {
  std::vector<Token> words = std::move(decl.positional);
  decl.positional.clear();
  size_t i = 0;
  if (spec.positional == Positional::Loss) {
    if (!checkLossKind(decl, words))
      return false;
    i = 1;
  } else {
    if (!words.empty() && words[0].is(Tok::Ident))
      decl.nameTok = words[i++];
    if (spec.positional == Positional::Input) {
      if (!checkInputSize(decl, words, i))
        return false;
      ++i;
    }
  }
  if (i == words.size())
    return true;
  const Token &t = words[i];
  std::string what = i > 0 ? "unexpected '" + t.text + "'"
                           : "expected a layer name, got '" + t.text + "'";
  return error(t.loc, decl.kind.text + ": " + what +
                          " (options are written key=value)");
}

/// Reads a number; false if \p text is not one.
static bool parseNumber(const std::string &text, double &out) {
  errno = 0;
  char *end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && errno == 0;
}

/// A description of what a value of \p type must look like.
static const char *expectation(ValueType type) {
  switch (type) {
  case ValueType::PositiveInt: return "a positive integer";
  case ValueType::Int: return "an integer";
  case ValueType::Float: return "a number";
  case ValueType::Probability: return "a probability in [0, 1)";
  case ValueType::Window: return "a positive size like 3 or 3x3";
  case ValueType::Pad: return "a padding like 1, 1x2 or same";
  case ValueType::Init: return "he, xavier or gaussian";
  case ValueType::Bias: return "a number or none";
  case ValueType::Layers: return "a layer name or a list like [a, b]";
  }
  return "a value";
}

/// True if \p v is a value of \p type.
static bool matches(ValueType type, const OptionValue &v) {
  if (v.isList) {
    bool names = type == ValueType::Layers && !v.items.empty();
    for (const Token &item : v.items)
      names &= item.is(Tok::Ident);
    return names;
  }
  const Token &t = v.tok;
  std::vector<int64_t> sizes;
  double num = 0;
  bool isNumber = (t.is(Tok::Int) || t.is(Tok::Float)) &&
                  parseNumber(t.text, num);
  switch (type) {
  case ValueType::PositiveInt:
    return t.is(Tok::Int) && parseSizes(t, sizes) && sizes[0] > 0;
  case ValueType::Int:
    return t.is(Tok::Int) && parseSizes(t, sizes);
  case ValueType::Float:
    return isNumber;
  case ValueType::Probability:
    return isNumber && num >= 0 && num < 1;
  case ValueType::Window:
  case ValueType::Pad: {
    if (type == ValueType::Pad && t.isIdent("same"))
      return true;
    if (!(t.is(Tok::Int) || t.is(Tok::DimsX)) || !parseSizes(t, sizes) ||
        sizes.size() > 2)
      return false;
    int64_t least = type == ValueType::Window ? 1 : 0;
    for (int64_t s : sizes)
      if (s < least)
        return false;
    return true;
  }
  case ValueType::Init:
    return t.isIdent("he") || t.isIdent("xavier") || t.isIdent("gaussian");
  case ValueType::Bias:
    return isNumber || t.isIdent("none");
  case ValueType::Layers:
    return t.is(Tok::Ident);
  }
  return false;
}

bool NetworkParser::checkValue(const LayerDecl &decl, const KeySpec &key,
                               const LayerOption &opt) {
  if (matches(key.type, opt.value))
    return true;
  std::string got = opt.value.tok.text;
  if (opt.value.isList) {
    got = "[";
    for (const Token &item : opt.value.items)
      got += (got.size() > 1 ? ", " : "") + item.text;
    got += "]";
  }
  got = "'" + got + "'";
  return error(opt.value.tok.loc, decl.kind.text + ": option '" + key.key +
                                      "' expects " + expectation(key.type) +
                                      ", got " + got);
}

bool NetworkParser::checkOptions(const LayerDecl &decl, const LayerSpec &spec) {
  const std::string &kind = decl.kind.text;
  bool ok = true;
  // Every layer that reads a value may say which one with from=.
  static const KeySpec kFrom{"from", ValueType::Layers};
  bool takesFrom = spec.positional == Positional::Name;
  for (const LayerOption &opt : decl.options) {
    const KeySpec *key = spec.findKey(opt.key.text);
    if (!key && takesFrom && opt.key.text == "from")
      key = &kFrom;
    if (!key) {
      std::string expected = spec.keys.empty()
                                 ? "it takes no options"
                                 : "expected " + spec.keyList();
      ok = error(opt.key.loc, kind + ": unknown option '" + opt.key.text +
                                  "' (" + expected + ")");
      continue;
    }
    ok &= checkValue(decl, *key, opt);
  }
  // A misspelt key is reported once, not also as a missing one.
  if (!ok)
    return false;
  for (const KeySpec &key : spec.keys)
    if (key.required && !decl.find(key.key))
      ok = error(decl.kind.loc, kind + ": missing required option '" +
                                    key.key + "'");
  return ok;
}

//===----------------------------------------------------------------------===//
// Names and order
//===----------------------------------------------------------------------===//

bool NetworkParser::assignNames() {
  bool ok = true;
  std::map<std::string, const LayerDecl *> taken;
  for (LayerDecl &d : decls_) {
    if (!d.nameTok.is(Tok::Ident))
      continue;
    auto [it, inserted] = taken.emplace(d.nameTok.text, &d);
    if (!inserted) {
      ok = error(d.nameTok.loc, d.kind.text + ": duplicate layer name '" +
                                    d.nameTok.text + "'");
      diag_.note(it->second->nameTok.loc, "'" + d.nameTok.text +
                                              "' first defined here");
      continue;
    }
    d.name = d.nameTok.text;
  }
  // Unnamed layers are <kind><index>, counting every layer of that kind, and
  // step around the names the user chose.
  std::map<std::string, int> count;
  for (size_t i = 0; i < decls_.size(); ++i) {
    LayerDecl &d = decls_[i];
    int index = ++count[d.kind.text];
    if (!d.name.empty() || specs_[i]->positional == Positional::Loss)
      continue;
    std::string base = d.kind.text + std::to_string(index), name = base;
    for (int n = 1; taken.count(name); ++n)
      name = base + "_" + std::to_string(n);
    taken.emplace(name, &d);
    d.name = name;
  }
  return ok;
}

bool NetworkParser::checkOrder() {
  size_t input = decls_.size();
  for (size_t i = 0; i < decls_.size(); ++i) {
    if (specs_[i]->positional != Positional::Input)
      continue;
    if (input == decls_.size()) {
      input = i;
      continue;
    }
    error(decls_[i].kind.loc, "input: a network has one input layer");
    diag_.note(decls_[input].kind.loc, "the input layer '" +
                                           decls_[input].name + "' is here");
    return false;
  }
  if (input == decls_.size())
    return error(networkTok_.loc, "network " + nameTok_.text +
                                      ": no input layer (add a line like "
                                      "'input data 1x28x28')");
  if (input != 0) {
    error(decls_[0].kind.loc, decls_[0].kind.text +
                                  ": layer before the input layer");
    diag_.note(decls_[input].kind.loc, "the input layer '" +
                                           decls_[input].name + "' is here");
    return false;
  }
  for (size_t i = 0; i + 1 < decls_.size(); ++i) {
    if (specs_[i]->positional != Positional::Loss)
      continue;
    error(decls_[i + 1].kind.loc, decls_[i + 1].kind.text +
                                      ": layer after the loss ('loss' must be "
                                      "the last line)");
    diag_.note(decls_[i].kind.loc, "the loss is here");
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Building
//===----------------------------------------------------------------------===//

bool NetworkParser::resolveInputs(size_t index, NetworkState &net,
                                  std::vector<Value *> &inputs,
                                  std::vector<std::string> &names) {
  const LayerDecl &d = decls_[index];
  if (specs_[index]->positional != Positional::Name)
    return true;
  const LayerOption *from = d.find("from");
  if (!from) {
    inputs.push_back(net.last);
    names.push_back(net.lastName);
    return true;
  }
  std::vector<Token> refs = from->value.isList
                                ? from->value.items
                                : std::vector<Token>{from->value.tok};
  for (const Token &ref : refs) {
    auto it = net.outputs.find(ref.text);
    if (it != net.outputs.end()) {
      inputs.push_back(it->second);
      names.push_back(ref.text);
      continue;
    }
    if (ref.text == d.name)
      return error(ref.loc, d.kind.text + ": layer '" + ref.text +
                                "' cannot read its own output");
    for (size_t j = index + 1; j < decls_.size(); ++j)
      if (decls_[j].name == ref.text)
        return error(ref.loc, d.kind.text + ": layer '" + ref.text +
                                  "' is defined after this layer");
    return error(ref.loc, d.kind.text + ": no layer named '" + ref.text + "'");
  }
  return true;
}

bool NetworkParser::buildLayers(Graph &g) {
  NetworkState net{g, diag_};
  net.batch = options_.batch;
  for (size_t i = 0; i < decls_.size(); ++i) {
    std::vector<Value *> inputs;
    std::vector<std::string> names;
    if (!resolveInputs(i, net, inputs, names))
      return false;
    LayerBuilder b(net, decls_[i], *specs_[i], std::move(inputs),
                   std::move(names));
    if (!specs_[i]->build(b))
      return false;
    if (!b.output())
      continue;
    net.outputs[decls_[i].name] = b.output();
    net.last = b.output();
    net.lastName = decls_[i].name;
  }
  g.addOutput(net.last);
  return true;
}

std::unique_ptr<Graph> NetworkParser::run() {
  std::vector<Line> lines = readLines();
  if (diag_.hadError() || !parseHeader(lines))
    return nullptr;
  bool ok = true;
  for (size_t i = 1; i < lines.size(); ++i) {
    LayerDecl decl;
    if (!parseLayer(lines[i], decl)) {
      ok = false;
      continue;
    }
    if (decl.kind.isIdent("network")) {
      error(decl.kind.loc, "a file holds one network; 'network " +
                               nameTok_.text + "' was given already");
      diag_.note(networkTok_.loc, "the network starts here");
      ok = false;
      continue;
    }
    const LayerSpec *spec = findLayerSpec(decl.kind.text);
    if (!spec) {
      ok = error(decl.kind.loc, "unknown layer kind '" + decl.kind.text +
                                    "' (expected " + kindList() + ")");
      continue;
    }
    if (!checkPositional(decl, *spec) || !checkOptions(decl, *spec)) {
      ok = false;
      continue;
    }
    decls_.push_back(std::move(decl));
    specs_.push_back(spec);
  }
  if (!ok || !assignNames() || !checkOrder())
    return nullptr;

  auto g = std::make_unique<Graph>(nameTok_.text);
  g->setLoc(networkTok_.loc);
  if (!buildLayers(*g))
    return nullptr;
  return g;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

std::unique_ptr<Graph> parseNetwork(const SourceMgr &sm, uint32_t buffer,
                                    DiagEngine &diag,
                                    const NetworkOptions &options) {
  unsigned errorsBefore = diag.numErrors();
  auto g = NetworkParser(sm, buffer, diag, options).run();
  if (diag.numErrors() != errorsBefore)
    return nullptr;
  return g;
}

std::unique_ptr<Graph> parseNetworkString(const std::string &text,
                                          SourceMgr &sm, DiagEngine &diag,
                                          const NetworkOptions &options,
                                          const std::string &name) {
  return parseNetwork(sm, sm.addBuffer(name, text), diag, options);
}

bool isNetworkSource(std::string_view text) {
  Lexer lex(text, /*buffer=*/0);
  return lex.next().isIdent("network");
}

std::string describeLayerKinds() {
  std::string s;
  for (const LayerSpec &spec : layerTable()) {
    std::string line = "  " + std::string(spec.kind);
    line.resize(std::max<size_t>(line.size() + 1, 16), ' ');
    line += spec.summary;
    s += line + "\n";
    if (spec.keys.empty())
      continue;
    // Wrapped at 80 columns, under the summary.
    std::string out = std::string(16, ' ') + "options:";
    size_t lineStart = 0;
    for (size_t i = 0; i < spec.keys.size(); ++i) {
      std::string word = std::string(spec.keys[i].key) +
                         (spec.keys[i].required ? " (required)" : "") +
                         (i + 1 < spec.keys.size() ? "," : "");
      if (out.size() - lineStart + 1 + word.size() > 80) {
        lineStart = out.size() + 1;
        out += "\n" + std::string(24, ' ');
      } else {
        out += " ";
      }
      out += word;
    }
    s += out + "\n";
  }
  return s;
}

} // namespace cnnc
