//===- ir/Attribute.h - node attributes: ints, floats, strings, tensors ----===//
#pragma once

#include "ir/Type.h"

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace cnnc {

/// The kind of an attribute value.
enum class AttrKind { Int, Float, String, Ints, Floats, Tensor };

/// Name of a kind for diagnostics ("int", "float list", ...).
const char *attrKindName(AttrKind k);

/// One attribute value.
class Attribute {
public:
  Attribute() : v_(int64_t(0)) {}
  Attribute(int64_t i) : v_(i) {}
  Attribute(int i) : v_(int64_t(i)) {}
  Attribute(double f) : v_(f) {}
  Attribute(std::string s) : v_(std::move(s)) {}
  Attribute(const char *s) : v_(std::string(s)) {}
  Attribute(std::vector<int64_t> v) : v_(std::move(v)) {}
  Attribute(std::vector<double> v) : v_(std::move(v)) {}
  Attribute(Tensor t) : v_(std::move(t)) {}

  AttrKind kind() const { return AttrKind(v_.index()); }
  int64_t getInt() const { return std::get<int64_t>(v_); }
  double getFloat() const { return std::get<double>(v_); }
  const std::string &getString() const { return std::get<std::string>(v_); }
  const std::vector<int64_t> &getInts() const {
    return std::get<std::vector<int64_t>>(v_);
  }
  const std::vector<double> &getFloats() const {
    return std::get<std::vector<double>>(v_);
  }
  const Tensor &getTensor() const { return std::get<Tensor>(v_); }

  /// Converts between compatible kinds (int -> float, ints -> floats, and an
  /// empty list of either kind); false if impossible.
  bool coerceTo(AttrKind k);

  bool operator==(const Attribute &o) const { return v_ == o.v_; }
  bool operator!=(const Attribute &o) const { return !(*this == o); }

  /// Text form as in the IR: 3, 0.5, "same", [1, 2], [0.5], dense<f32[2]> [...].
  std::string str() const;

private:
  // The order matches AttrKind.
  std::variant<int64_t, double, std::string, std::vector<int64_t>,
               std::vector<double>, Tensor>
      v_;
};

/// Attributes by name; std::map keeps them sorted for printing.
using AttrMap = std::map<std::string, Attribute>;

/// Shortest text that parses back to exactly \p v, always with a '.' or an
/// exponent so it reads as a float ("1.0", "0.01", "1e-05", "inf", "nan").
std::string formatDouble(double v);

/// The same for a float: shortest text that reads back as the same float.
std::string formatFloat(float v);

/// The data of a tensor as "[1.0, 2.0, ...]" (flat, row-major).
std::string formatTensorData(const Tensor &t);

/// Quotes \p s as a string literal with C escapes.
std::string quoteString(const std::string &s);

} // namespace cnnc
