//===- frontend/onnx/OnnxProto.cpp - ONNX protobuf helpers ----------------===//
#include "frontend/onnx/OnnxProto.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ONNX raw_data is little-endian; this reader assumes a little-endian host"
#endif

namespace cnnc::onnxproto {

using onnx::TensorProto;

std::optional<DType> dtypeFromOnnx(int32_t t) {
  switch (t) {
  case TensorProto::FLOAT: return DType::F32;
  case TensorProto::DOUBLE: return DType::F64;
  case TensorProto::INT64: return DType::I64;
  case TensorProto::INT32: return DType::I32;
  case TensorProto::BOOL: return DType::Bool;
  default: return std::nullopt;
  }
}

int32_t dtypeToOnnx(DType t) {
  switch (t) {
  case DType::F32: return TensorProto::FLOAT;
  case DType::F64: return TensorProto::DOUBLE;
  case DType::I64: return TensorProto::INT64;
  case DType::I32: return TensorProto::INT32;
  case DType::Bool: return TensorProto::BOOL;
  }
  return TensorProto::UNDEFINED;
}

std::string onnxDTypeName(int32_t t) {
  if (!TensorProto::DataType_IsValid(t))
    return std::to_string(t);
  return TensorProto::DataType_Name(TensorProto::DataType(t));
}

/// Number of elements of \p dims, or an error for a negative or absurd dim.
static Expected<int64_t> elementCount(const TensorProto &t) {
  int64_t n = 1;
  // Bytes are addressed with int64 and allocated; 2^40 elements is far
  // beyond any model and keeps n * 8 from overflowing.
  constexpr int64_t kMax = int64_t(1) << 40;
  for (int64_t d : t.dims()) {
    if (d < 0)
      return Status::error("negative dimension " + std::to_string(d));
    if (d != 0 && n > kMax / d)
      return Status::error("too many elements (dims overflow)");
    n *= d;
  }
  return n;
}

/// "[2, 3]" for messages.
static std::string dimsText(const TensorProto &t) {
  std::string s = "[";
  for (int i = 0; i < t.dims_size(); ++i)
    s += (i ? ", " : "") + std::to_string(t.dims(i));
  return s + "]";
}

/// True if \p location stays inside the model's directory.
static bool isSafeRelativePath(const std::string &location) {
  if (location.empty() || location[0] == '/')
    return false;
  size_t pos = 0;
  while (pos <= location.size()) {
    size_t end = location.find('/', pos);
    std::string part = location.substr(pos, end == std::string::npos
                                                ? std::string::npos
                                                : end - pos);
    if (part == "..")
      return false;
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  return true;
}

/// Reads \p bytes bytes of external data into \p out.
static Status readExternal(const TensorProto &t, const std::string &baseDir,
                           int64_t bytes, void *out) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &kv : t.external_data()) {
    const std::string &key = kv.key(), &value = kv.value();
    if (key == "location") {
      location = value;
      continue;
    }
    if (key != "offset" && key != "length")
      continue; // checksum and others are informative
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno == ERANGE || v < 0)
      return Status::error("external data " + key + " '" + value +
                           "' is not a non-negative integer");
    (key == "offset" ? offset : length) = v;
  }
  if (location.empty())
    return Status::error("external data has no location");
  if (!isSafeRelativePath(location))
    return Status::error("external data location '" + location +
                         "' must be a relative path inside the model's "
                         "directory");
  if (length >= 0 && length != bytes)
    return Status::error("external data length " + std::to_string(length) +
                         " differs from the " + std::to_string(bytes) +
                         " bytes that dims " + dimsText(t) + " need");
  std::string path = (baseDir.empty() ? std::string(".") : baseDir) + "/" +
                     location;
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return Status::error("cannot open external data file '" + path +
                         "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return Status::error("external data file '" + path +
                         "' is not a regular file");
  if (offset > int64_t(st.st_size) || int64_t(st.st_size) - offset < bytes)
    return Status::error("external data file '" + path + "' has " +
                         std::to_string(st.st_size) +
                         " bytes, too short for bytes " +
                         std::to_string(offset) + " to " +
                         std::to_string(offset + bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot open external data file '" + path +
                         "': " + std::strerror(errno));
  in.seekg(offset);
  in.read(static_cast<char *>(out), std::streamsize(bytes));
  if (!in)
    return Status::error("cannot read external data file '" + path + "'");
  return Status::success();
}

/// Copies the \p n values of a typed repeated field (float_data, ...).
template <typename Field>
static void copyTyped(const Field &field, int64_t n, Tensor &out) {
  for (int64_t i = 0; i < n; ++i) {
    if (isFloat(out.dtype()))
      out.setDouble(i, double(field.Get(int(i))));
    else
      out.setInt(i, int64_t(field.Get(int(i))));
  }
}

Expected<Tensor> tensorFromProto(const TensorProto &t,
                                 const std::string &baseDir) {
  std::optional<DType> dt = dtypeFromOnnx(t.data_type());
  if (!dt)
    return Status::error("unsupported dtype " + onnxDTypeName(t.data_type()));
  if (t.has_segment())
    return Status::error("segmented tensors are not supported");
  CNNC_ASSIGN_OR_RETURN(int64_t n, elementCount(t));
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  int64_t bytes = n * int64_t(dtypeSize(*dt));

  if (t.data_location() == TensorProto::EXTERNAL) {
    Tensor out{TensorType(*dt, dims)};
    CNNC_RETURN_IF_ERROR(readExternal(t, baseDir, bytes, out.rawData()));
    return out;
  }
  if (t.has_raw_data()) {
    if (int64_t(t.raw_data().size()) != bytes)
      return Status::error("raw_data has " +
                           std::to_string(t.raw_data().size()) +
                           " bytes but dims " + dimsText(t) + " of " +
                           dtypeName(*dt) + " need " + std::to_string(bytes));
    Tensor out{TensorType(*dt, dims)};
    if (bytes)
      std::memcpy(out.rawData(), t.raw_data().data(), size_t(bytes));
    return out;
  }
  // Typed fields: check the count before allocating (a corrupt dims field
  // must not allocate terabytes).
  int64_t have = 0;
  const char *field = "";
  switch (*dt) {
  case DType::F32: have = t.float_data_size(), field = "float_data"; break;
  case DType::F64: have = t.double_data_size(), field = "double_data"; break;
  case DType::I64: have = t.int64_data_size(), field = "int64_data"; break;
  case DType::I32:
  case DType::Bool: have = t.int32_data_size(), field = "int32_data"; break;
  }
  if (have != n)
    return Status::error(std::string(field) + " has " + std::to_string(have) +
                         " values but dims " + dimsText(t) + " need " +
                         std::to_string(n));
  Tensor out{TensorType(*dt, dims)};
  switch (*dt) {
  case DType::F32: copyTyped(t.float_data(), n, out); break;
  case DType::F64: copyTyped(t.double_data(), n, out); break;
  case DType::I64: copyTyped(t.int64_data(), n, out); break;
  case DType::I32:
  case DType::Bool: copyTyped(t.int32_data(), n, out); break;
  }
  return out;
}

void tensorToProto(const Tensor &t, TensorProto *out) {
  out->clear_dims();
  for (int64_t d : t.dims())
    out->add_dims(d);
  out->set_data_type(dtypeToOnnx(t.dtype()));
  out->set_raw_data(std::string(static_cast<const char *>(t.rawData()),
                                t.numBytes()));
}

std::string camelToSnake(const std::string &name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (std::isupper(c)) {
      if (i > 0 && out.back() != '_')
        out += '_';
      out += char(std::tolower(c));
      continue;
    }
    out += char(c);
  }
  return out;
}

std::string snakeToCamel(const std::string &name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    bool singleLetter = name[i] == '_' && i > 0 && i + 1 < name.size() &&
                        std::isalpha(static_cast<unsigned char>(name[i + 1])) &&
                        (i + 2 == name.size() || name[i + 2] == '_');
    if (singleLetter) {
      out += char(std::toupper(static_cast<unsigned char>(name[++i])));
      continue;
    }
    out += name[i];
  }
  return out;
}

} // namespace cnnc::onnxproto
