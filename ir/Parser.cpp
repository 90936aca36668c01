//===- ir/Parser.cpp - the IR text form: parser ----------------------------===//
#include "ir/Lexer.h"
#include "ir/OpDef.h"
#include "ir/ParamInit.h"
#include "ir/TextIR.h"

#include <cmath>
#include <limits>
#include <map>

namespace cnnc {

namespace {

class Parser {
public:
  Parser(const SourceMgr &sm, uint32_t buffer, DiagEngine &diag)
      : lex_(sm.text(buffer), buffer, sm.firstLine(buffer)), diag_(diag) {
    tok_ = lex_.next();
  }

  bool parseFile(std::vector<std::unique_ptr<Graph>> &out);

private:
  // Token helpers.
  void consume() { tok_ = lex_.next(); }
  bool error(SourceLoc loc, const std::string &msg) {
    diag_.error(loc, msg);
    return false;
  }
  bool errorHere(const std::string &msg) {
    if (tok_.is(Tok::Error))
      return error(tok_.loc, tok_.text);
    return error(tok_.loc, msg);
  }
  bool expect(Tok k, const char *context) {
    if (!tok_.is(k))
      return errorHere(std::string("expected ") + tokName(k) + " " + context +
                       ", got " + describe(tok_));
    consume();
    return true;
  }
  static std::string describe(const Token &t) {
    if (t.is(Tok::Eof) || t.is(Tok::Newline))
      return tokName(t.kind);
    // text() of %x and @g drops the sigil; show the token as written.
    if (t.is(Tok::ValueName))
      return "'" + printValueName(t.text) + "'";
    if (t.is(Tok::AtName))
      return "'@" + t.text + "'";
    if (t.is(Tok::String))
      return quoteString(t.text);
    return "'" + t.text + "'";
  }

  bool parseGraph(std::unique_ptr<Graph> &g);
  bool parseType(TensorType &t);
  bool parseNumber(double &v, bool &isInt, int64_t &iv);
  bool parseNumberList(std::vector<double> &vals, bool &allInts,
                       std::vector<int64_t> &ints);
  bool parseAttrValue(Attribute &a);
  bool parseAttrDict(AttrMap &attrs);
  bool parseParam(Graph &g);
  bool parseNode(Graph &g);
  bool parseReturn(Graph &g);
  bool defineName(const Token &t);
  bool parseOperand(Value *&v);
  bool parseDenseData(const TensorType &type, SourceLoc loc, Tensor &out);

  Lexer lex_;
  DiagEngine &diag_;
  Token tok_;
  std::map<std::string, Value *> scope_;
  /// Graphs parsed so far, by name, and where each was defined.
  std::map<std::string, SourceLoc> graphNames_;
};

bool Parser::parseFile(std::vector<std::unique_ptr<Graph>> &out) {
  if (tok_.is(Tok::Eof))
    return errorHere("expected 'graph', got an empty input");
  while (!tok_.is(Tok::Eof)) {
    std::unique_ptr<Graph> g;
    if (!parseGraph(g))
      return false;
    out.push_back(std::move(g));
  }
  return true;
}

bool Parser::parseType(TensorType &t) {
  if (!tok_.is(Tok::Ident))
    return errorHere("expected a tensor type like f32[1,3,28,28], got " +
                     describe(tok_));
  auto dtype = parseDType(tok_.text);
  if (!dtype)
    return errorHere("unknown element type '" + tok_.text +
                     "' (expected f32, f64, i64, i32 or bool)");
  SourceLoc typeLoc = tok_.loc;
  consume();
  if (!expect(Tok::LBracket, "after the element type"))
    return false;
  std::vector<int64_t> dims;
  // Element counts must fit in int64_t: everything downstream multiplies.
  int64_t elements = 1;
  while (!tok_.is(Tok::RBracket)) {
    if (!dims.empty() && !expect(Tok::Comma, "between dimensions"))
      return false;
    if (tok_.is(Tok::Question)) {
      dims.push_back(kDynamic);
    } else if (tok_.is(Tok::Int) && tok_.text[0] != '-') {
      int64_t d;
      try {
        d = std::stoll(tok_.text);
      } catch (...) {
        return errorHere("dimension " + tok_.text + " is out of range");
      }
      if (d != 0 && elements > std::numeric_limits<int64_t>::max() / d)
        return error(typeLoc, "tensor type has too many elements (more than 2^63 - 1)");
      elements *= d;
      dims.push_back(d);
    } else {
      return errorHere("expected a dimension (a size or '?'), got " +
                       describe(tok_));
    }
    consume();
  }
  consume();
  t = TensorType(*dtype, std::move(dims));
  return true;
}

bool Parser::parseNumber(double &v, bool &isInt, int64_t &iv) {
  bool negate = false;
  if (tok_.is(Tok::Minus)) {
    negate = true;
    consume();
  }
  isInt = false;
  if (tok_.is(Tok::Int)) {
    isInt = true;
    try {
      iv = std::stoll(tok_.text);
    } catch (...) {
      return errorHere("integer " + tok_.text + " is out of range");
    }
    v = double(iv);
  } else if (tok_.is(Tok::Float)) {
    v = std::strtod(tok_.text.c_str(), nullptr);
  } else if (tok_.isIdent("inf")) {
    v = std::numeric_limits<double>::infinity();
  } else if (tok_.isIdent("nan")) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else {
    return errorHere("expected a number, got " + describe(tok_));
  }
  if (negate) {
    v = -v;
    iv = -iv;
  }
  consume();
  return true;
}

bool Parser::parseNumberList(std::vector<double> &vals, bool &allInts,
                             std::vector<int64_t> &ints) {
  if (!expect(Tok::LBracket, "to start a list"))
    return false;
  allInts = true;
  while (!tok_.is(Tok::RBracket)) {
    if (!vals.empty() && !expect(Tok::Comma, "between list elements"))
      return false;
    double v;
    bool isInt;
    int64_t iv = 0;
    if (!parseNumber(v, isInt, iv))
      return false;
    vals.push_back(v);
    ints.push_back(iv);
    allInts &= isInt;
  }
  consume();
  return true;
}

/// Parses the "[v, ...]" data of a dense tensor of \p type, which must be
/// static; \p loc is where the dense value starts. Integer and bool data must
/// be integers that fit the dtype, and are stored exactly (an i64 beyond 2^53
/// would lose bits through double).
bool Parser::parseDenseData(const TensorType &type, SourceLoc loc,
                            Tensor &out) {
  if (!type.isStatic())
    return error(loc, "dense data needs a static type, got " + type.str());
  if (!expect(Tok::LBracket, "to start the dense data"))
    return false;
  bool fp = isFloat(type.dtype());
  std::vector<double> vals;
  std::vector<int64_t> ints;
  while (!tok_.is(Tok::RBracket)) {
    if (!vals.empty() && !expect(Tok::Comma, "between list elements"))
      return false;
    SourceLoc valueLoc = tok_.loc;
    double v;
    bool isInt;
    int64_t iv = 0;
    if (!parseNumber(v, isInt, iv))
      return false;
    if (!fp && !isInt)
      return error(valueLoc, std::string(dtypeName(type.dtype())) +
                                 " data needs integers, got " +
                                 formatDouble(v));
    if (type.dtype() == DType::I32 &&
        (iv < std::numeric_limits<int32_t>::min() ||
         iv > std::numeric_limits<int32_t>::max()))
      return error(valueLoc, "value " + std::to_string(iv) +
                                 " is out of range for i32");
    if (type.dtype() == DType::Bool && iv != 0 && iv != 1)
      return error(valueLoc,
                   "bool data must be 0 or 1, got " + std::to_string(iv));
    vals.push_back(v);
    ints.push_back(iv);
  }
  consume();
  if (int64_t(vals.size()) != type.numElements())
    return error(loc, "dense data has " + countNoun(vals.size(), "value") +
                          " but " + type.str() + " needs " +
                          std::to_string(type.numElements()));
  out = fp ? Tensor::fromDoubles(type, vals) : Tensor::fromInts(type, ints);
  return true;
}

bool Parser::parseAttrValue(Attribute &a) {
  if (tok_.is(Tok::String)) {
    a = Attribute(tok_.text);
    consume();
    return true;
  }
  if (tok_.is(Tok::LBracket)) {
    std::vector<double> vals;
    std::vector<int64_t> ints;
    bool allInts;
    if (!parseNumberList(vals, allInts, ints))
      return false;
    a = allInts ? Attribute(ints) : Attribute(vals);
    return true;
  }
  if (tok_.isIdent("dense")) {
    SourceLoc loc = tok_.loc;
    consume();
    TensorType type;
    if (!expect(Tok::Less, "after 'dense'") || !parseType(type) ||
        !expect(Tok::Greater, "after the dense type"))
      return false;
    Tensor t;
    if (!parseDenseData(type, loc, t))
      return false;
    a = Attribute(std::move(t));
    return true;
  }
  double v;
  bool isInt;
  int64_t iv = 0;
  if (!parseNumber(v, isInt, iv))
    return false;
  a = isInt ? Attribute(iv) : Attribute(v);
  return true;
}

bool Parser::parseAttrDict(AttrMap &attrs) {
  if (!tok_.is(Tok::LBrace))
    return true;
  consume();
  while (!tok_.is(Tok::RBrace)) {
    if (!attrs.empty() && !expect(Tok::Comma, "between attributes"))
      return false;
    if (!tok_.is(Tok::Ident))
      return errorHere("expected an attribute name, got " + describe(tok_));
    Token name = tok_;
    consume();
    if (attrs.count(name.text))
      return error(name.loc, "attribute '" + name.text + "' given twice");
    if (!expect(Tok::Equal, "after the attribute name"))
      return false;
    Attribute a;
    if (!parseAttrValue(a))
      return false;
    attrs[name.text] = std::move(a);
  }
  consume();
  return true;
}

bool Parser::defineName(const Token &t) {
  // Graph::uniqueName would silently rename an empty name to %v.
  if (t.text.empty())
    return error(t.loc, "a value name must not be empty");
  if (scope_.count(t.text))
    return error(t.loc, "redefinition of value " + printValueName(t.text));
  return true;
}

bool Parser::parseOperand(Value *&v) {
  if (!tok_.is(Tok::ValueName))
    return errorHere("expected an operand like %x, got " + describe(tok_));
  auto it = scope_.find(tok_.text);
  if (it == scope_.end())
    return errorHere("use of undefined value " + printValueName(tok_.text));
  v = it->second;
  consume();
  return true;
}

bool Parser::parseParam(Graph &g) {
  consume(); // 'param'
  if (!tok_.is(Tok::ValueName))
    return errorHere("expected a parameter name like %w, got " +
                     describe(tok_));
  Token name = tok_;
  if (!defineName(name))
    return false;
  consume();
  TensorType type;
  if (!expect(Tok::Colon, "after the parameter name") || !parseType(type) ||
      !expect(Tok::Equal, "before the initializer"))
    return false;
  if (!tok_.is(Tok::Ident))
    return errorHere("expected an initializer (zeros, fill, gaussian, "
                     "uniform, he, xavier or dense), got " +
                     describe(tok_));
  Token kind = tok_;
  consume();
  ParamInit init = ParamInit::named(kind.text);
  if (kind.text == "dense") {
    Tensor t;
    if (!parseDenseData(type, kind.loc, t))
      return false;
    init.data = std::move(t);
  } else if (!parseAttrDict(init.args)) {
    return false;
  }
  Status s = validateParamInit(init, type);
  if (!s.ok())
    return error(kind.loc, "param " + printValueName(name.text) + ": " +
                               s.message());
  bool trainable = true;
  if (tok_.isIdent("frozen")) {
    trainable = false;
    consume();
  }
  Value *p = g.addParam(name.text, type, std::move(init), trainable);
  p->setLoc(name.loc);
  scope_[name.text] = p;
  return true;
}

bool Parser::parseNode(Graph &g) {
  std::vector<Token> names;
  // An op with no results (assign) starts with its name: `assign(%w, %v)`.
  while (!tok_.is(Tok::Ident)) {
    if (!tok_.is(Tok::ValueName))
      return errorHere("expected a result name like %y, got " +
                       describe(tok_));
    if (!defineName(tok_))
      return false;
    for (const Token &n : names)
      if (n.text == tok_.text)
        return errorHere("redefinition of value " + printValueName(tok_.text));
    names.push_back(tok_);
    consume();
    if (!tok_.is(Tok::Comma))
      break;
    consume();
  }
  if (!names.empty() && !expect(Tok::Equal, "after the result names"))
    return false;
  if (!tok_.is(Tok::Ident))
    return errorHere("expected an op name, got " + describe(tok_));
  Token opTok = tok_;
  const OpDef *def = OpRegistry::get().lookup(opTok.text);
  consume();
  // `y = relu(%x)`: a result name without its '%'.
  if (names.empty() && tok_.is(Tok::Equal))
    return error(opTok.loc, "expected a result name like %y, got '" +
                                opTok.text + "'");
  if (!def)
    return error(opTok.loc, "unknown op '" + opTok.text + "'");
  if (!expect(Tok::LParen, "before the operands"))
    return false;
  std::vector<Value *> operands;
  while (!tok_.is(Tok::RParen)) {
    if (!operands.empty() && !expect(Tok::Comma, "between operands"))
      return false;
    Value *v;
    if (!parseOperand(v))
      return false;
    operands.push_back(v);
  }
  consume();
  AttrMap attrs;
  if (!parseAttrDict(attrs))
    return false;
  // Coerce to the declared kinds where possible (2 -> 2.0); the verifier
  // reports what cannot be.
  for (auto &[name, value] : attrs)
    if (const AttrSpec *spec = def->findAttr(name))
      value.coerceTo(spec->kind);
  std::vector<TensorType> types;
  if (!names.empty() && !expect(Tok::Colon, "before the result types"))
    return false;
  while (!names.empty()) {
    TensorType t;
    if (!parseType(t))
      return false;
    types.push_back(std::move(t));
    if (!tok_.is(Tok::Comma))
      break;
    consume();
  }
  if (types.size() != names.size())
    return error(opTok.loc, opTok.text + ": " +
                                countNoun(names.size(), "result") + " but " +
                                countNoun(types.size(), "result type"));
  // loc(...) is printed by --print-locations; accepted and ignored here.
  if (tok_.isIdent("loc")) {
    consume();
    if (!expect(Tok::LParen, "after 'loc'"))
      return false;
    while (!tok_.is(Tok::RParen) && !tok_.is(Tok::Eof) &&
           !tok_.is(Tok::Error))
      consume();
    if (!expect(Tok::RParen, "to close loc("))
      return false;
  }
  std::vector<std::string> resultNames;
  for (const Token &n : names)
    resultNames.push_back(n.text);
  Node *node = g.addNode(*def, std::move(operands), std::move(attrs),
                         resultNames);
  node->setLoc(opTok.loc);
  for (size_t i = 0; i < names.size(); ++i) {
    node->result(i)->setType(types[i]);
    node->result(i)->setLoc(names[i].loc);
    scope_[names[i].text] = node->result(i);
  }
  return true;
}

bool Parser::parseReturn(Graph &g) {
  uint32_t returnLine = tok_.loc.line;
  consume(); // 'return'
  // An operand continues the return only on its line or after a comma;
  // otherwise it starts a statement after the return.
  bool afterComma = false;
  while (tok_.is(Tok::ValueName) &&
         (afterComma || tok_.loc.line == returnLine)) {
    Value *v;
    if (!parseOperand(v))
      return false;
    g.addOutput(v);
    if (!tok_.is(Tok::Comma))
      break;
    consume();
    afterComma = true;
    if (!tok_.is(Tok::ValueName))
      return errorHere("expected a value after ',' in return, got " +
                       describe(tok_));
  }
  if (tok_.is(Tok::RBrace))
    return true;
  if (tok_.loc.line != returnLine &&
      (tok_.is(Tok::ValueName) || tok_.isIdent("param")))
    return errorHere("'return' must be the last statement of graph @" +
                     g.name());
  return errorHere("expected '}' after return, got " + describe(tok_));
}

bool Parser::parseGraph(std::unique_ptr<Graph> &out) {
  scope_.clear();
  if (!tok_.isIdent("graph"))
    return errorHere("expected 'graph', got " + describe(tok_));
  SourceLoc graphLoc = tok_.loc;
  consume();
  if (!tok_.is(Tok::AtName))
    return errorHere("expected a graph name like @net, got " + describe(tok_));
  if (tok_.text.empty())
    return errorHere("a graph name must not be empty");
  auto [prev, isNew] = graphNames_.emplace(tok_.text, tok_.loc);
  if (!isNew) {
    error(tok_.loc, "redefinition of graph @" + tok_.text);
    diag_.note(prev->second, "previous definition is here");
    return false;
  }
  auto g = std::make_unique<Graph>(tok_.text);
  g->setLoc(graphLoc);
  consume();
  if (!expect(Tok::LParen, "before the graph inputs"))
    return false;
  while (!tok_.is(Tok::RParen)) {
    if (!g->inputs().empty() && !expect(Tok::Comma, "between graph inputs"))
      return false;
    if (!tok_.is(Tok::ValueName))
      return errorHere("expected an input like %x: f32[1,3,32,32], got " +
                       describe(tok_));
    Token name = tok_;
    if (!defineName(name))
      return false;
    consume();
    TensorType type;
    if (!expect(Tok::Colon, "after the input name") || !parseType(type))
      return false;
    Value *v = g->addInput(name.text, type);
    v->setLoc(name.loc);
    scope_[name.text] = v;
  }
  consume();
  if (tok_.isIdent("attributes")) {
    consume();
    if (!tok_.is(Tok::LBrace))
      return errorHere("expected '{' after 'attributes', got " +
                       describe(tok_));
    if (!parseAttrDict(g->attrs()))
      return false;
  }
  if (!expect(Tok::LBrace, "to open the graph body"))
    return false;
  bool sawReturn = false;
  while (!tok_.is(Tok::RBrace)) {
    if (tok_.is(Tok::Eof))
      return errorHere("expected '}' to close graph @" + g->name());
    // parseReturn stops only at the closing '}'.
    bool ok = tok_.isIdent("param")    ? parseParam(*g)
              : tok_.isIdent("return") ? (sawReturn = true, parseReturn(*g))
                                       : parseNode(*g);
    if (!ok)
      return false;
  }
  if (!sawReturn)
    return errorHere("graph @" + g->name() + " has no 'return'");
  consume();
  out = std::move(g);
  return true;
}

} // namespace

std::vector<std::unique_ptr<Graph>> parseGraphs(const SourceMgr &sm,
                                                uint32_t buffer,
                                                DiagEngine &diag) {
  std::vector<std::unique_ptr<Graph>> graphs;
  Parser p(sm, buffer, diag);
  if (!p.parseFile(graphs))
    graphs.clear();
  return graphs;
}

std::unique_ptr<Graph> parseGraphString(const std::string &text,
                                        SourceMgr &sm, DiagEngine &diag,
                                        const std::string &name) {
  uint32_t id = sm.addBuffer(name, text);
  auto graphs = parseGraphs(sm, id, diag);
  if (graphs.size() != 1) {
    if (!graphs.empty())
      diag.error(SourceLoc{id, 1, 1}, "expected one graph, got " +
                                          std::to_string(graphs.size()));
    return nullptr;
  }
  return std::move(graphs.front());
}

} // namespace cnnc
