//===- ir/Attribute.cpp - node attributes ----------------------------------===//
#include "ir/Attribute.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace cnnc {

const char *attrKindName(AttrKind k) {
  switch (k) {
  case AttrKind::Int: return "int";
  case AttrKind::Float: return "float";
  case AttrKind::String: return "string";
  case AttrKind::Ints: return "int list";
  case AttrKind::Floats: return "float list";
  case AttrKind::Tensor: return "tensor";
  }
  return "?";
}

bool Attribute::coerceTo(AttrKind k) {
  if (kind() == k)
    return true;
  if (k == AttrKind::Float && kind() == AttrKind::Int) {
    v_ = double(getInt());
    return true;
  }
  if (k == AttrKind::Floats && kind() == AttrKind::Ints) {
    std::vector<double> f(getInts().begin(), getInts().end());
    v_ = std::move(f);
    return true;
  }
  if (k == AttrKind::Ints && kind() == AttrKind::Floats &&
      getFloats().empty()) {
    v_ = std::vector<int64_t>{};
    return true;
  }
  return false;
}

std::string formatDouble(double v) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".en") == std::string::npos)
    s += ".0";
  return s;
}

std::string formatFloat(float v) {
  if (std::isnan(v) || std::isinf(v))
    return formatDouble(double(v));
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".en") == std::string::npos)
    s += ".0";
  return s;
}

std::string quoteString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20 || c >= 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\%02X", c);
        out += buf;
      } else {
        out += char(c);
      }
    }
  }
  return out + "\"";
}

std::string formatTensorData(const Tensor &t) {
  std::string s = "[";
  int64_t n = t.numElements();
  bool fp = isFloat(t.dtype());
  for (int64_t i = 0; i < n; ++i) {
    if (i)
      s += ", ";
    if (fp)
      s += t.dtype() == DType::F32 ? formatFloat(t.data<float>()[i])
                                   : formatDouble(t.getDouble(i));
    else
      s += std::to_string(t.getInt(i));
  }
  return s + "]";
}

std::string Attribute::str() const {
  switch (kind()) {
  case AttrKind::Int: return std::to_string(getInt());
  case AttrKind::Float: return formatDouble(getFloat());
  case AttrKind::String: return quoteString(getString());
  case AttrKind::Ints: {
    std::string s = "[";
    for (size_t i = 0; i < getInts().size(); ++i)
      s += (i ? ", " : "") + std::to_string(getInts()[i]);
    return s + "]";
  }
  case AttrKind::Floats: {
    std::string s = "[";
    for (size_t i = 0; i < getFloats().size(); ++i)
      s += (i ? ", " : "") + formatDouble(getFloats()[i]);
    return s + "]";
  }
  case AttrKind::Tensor:
    return "dense<" + getTensor().type().str() + "> " +
           formatTensorData(getTensor());
  }
  return "?";
}

} // namespace cnnc
