//===- ir/Type.cpp - element types, tensor types and host tensors ----------===//
#include "ir/Type.h"

#include <cassert>
#include <cstring>

namespace cnnc {

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "f32";
  case DType::F64: return "f64";
  case DType::I64: return "i64";
  case DType::I32: return "i32";
  case DType::Bool: return "bool";
  }
  return "?";
}

std::optional<DType> parseDType(std::string_view s) {
  for (DType t : {DType::F32, DType::F64, DType::I64, DType::I32, DType::Bool})
    if (s == dtypeName(t))
      return t;
  return std::nullopt;
}

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F32: return 4;
  case DType::F64: return 8;
  case DType::I64: return 8;
  case DType::I32: return 4;
  case DType::Bool: return 1;
  }
  return 0;
}

bool isFloat(DType t) { return t == DType::F32 || t == DType::F64; }

bool TensorType::isStatic() const {
  for (int64_t d : dims_)
    if (d < 0)
      return false;
  return true;
}

int64_t TensorType::numElements() const {
  assert(isStatic() && "numElements of a dynamic shape");
  int64_t n = 1;
  for (int64_t d : dims_)
    n *= d;
  return n;
}

bool TensorType::isCompatibleWith(const TensorType &other) const {
  if (dtype_ != other.dtype_ || dims_.size() != other.dims_.size())
    return false;
  for (size_t i = 0; i < dims_.size(); ++i)
    if (dims_[i] >= 0 && other.dims_[i] >= 0 && dims_[i] != other.dims_[i])
      return false;
  return true;
}

std::string TensorType::str() const {
  std::string s = dtypeName(dtype_);
  s += '[';
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i)
      s += ',';
    s += dims_[i] < 0 ? std::string("?") : std::to_string(dims_[i]);
  }
  s += ']';
  return s;
}

std::string formatShapeX(const std::vector<int64_t> &dims) {
  if (dims.empty())
    return "scalar";
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      s += 'x';
    s += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  return s;
}

Tensor::Tensor(TensorType type) : type_(std::move(type)) {
  assert(type_.isStatic() && "a host tensor needs a static shape");
  data_ = std::make_shared<std::vector<unsigned char>>(
      size_t(type_.numBytes()), 0);
}

double Tensor::getDouble(int64_t i) const {
  switch (dtype()) {
  case DType::F32: return data<float>()[i];
  case DType::F64: return data<double>()[i];
  case DType::I64: return double(data<int64_t>()[i]);
  case DType::I32: return double(data<int32_t>()[i]);
  case DType::Bool: return data<uint8_t>()[i] ? 1.0 : 0.0;
  }
  return 0;
}

int64_t Tensor::getInt(int64_t i) const {
  switch (dtype()) {
  case DType::F32: return int64_t(data<float>()[i]);
  case DType::F64: return int64_t(data<double>()[i]);
  case DType::I64: return data<int64_t>()[i];
  case DType::I32: return data<int32_t>()[i];
  case DType::Bool: return data<uint8_t>()[i] ? 1 : 0;
  }
  return 0;
}

void Tensor::setDouble(int64_t i, double v) {
  switch (dtype()) {
  case DType::F32: data<float>()[i] = float(v); return;
  case DType::F64: data<double>()[i] = v; return;
  case DType::I64: data<int64_t>()[i] = int64_t(v); return;
  case DType::I32: data<int32_t>()[i] = int32_t(v); return;
  case DType::Bool: data<uint8_t>()[i] = v != 0; return;
  }
}

void Tensor::setInt(int64_t i, int64_t v) {
  switch (dtype()) {
  case DType::F32: data<float>()[i] = float(v); return;
  case DType::F64: data<double>()[i] = double(v); return;
  case DType::I64: data<int64_t>()[i] = v; return;
  case DType::I32: data<int32_t>()[i] = int32_t(v); return;
  case DType::Bool: data<uint8_t>()[i] = v != 0; return;
  }
}

Tensor Tensor::fromDoubles(TensorType type, const std::vector<double> &v) {
  Tensor t(std::move(type));
  assert(int64_t(v.size()) == t.numElements() && "wrong number of values");
  for (size_t i = 0; i < v.size(); ++i)
    t.setDouble(int64_t(i), v[i]);
  return t;
}

Tensor Tensor::fromInts(TensorType type, const std::vector<int64_t> &v) {
  Tensor t(std::move(type));
  assert(int64_t(v.size()) == t.numElements() && "wrong number of values");
  for (size_t i = 0; i < v.size(); ++i)
    t.setInt(int64_t(i), v[i]);
  return t;
}

std::vector<int64_t> Tensor::toInts() const {
  std::vector<int64_t> out(static_cast<size_t>(numElements()));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = getInt(int64_t(i));
  return out;
}

std::vector<double> Tensor::toDoubles() const {
  std::vector<double> out(static_cast<size_t>(numElements()));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = getDouble(int64_t(i));
  return out;
}

bool Tensor::operator==(const Tensor &o) const {
  if (type_ != o.type_ || numBytes() != o.numBytes())
    return false;
  return numBytes() == 0 || std::memcmp(rawData(), o.rawData(), numBytes()) == 0;
}

} // namespace cnnc
