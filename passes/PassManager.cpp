//===- passes/PassManager.cpp - the pass registry and pipelines ------------===//
#include "passes/PassManager.h"

#include "ir/Verifier.h"

#include <cctype>

namespace cnnc {

std::string PassOptions::getString(const std::string &key,
                                   const std::string &dflt) const {
  read_.insert(key);
  auto it = values.find(key);
  return it == values.end() ? dflt : it->second;
}

std::string PassOptions::unread() const {
  std::string names;
  for (const auto &kv : values)
    if (!read_.count(kv.first))
      names += (names.empty() ? "'" : ", '") + kv.first + "'";
  return names;
}

Expected<int64_t> PassOptions::getInt(const std::string &key,
                                      int64_t dflt) const {
  read_.insert(key);
  auto it = values.find(key);
  if (it == values.end())
    return dflt;
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size())
      return v;
  } catch (...) {
  }
  return Status::error("option '" + key + "' must be an integer, got '" +
                       it->second + "'");
}

const std::vector<PassInfo> &allPasses() {
  static const std::vector<PassInfo> passes = {
#define CNNC_PASS(Name, Class, Summary) {Name, Summary, &run##Class},
#include "passes/Passes.def"
  };
  return passes;
}

const PassInfo *lookupPass(const std::string &name) {
  for (const PassInfo &p : allPasses())
    if (name == p.name)
      return &p;
  return nullptr;
}

static std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string knownPassNames() {
  std::string known;
  for (const PassInfo &p : allPasses())
    known += (known.empty() ? "" : ", ") + std::string(p.name);
  return known;
}

Expected<std::vector<PipelineStep>> parsePipeline(const std::string &text) {
  std::vector<PipelineStep> steps;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = pos;
    while (end < text.size() && text[end] != ',' && text[end] != '{')
      ++end;
    std::string name = trim(text.substr(pos, end - pos));
    if (name.empty())
      return Status::error("empty pass name in pipeline '" + text + "'");
    const PassInfo *info = lookupPass(name);
    if (!info)
      return Status::error("unknown pass '" + name + "' (known: " +
                           knownPassNames() + ")");
    PipelineStep step{info, {}};
    if (end < text.size() && text[end] == '{') {
      size_t close = text.find('}', end);
      if (close == std::string::npos)
        return Status::error("missing '}' after options of pass '" + name +
                             "'");
      std::string opts = text.substr(end + 1, close - end - 1);
      size_t p = 0;
      while (p < opts.size()) {
        size_t comma = opts.find(',', p);
        std::string kv = opts.substr(p, comma == std::string::npos
                                            ? std::string::npos
                                            : comma - p);
        size_t eq = kv.find('=');
        if (eq == std::string::npos || trim(kv.substr(0, eq)).empty())
          return Status::error("pass option '" + trim(kv) + "' of '" + name +
                               "' is not key=value");
        step.options.values[trim(kv.substr(0, eq))] = trim(kv.substr(eq + 1));
        if (comma == std::string::npos)
          break;
        p = comma + 1;
      }
      end = close + 1;
    }
    steps.push_back(std::move(step));
    if (end < text.size() && text[end] != ',')
      return Status::error("expected ',' after pass '" + name + "' in '" +
                           text + "'");
    pos = end + 1;
    if (pos == text.size())
      return Status::error("empty pass name in pipeline '" + text + "'");
  }
  return steps;
}

bool PassManager::run(Graph &g, DiagEngine &diag) {
  for (const PipelineStep &step : steps_) {
    Status s = step.pass->run(g, diag, step.options);
    if (!s.ok()) {
      if (!s.message().empty())
        diag.error(g.loc(), std::string(step.pass->name) + ": " + s.message());
      return false;
    }
    if (diag.hadError())
      return false;
    std::string unknown = step.options.unread();
    if (!unknown.empty()) {
      diag.error(g.loc(), std::string(step.pass->name) + ": unknown option " +
                              unknown);
      return false;
    }
    if (verifyEach_ && !verifyGraph(g, diag)) {
      diag.error(g.loc(), std::string("the graph is invalid after pass '") +
                              step.pass->name + "' (a compiler bug)");
      return false;
    }
    if (afterPass_)
      afterPass_(step.pass->name, g);
  }
  return true;
}

} // namespace cnnc
