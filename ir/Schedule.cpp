//===- ir/Schedule.cpp - kernel schedules and the machine model -----------===//
#include "ir/Schedule.h"

#include "ir/OpDef.h"

#include <algorithm>
#include <sstream>

namespace cnnc {

std::string KernelSchedule::str() const {
  std::string s = "vector=" + std::to_string(vector);
  if (tileFilters)
    s += " tile=" + std::to_string(tileFilters) + "x" + std::to_string(tileRows);
  return s + " parallel=" + parallel;
}

Expected<KernelSchedule> parseSchedule(const std::string &text) {
  KernelSchedule s;
  std::istringstream in(text);
  std::string item;
  auto bad = [&](const std::string &why) {
    return Status::error("schedule '" + text + "': " + why);
  };
  auto number = [](const std::string &v, int &out) {
    if (v.empty() || v.size() > 4 ||
        !std::all_of(v.begin(), v.end(), ::isdigit))
      return false;
    out = std::stoi(v);
    return true;
  };
  while (in >> item) {
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      return bad("'" + item + "' is not key=value");
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "vector") {
      if (!number(value, s.vector))
        return bad("vector must be a number of lanes, got '" + value + "'");
    } else if (key == "tile") {
      size_t x = value.find('x');
      if (x == std::string::npos || !number(value.substr(0, x), s.tileFilters) ||
          !number(value.substr(x + 1), s.tileRows) || !s.tileFilters ||
          !s.tileRows)
        return bad("tile must be FILTERSxROWS, got '" + value + "'");
    } else if (key == "parallel") {
      if (value != "batch" && value != "rows" && value != "filters" &&
          value != "outer" && value != "none")
        return bad("parallel must be batch, rows, filters, outer or none, "
                   "got '" + value + "'");
      s.parallel = value;
    } else {
      return bad("unknown key '" + key + "' (vector, tile, parallel)");
    }
  }
  return s;
}

std::pair<int, int> chooseConvTile(int64_t filters, int64_t height,
                                   int maxRows, int registers) {
  std::pair<int, int> best{1, 1};
  double bestScore = 0;
  for (int mb : {1, 2, 3, 4, 6, 8}) {
    if (mb > filters)
      continue;
    for (int rb = 1; rb <= maxRows && rb <= height; ++rb) {
      if (mb * rb + mb + 1 > registers)
        continue;
      double cycles = std::max({mb * rb / 2.0, (mb + rb) / 2.0, 5.0});
      double waste = double((filters + mb - 1) / mb * mb) / double(filters) *
                     double((height + rb - 1) / rb * rb) / double(height);
      double score = mb * rb / cycles / waste;
      if (score > bestScore + 1e-9) {
        bestScore = score;
        best = {mb, rb};
      }
    }
  }
  return best;
}

std::pair<int, int> chooseConvGradWeightTile(int64_t filters, int64_t channels,
                                             int64_t taps, int registers) {
  std::pair<int, int> best{1, 1};
  double bestScore = 0;
  for (int mb = 1; mb <= 8 && mb <= filters; ++mb)
    for (int cb = 1; cb <= 8 && cb <= channels; ++cb) {
      int64_t accs = mb * cb * taps;
      if (accs + mb + 1 > registers)
        continue;
      double cycles = std::max({accs / 2.0, (mb + cb * taps) / 2.0, 5.0});
      double waste = double((filters + mb - 1) / mb * mb) / double(filters) *
                     double((channels + cb - 1) / cb * cb) / double(channels);
      double score = double(accs) / cycles / waste;
      if (score > bestScore + 1e-9) {
        bestScore = score;
        best = {mb, cb};
      }
    }
  return best;
}

/// Bits of one element of \p t as lowered (bool is a byte).
static int elementBits(const TensorType &t) {
  switch (t.dtype()) {
  case DType::F64:
  case DType::I64:
    return 64;
  case DType::Bool:
    return 8;
  default:
    return 32;
  }
}

KernelSchedule chooseSchedule(const Node &anchor, const MachineModel &m) {
  KernelSchedule s;
  const TensorType &y = anchor.result(0)->type();
  s.vector = std::max(1, m.vectorBits / elementBits(y));
  double flops = anchor.def().flopsFn() ? double(anchor.def().flopsFn()(anchor))
                                        : 0.0;
  double bytes = double(y.isStatic() ? y.numBytes() : 0);
  for (const Value *v : anchor.operands())
    bytes += double(v->type().isStatic() ? v->type().numBytes() : 0);
  if (anchor.op() == "conv" && y.isStatic() && y.rank() >= 3) {
    const TensorType &w = anchor.operand(1)->type();
    int64_t spatial = y.rank() - 2, taps = 1;
    for (int64_t i = 0; i < spatial; ++i)
      taps *= w.dim(2 + i);
    bool rows = spatial >= 2;
    int64_t height = rows ? y.dim(y.rank() - 2) : 1, filters = y.dim(1);
    auto [mb, rb] = chooseConvTile(filters, height, taps == 1 ? 2 : 8,
                                   m.vectorRegisters);
    s.tileFilters = mb;
    s.tileRows = rb;
    if (y.dim(0) > 1)
      s.parallel = "batch"; // one task per image: no sync inside an image
    else if (rows && (height + rb - 1) / rb > 1)
      s.parallel = "rows";
    else if (filters > mb)
      s.parallel = "filters";
    else
      s.parallel = "none";
  }
  if (anchor.op() == "conv_grad_weight" && y.isStatic() && y.rank() == 4) {
    // dw[M, C, Ky, Kx]: tiles of mb filters x cb channels x the Kx taps.
    auto [mb, cb] = chooseConvGradWeightTile(y.dim(0), y.dim(1), y.dim(3),
                                             m.vectorRegisters);
    s.tileFilters = mb;
    s.tileRows = cb;
    s.parallel = y.dim(0) > mb ? "filters" : "none";
  }
  double seconds = std::max(flops / m.coreFlops, bytes / m.coreBytesPerSecond);
  if (m.cores <= 1 || seconds < m.parallelMinSeconds)
    s.parallel = "none";
  return s;
}

Expected<KernelSchedule> scheduleOf(const Node &anchor) {
  if (anchor.hasAttr(kScheduleAttr))
    return parseSchedule(anchor.attr(kScheduleAttr).getString());
  return chooseSchedule(anchor, MachineModel());
}

} // namespace cnnc
