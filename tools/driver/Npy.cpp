//===- tools/driver/Npy.cpp - NumPy .npy files ------------------------------===//
//
// Format: "\x93NUMPY", major, minor, header length (2 bytes for 1.0, 4 for
// 2.0/3.0), then a Python dict literal {'descr': '<f4', 'fortran_order':
// False, 'shape': (2, 3), } padded with spaces to a multiple of 64, then data.
//
//===----------------------------------------------------------------------===//
#include "tools/driver/Npy.h"

#include "tools/driver/InputFile.h"

#include <cstring>
#include <regex>

namespace cnnc {

static const char kMagic[] = "\x93NUMPY";

static std::optional<DType> dtypeFromDescr(const std::string &d) {
  if (d == "<f4") return DType::F32;
  if (d == "<f8") return DType::F64;
  if (d == "<i8") return DType::I64;
  if (d == "<i4") return DType::I32;
  if (d == "|b1" || d == "|u1") return DType::Bool;
  return std::nullopt;
}

static const char *descrOf(DType t) {
  switch (t) {
  case DType::F32: return "<f4";
  case DType::F64: return "<f8";
  case DType::I64: return "<i8";
  case DType::I32: return "<i4";
  case DType::Bool: return "|b1";
  }
  return "?";
}

Expected<Tensor> readNpy(const std::string &path) {
  CNNC_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  auto bad = [&](const std::string &why) {
    return Status::error("'" + path + "' is not a valid .npy file: " + why);
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0)
    return bad("missing the \\x93NUMPY magic");
  unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen, pos;
  if (major == 1) {
    headerLen = size_t(static_cast<unsigned char>(bytes[8])) |
                size_t(static_cast<unsigned char>(bytes[9])) << 8;
    pos = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return bad("truncated header");
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    pos = 12;
  } else {
    return bad("unsupported format version " + std::to_string(major));
  }
  if (pos + headerLen > bytes.size())
    return bad("truncated header");
  std::string header = bytes.substr(pos, headerLen);
  std::smatch m;
  static const std::regex descrRe(R"('descr'\s*:\s*'([^']*)')");
  static const std::regex orderRe(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex shapeRe(R"('shape'\s*:\s*\(([^)]*)\))");
  if (!std::regex_search(header, m, descrRe))
    return bad("no 'descr' in the header");
  auto dtype = dtypeFromDescr(m[1]);
  if (!dtype)
    return bad("unsupported dtype '" + m[1].str() +
               "' (expected <f4, <f8, <i8, <i4 or |b1)");
  if (!std::regex_search(header, m, orderRe))
    return bad("no 'fortran_order' in the header");
  if (m[1] == "True")
    return bad("Fortran order is not supported (save a C-contiguous array)");
  if (!std::regex_search(header, m, shapeRe))
    return bad("no 'shape' in the header");
  std::vector<int64_t> dims;
  std::string shape = m[1];
  static const std::regex numRe(R"(\d+)");
  for (std::sregex_iterator it(shape.begin(), shape.end(), numRe), e; it != e;
       ++it)
    dims.push_back(std::stoll(it->str()));
  TensorType type(*dtype, dims);
  Tensor t(type);
  size_t dataPos = pos + headerLen;
  if (bytes.size() - dataPos != t.numBytes())
    return bad("data has " + std::to_string(bytes.size() - dataPos) +
               " bytes but shape " + type.str() + " needs " +
               std::to_string(t.numBytes()));
  std::memcpy(t.rawData(), bytes.data() + dataPos, t.numBytes());
  return t;
}

Status writeNpy(const std::string &path, const Tensor &t) {
  std::string shape;
  for (int64_t d : t.dims())
    shape += std::to_string(d) + ", ";
  if (t.dims().size() > 1)
    shape.resize(shape.size() - 2);
  else if (t.dims().size() == 1)
    shape.resize(shape.size() - 1);
  std::string header = std::string("{'descr': '") + descrOf(t.dtype()) +
                       "', 'fortran_order': False, 'shape': (" + shape + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic, 6);
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  out += header;
  out.append(static_cast<const char *>(t.rawData()), t.numBytes());
  return writeFile(path, out);
}

} // namespace cnnc
