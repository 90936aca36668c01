//===- ir/Type.h - element types, tensor types and host tensors ------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cnnc {

/// Element type of a tensor. Text spellings: f32, f64, i64, i32, bool.
enum class DType : uint8_t { F32, F64, I64, I32, Bool };

/// The text spelling of \p t ("f32", ...).
const char *dtypeName(DType t);
/// Parses a text spelling; nullopt if \p s names no dtype.
std::optional<DType> parseDType(std::string_view s);
/// Size of one element in bytes.
size_t dtypeSize(DType t);
/// True for f32 and f64.
bool isFloat(DType t);

/// A dimension whose size is not known yet, printed as '?'.
constexpr int64_t kDynamic = -1;

/// A tensor type: dtype and shape. The rank is always known; single
/// dimensions may be kDynamic until shape inference runs. Rank 0 is a scalar.
class TensorType {
public:
  TensorType() = default;
  TensorType(DType dtype, std::vector<int64_t> dims)
      : dtype_(dtype), dims_(std::move(dims)) {}

  DType dtype() const { return dtype_; }
  const std::vector<int64_t> &dims() const { return dims_; }
  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  int64_t dim(int64_t i) const { return dims_[i]; }
  void setDType(DType t) { dtype_ = t; }
  void setDims(std::vector<int64_t> dims) { dims_ = std::move(dims); }

  /// True when every dimension is known.
  bool isStatic() const;
  /// Number of elements; requires isStatic().
  int64_t numElements() const;
  /// Size in bytes; requires isStatic().
  int64_t numBytes() const { return numElements() * int64_t(dtypeSize(dtype_)); }
  /// True when the two types could describe the same tensor (same dtype and
  /// rank, every pair of known dims equal).
  bool isCompatibleWith(const TensorType &other) const;
  /// Text form: f32[1,3,28,28], f32[?,10], f32[] for a scalar.
  std::string str() const;

  bool operator==(const TensorType &o) const {
    return dtype_ == o.dtype_ && dims_ == o.dims_;
  }
  bool operator!=(const TensorType &o) const { return !(*this == o); }

private:
  DType dtype_ = DType::F32;
  std::vector<int64_t> dims_;
};

/// Formats a shape as "1x6x28x28" (the form of --summary and --shape).
std::string formatShapeX(const std::vector<int64_t> &dims);

/// A host tensor with a static type and data, used for constants, parameter
/// values and constant folding. Copies share the data (copy-on-write is the
/// caller's business: mutate only a tensor you created).
class Tensor {
public:
  Tensor() = default;
  /// A zero-filled tensor of a static \p type.
  explicit Tensor(TensorType type);

  const TensorType &type() const { return type_; }
  DType dtype() const { return type_.dtype(); }
  const std::vector<int64_t> &dims() const { return type_.dims(); }
  int64_t numElements() const { return type_.numElements(); }
  bool empty() const { return !data_; }

  const void *rawData() const { return data_ ? data_->data() : nullptr; }
  void *rawData() { return data_ ? data_->data() : nullptr; }
  size_t numBytes() const { return data_ ? data_->size() : 0; }
  template <typename T> T *data() { return static_cast<T *>(rawData()); }
  template <typename T> const T *data() const {
    return static_cast<const T *>(rawData());
  }

  /// Element \p i converted to double / int64, whatever the dtype.
  double getDouble(int64_t i) const;
  int64_t getInt(int64_t i) const;
  /// Stores \p v into element \p i, converted to the dtype.
  void setDouble(int64_t i, double v);
  void setInt(int64_t i, int64_t v);

  /// Builds a tensor of \p type from values (converted to its dtype).
  static Tensor fromDoubles(TensorType type, const std::vector<double> &v);
  static Tensor fromInts(TensorType type, const std::vector<int64_t> &v);
  /// All elements as int64 (for shape-like tensors).
  std::vector<int64_t> toInts() const;
  std::vector<double> toDoubles() const;

  /// Element-wise equality of type and bits.
  bool operator==(const Tensor &o) const;

private:
  TensorType type_;
  std::shared_ptr<std::vector<unsigned char>> data_;
};

} // namespace cnnc
