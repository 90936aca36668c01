//===- codegen/WeightsFile.cpp - the --weights=external parameter file -----===//
//
// The format is runtime/cnnc_weights_format.h; the runtime reads it back.
//
//===----------------------------------------------------------------------===//
#include "codegen/Link.h"

#include "ir/FileIO.h"

#include "ir/ParamInit.h"

#include <cstring>
#include <zlib.h>

namespace cnnc {

static void putU32(std::string &s, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s += char((v >> (8 * i)) & 0xff);
}

static void putU64(std::string &s, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    s += char((v >> (8 * i)) & 0xff);
}

Status writeWeightsFile(const ModelPlan &plan, const std::string &path) {
  std::string out = "CNNCPRM1";
  putU32(out, uint32_t(plan.params.size()));
  for (int32_t p : plan.params) {
    const PlanTensor &t = plan.tensors[size_t(p)];
    putU32(out, uint32_t(t.name.size()));
    out += t.name;
    putU32(out, uint32_t(t.type.dtype()));
    putU32(out, uint32_t(t.type.rank()));
    for (int64_t d : t.type.dims())
      putU64(out, uint64_t(d));
    putU64(out, uint64_t(t.bytes));
    out.append(reinterpret_cast<const char *>(plan.weights.data()) + t.offset,
               size_t(t.bytes));
  }
  uLong crc = crc32(0L, reinterpret_cast<const Bytef *>(out.data()),
                    uInt(out.size()));
  putU32(out, uint32_t(crc));
  return writeFile(path, out);
}

namespace {
/// Reads the little-endian fields of a parameter file, failing past its end.
struct Reader {
  const std::string &bytes;
  size_t pos = 0;
  bool take(size_t n) {
    if (n > bytes.size() - pos)
      return false;
    pos += n;
    return true;
  }
  bool u32(uint32_t &v) {
    if (!take(4))
      return false;
    v = 0;
    for (int i = 0; i < 4; ++i)
      v |= uint32_t(uint8_t(bytes[pos - 4 + size_t(i)])) << (8 * i);
    return true;
  }
  bool u64(uint64_t &v) {
    if (!take(8))
      return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v |= uint64_t(uint8_t(bytes[pos - 8 + size_t(i)])) << (8 * i);
    return true;
  }
};
} // namespace

Expected<std::map<std::string, Tensor>>
readWeightsFile(const std::string &path) {
  CNNC_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  auto corrupt = [&](const std::string &why) {
    return Status::error("parameter file '" + path + "': " + why);
  };
  if (bytes.size() < 16 || bytes.compare(0, 8, "CNNCPRM1") != 0)
    return corrupt("not a cnnc parameter file (bad magic or too short)");
  uLong crc = crc32(0L, reinterpret_cast<const Bytef *>(bytes.data()),
                    uInt(bytes.size() - 4));
  Reader tail{bytes, bytes.size() - 4};
  uint32_t stored = 0;
  tail.u32(stored);
  if (uint32_t(crc) != stored)
    return corrupt("checksum mismatch (the file is damaged)");
  std::string body = bytes.substr(0, bytes.size() - 4);
  Reader r{body, 8};
  uint32_t count = 0;
  if (!r.u32(count))
    return corrupt("truncated header");
  std::map<std::string, Tensor> out;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = 0, dtype = 0, rank = 0;
    if (!r.u32(len) || len == 0 || len > 4096 || !r.take(len))
      return corrupt("bad name in record " + std::to_string(i));
    std::string name = body.substr(r.pos - len, len);
    if (!r.u32(dtype) || dtype > uint32_t(DType::Bool) || !r.u32(rank) ||
        rank > 8)
      return corrupt("bad dtype or rank of '" + name + "'");
    std::vector<int64_t> dims;
    for (uint32_t d = 0; d < rank; ++d) {
      uint64_t v = 0;
      if (!r.u64(v) || v > (uint64_t(1) << 40))
        return corrupt("bad dims of '" + name + "'");
      dims.push_back(int64_t(v));
    }
    Tensor t(TensorType(DType(dtype), dims));
    uint64_t b = 0;
    if (!r.u64(b) || b != uint64_t(t.numBytes()) || !r.take(size_t(b)))
      return corrupt("bad data length of '" + name + "'");
    std::memcpy(t.rawData(), body.data() + r.pos - b, size_t(b));
    out[name] = std::move(t);
  }
  if (r.pos != body.size())
    return corrupt("trailing bytes after the last record");
  return out;
}

Status setParamValues(Graph &g, const std::map<std::string, Tensor> &values,
                      const std::string &source) {
  for (Value *p : g.params()) {
    auto it = values.find(p->name());
    if (it == values.end())
      return Status::error("'" + source + "' has no parameter '" + p->name() +
                           "' of the model");
    if (it->second.type() != p->type())
      return Status::error("parameter '" + p->name() + "' is " +
                           it->second.type().str() + " in '" + source +
                           "' but " + p->type().str() + " in the model");
    p->init() = ParamInit::dense(it->second);
  }
  return Status::success();
}

} // namespace cnnc
