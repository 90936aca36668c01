//===- codegen/WeightsFile.cpp - the --weights=external parameter file -----===//
//
// The format is runtime/cnnc_weights_format.h; the runtime reads it back.
//
//===----------------------------------------------------------------------===//
#include "codegen/Link.h"

#include "ir/FileIO.h"

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

} // namespace cnnc
