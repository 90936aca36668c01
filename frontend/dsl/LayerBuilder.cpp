//===- frontend/dsl/LayerBuilder.cpp - what a layer's builder sees --------===//
#include "frontend/dsl/Layers.h"

#include "ir/OpDef.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace cnnc::dsl {

bool parseSizes(const Token &tok, std::vector<int64_t> &out) {
  out.clear();
  const std::string &s = tok.text;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find('x', pos);
    std::string part = s.substr(pos, end == std::string::npos ? end : end - pos);
    errno = 0;
    char *stop = nullptr;
    long long v = std::strtoll(part.c_str(), &stop, 10);
    if (part.empty() || *stop != '\0' || errno == ERANGE)
      return false;
    out.push_back(v);
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  return !out.empty();
}

const LayerOption *LayerDecl::find(const std::string &key) const {
  for (const LayerOption &o : options)
    if (o.key.text == key)
      return &o;
  return nullptr;
}

const KeySpec *LayerSpec::findKey(const std::string &key) const {
  for (const KeySpec &k : keys)
    if (key == k.key)
      return &k;
  return nullptr;
}

std::string LayerSpec::keyList() const {
  std::string s;
  for (const KeySpec &k : keys)
    s += (s.empty() ? "" : ", ") + std::string(k.key);
  return s;
}

std::string LayerBuilder::label() const {
  if (decl_.name.empty())
    return decl_.kind.text;
  return decl_.kind.text + " " + decl_.name;
}

bool LayerBuilder::error(const std::string &msg) const {
  net_.diag.error(loc(), label() + ": " + msg);
  return false;
}

bool LayerBuilder::errorAt(SourceLoc loc, const std::string &msg) const {
  net_.diag.error(loc, msg);
  return false;
}

bool LayerBuilder::expectOneInput() {
  if (inputs_.size() == 1)
    return true;
  return errorAt(valueLoc("from"),
                 decl_.kind.text + ": from= names " +
                     std::to_string(inputs_.size()) +
                     " layers, but this layer reads one");
}

int64_t LayerBuilder::getInt(const std::string &key, int64_t dflt) const {
  const LayerOption *o = decl_.find(key);
  if (!o)
    return dflt;
  return std::strtoll(o->value.tok.text.c_str(), nullptr, 10);
}

double LayerBuilder::getFloat(const std::string &key, double dflt) const {
  const LayerOption *o = decl_.find(key);
  if (!o)
    return dflt;
  return std::strtod(o->value.tok.text.c_str(), nullptr);
}

std::array<int64_t, 2>
LayerBuilder::getPair(const std::string &key,
                      std::array<int64_t, 2> dflt) const {
  const LayerOption *o = decl_.find(key);
  std::vector<int64_t> sizes;
  if (!o || !parseSizes(o->value.tok, sizes))
    return dflt;
  if (sizes.size() == 1)
    return {sizes[0], sizes[0]};
  return {sizes[0], sizes[1]};
}

std::string LayerBuilder::getIdent(const std::string &key,
                                   const std::string &dflt) const {
  const LayerOption *o = decl_.find(key);
  if (!o || !o->value.tok.is(Tok::Ident))
    return dflt;
  return o->value.tok.text;
}

SourceLoc LayerBuilder::valueLoc(const std::string &key) const {
  const LayerOption *o = decl_.find(key);
  return o ? o->value.tok.loc : loc();
}

bool LayerBuilder::weightInit(ParamInit &out) {
  std::string kind = getIdent("init", "he");
  const LayerOption *stdOpt = decl_.find("std");
  if (kind != "gaussian") {
    if (stdOpt)
      return errorAt(stdOpt->key.loc, decl_.kind.text +
                                          ": option 'std' needs init=gaussian");
    out = ParamInit::named(kind);
    return true;
  }
  if (!stdOpt)
    return errorAt(valueLoc("init"), decl_.kind.text +
                                         ": init=gaussian needs std=<number>");
  double stddev = getFloat("std", 0);
  if (stddev < 0)
    return errorAt(stdOpt->value.tok.loc,
                   decl_.kind.text + ": std must not be negative, got " +
                       stdOpt->value.tok.text);
  out = ParamInit::gaussian(stddev);
  return true;
}

bool LayerBuilder::biasInit(ParamInit &out) const {
  if (getIdent("bias", "") == "none")
    return false;
  double value = getFloat("bias", 0);
  out = value == 0 ? ParamInit::zeros() : ParamInit::fill(value);
  return true;
}

Value *LayerBuilder::addParam(const std::string &suffix,
                              std::vector<int64_t> dims, ParamInit init,
                              bool trainable) {
  Value *p = graph().addParam(name() + "." + suffix,
                              TensorType(DType::F32, std::move(dims)),
                              std::move(init), trainable);
  p->setLoc(loc());
  return p;
}

/// \p msg without a leading "<op>: " (the layer label replaces it).
static std::string withoutOpPrefix(const std::string &msg,
                                   const std::string &op) {
  std::string prefix = op + ": ";
  return msg.compare(0, prefix.size(), prefix) == 0 ? msg.substr(prefix.size())
                                                    : msg;
}

/// Tensors past 2^40 elements are mistakes, and their sizes would overflow
/// the arithmetic of shape inference and the summary.
static bool fitsInMemory(const TensorType &t) {
  constexpr int64_t kMaxElements = int64_t(1) << 40;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d > 0 && n > kMaxElements / d)
      return false;
    n *= d > 0 ? d : 1;
  }
  return true;
}

Value *LayerBuilder::addNode(const std::string &op,
                             std::vector<Value *> operands, AttrMap attrs,
                             const std::string &resultName) {
  const OpDef *def = OpRegistry::get().lookup(op);
  if (!def) {
    error("op '" + op + "' is not available in this build of cnnc");
    return nullptr;
  }
  for (const Value *v : operands)
    if (!fitsInMemory(v->type())) {
      error("'" + v->name() + "' of " + formatShapeX(v->type().dims()) +
            " is too large");
      return nullptr;
    }
  Node *n = graph().addNode(*def, std::move(operands), std::move(attrs),
                            {resultName.empty() ? name() : resultName});
  n->setLoc(loc());
  auto types = computeNodeShape(*n);
  if (!types.ok()) {
    error(withoutOpPrefix(types.status().message(), op));
    return nullptr;
  }
  for (size_t i = 0; i < n->numResults(); ++i) {
    if (!fitsInMemory((*types)[i])) {
      error("the output of " + formatShapeX((*types)[i].dims()) +
            " is too large");
      return nullptr;
    }
    n->result(i)->setType((*types)[i]);
    n->result(i)->setLoc(loc());
  }
  return n->result(0);
}

/// \p v with two decimals ("2.33").
static std::string twoDecimals(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

bool LayerBuilder::checkWindow(const char *axis, int64_t in, int64_t extent,
                               int64_t stride, int64_t padBegin,
                               int64_t padEnd) const {
  std::string what = decl_.kind.text == "conv" ? "filter" : "window";
  int64_t padded = in + padBegin + padEnd;
  if (extent > padded)
    return error(what + " " + axis + " " + std::to_string(extent) +
                 " is larger than the padded input " + axis + " " +
                 std::to_string(padded));
  if ((padded - extent) % stride == 0)
    return true;
  // CS231n: (W - F + 2P) / S + 1 must be an integer, or the filter does not
  // tile the input; ONNX would silently drop the last rows.
  std::string expr = std::to_string(in) + " - " + std::to_string(extent);
  if (padBegin == padEnd && padBegin != 0)
    expr += " + 2*" + std::to_string(padBegin);
  else if (padBegin != padEnd)
    expr += " + " + std::to_string(padBegin) + " + " + std::to_string(padEnd);
  double out = double(padded - extent) / double(stride) + 1;
  return error(std::string("output ") + axis + " (" + expr + ") / " +
               std::to_string(stride) + " + 1 = " + twoDecimals(out) +
               " is not an integer");
}

} // namespace cnnc::dsl
