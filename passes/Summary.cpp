//===- passes/Summary.cpp - per-layer shapes, parameters and FLOPs ---------===//
#include "passes/Summary.h"

#include "ir/OpDef.h"

#include <algorithm>
#include <set>

namespace cnnc {

std::vector<LayerSummary> summarize(const Graph &g) {
  std::vector<LayerSummary> rows;
  std::set<const Value *> counted;
  for (const Node *n : g.nodes()) {
    LayerSummary row;
    row.name = n->numResults() ? n->result(0)->name() : n->op();
    row.op = n->op();
    if (n->numResults())
      row.outputType = n->result(0)->type();
    for (const Value *v : n->operands())
      if (v->isParam() && v->type().isStatic() && counted.insert(v).second)
        row.params += v->type().numElements();
    if (n->def().flopsFn())
      row.flops = n->def().flopsFn()(*n);
    rows.push_back(std::move(row));
  }
  return rows;
}

ParamTotals paramTotals(const Graph &g) {
  ParamTotals t;
  for (const Value *p : g.params()) {
    if (!p->type().isStatic())
      continue;
    (p->trainable() ? t.trainable : t.nonTrainable) += p->type().numElements();
    t.bytes += p->type().numBytes();
  }
  return t;
}

std::string formatThousands(int64_t n) {
  // The magnitude as unsigned, so that INT64_MIN does not overflow.
  uint64_t magnitude = n < 0 ? uint64_t(-(n + 1)) + 1 : uint64_t(n);
  std::string digits = std::to_string(magnitude);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

namespace {
/// A table whose columns are as wide as their widest cell.
class Table {
public:
  /// \p rightAligned[i]: column i is numeric.
  explicit Table(std::vector<bool> rightAligned)
      : right_(std::move(rightAligned)), width_(right_.size(), 0) {}
  void add(std::vector<std::string> row) {
    for (size_t i = 0; i < row.size(); ++i)
      width_[i] = std::max(width_[i], row[i].size());
    rows_.push_back(std::move(row));
  }
  std::string str() const {
    std::string s;
    for (const auto &row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        std::string pad(width_[i] - row[i].size(), ' ');
        // Two spaces between columns, one more before a numeric column.
        if (i)
          line += right_[i] ? "   " : "  ";
        line += right_[i] ? pad + row[i] : row[i] + pad;
      }
      line.erase(line.find_last_not_of(' ') + 1);
      s += line + "\n";
    }
    return s;
  }

private:
  std::vector<bool> right_;
  std::vector<size_t> width_;
  std::vector<std::vector<std::string>> rows_;
};
} // namespace

std::string formatSummary(const Graph &g) {
  std::vector<LayerSummary> rows = summarize(g);
  Table table({false, false, false, true, true});
  table.add({"layer", "op", "output", "params", "FLOPs"});
  int64_t params = 0, flops = 0;
  for (const LayerSummary &r : rows) {
    table.add({r.name, r.op, formatShapeX(r.outputType.dims()),
               formatThousands(r.params), formatThousands(r.flops)});
    params += r.params;
    flops += r.flops;
  }
  table.add({"total", "", "", formatThousands(params), formatThousands(flops)});
  ParamTotals t = paramTotals(g);
  return table.str() + "trainable parameters: " + formatThousands(t.trainable) +
         "   non-trainable: " + formatThousands(t.nonTrainable) +
         "   parameter bytes: " + formatThousands(t.bytes) + "\n";
}

/// The share of \p whole that \p part saves, rounded: "63%".
static std::string savedPercent(int64_t part, int64_t whole) {
  if (whole <= 0)
    return "0%";
  return std::to_string((100 * (whole - part) + whole / 2) / whole) + "%";
}

std::string formatMemorySummary(const MemorySummary &m) {
  Table table({false, true, true, true, true, true, true, true});
  table.add({"memory plan (bytes)", "arena", "naive", "saved", "live peak",
             "temps", "in place", "in concat"});
  for (const MemorySummary::Function &f : m.functions)
    table.add({"@" + f.name, formatThousands(f.arenaBytes),
               formatThousands(f.naiveBytes),
               savedPercent(f.arenaBytes, f.naiveBytes),
               formatThousands(f.liveBytes), formatThousands(f.numTemps),
               formatThousands(f.numInPlace),
               formatThousands(f.numConcatParts)});
  int64_t block = m.paramBytes + m.gradBytes + m.optStateBytes;
  std::string params = "parameter block: " + formatThousands(block) + " bytes";
  if (m.gradBytes || m.optStateBytes)
    params += " = params " + formatThousands(m.paramBytes) + " + gradients " +
              formatThousands(m.gradBytes) + " + optimizer state " +
              formatThousands(m.optStateBytes);
  if (m.cachedBytes)
    params += "\ncached between runs (transformed weights, in the arena): " +
              formatThousands(m.cachedBytes) + " bytes";
  return table.str() + params + "\ncreate_with_arena: " +
         formatThousands(m.createBytes) + " bytes = arena " +
         formatThousands(m.arenaBytes) + " + parameter block " +
         formatThousands(block) + "\n";
}

} // namespace cnnc
