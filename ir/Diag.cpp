//===- ir/Diag.cpp - source buffers and diagnostics ------------------------===//
#include "ir/Diag.h"

#include <iostream>
#include <regex>

namespace cnnc {

uint32_t SourceMgr::addBuffer(std::string name, std::string text,
                              uint32_t firstLine) {
  buffers_.push_back({std::move(name), std::move(text), firstLine});
  return uint32_t(buffers_.size());
}

std::string_view SourceMgr::lineText(SourceLoc loc) const {
  if (!loc.valid() || !hasBuffer(loc.buffer))
    return {};
  const std::string &t = text(loc.buffer);
  uint32_t want = loc.line - firstLine(loc.buffer);
  size_t pos = 0;
  for (uint32_t l = 0; l < want; ++l) {
    pos = t.find('\n', pos);
    if (pos == std::string::npos)
      return {};
    ++pos;
  }
  size_t end = t.find('\n', pos);
  return std::string_view(t).substr(pos, end == std::string::npos
                                             ? std::string::npos
                                             : end - pos);
}

SourceLoc SourceMgr::addLabel(uint32_t id, std::string label) {
  labels_.push_back(std::move(label));
  return SourceLoc{id, 0, uint32_t(labels_.size())};
}

const std::string &SourceMgr::label(SourceLoc loc) const {
  static const std::string none;
  if (loc.line != 0 || loc.col == 0 || loc.col > labels_.size())
    return none;
  return labels_[loc.col - 1];
}

DiagEngine::DiagEngine(const SourceMgr &sm, std::ostream *os)
    : sm_(sm), os_(os ? os : &std::cerr) {}

static const char *severityName(Severity s) {
  switch (s) {
  case Severity::Error: return "error";
  case Severity::Warning: return "warning";
  case Severity::Note: return "note";
  }
  return "error";
}

std::string DiagEngine::format(const Diagnostic &d) const {
  std::string out;
  if (sm_.hasBuffer(d.loc.buffer)) {
    out += sm_.name(d.loc.buffer);
    if (d.loc.line != 0)
      out += ":" + std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col);
    else if (!sm_.label(d.loc).empty())
      out += ": " + sm_.label(d.loc);
    out += ": ";
  }
  out += std::string(severityName(d.severity)) + ": " + d.message + "\n";
  std::string_view line = sm_.lineText(d.loc);
  if (!line.empty()) {
    out += std::string(line) + "\n";
    // Keep tabs so the caret lines up under the column.
    std::string pad;
    for (uint32_t i = 1; i < d.loc.col && i - 1 < line.size(); ++i)
      pad += line[i - 1] == '\t' ? '\t' : ' ';
    out += pad + "^\n";
  }
  return out;
}

void DiagEngine::report(Severity sev, SourceLoc loc, const std::string &msg) {
  if (sev == Severity::Error)
    ++numErrors_;
  Diagnostic d{sev, loc, msg};
  if (verifyMode_) {
    collected_.push_back(std::move(d));
    return;
  }
  *os_ << format(d);
  os_->flush();
}

namespace {
struct Expectation {
  Severity severity;
  uint32_t buffer, line;
  std::string text;
  bool matched = false;
};
} // namespace

bool DiagEngine::verifyExpected() {
  static const std::regex re(
      R"(expected-(error|warning|note)(@([+-]?)(\d+))?\s*\{\{(.*?)\}\})");
  std::vector<Expectation> expected;
  for (uint32_t b = 1; b <= sm_.numBuffers(); ++b) {
    const std::string &t = sm_.text(b);
    uint32_t line = sm_.firstLine(b);
    size_t pos = 0;
    while (pos <= t.size()) {
      size_t end = t.find('\n', pos);
      std::string l = t.substr(pos, end == std::string::npos ? std::string::npos
                                                             : end - pos);
      for (std::sregex_iterator it(l.begin(), l.end(), re), e; it != e; ++it) {
        const std::smatch &m = *it;
        Severity sev = m[1] == "error"     ? Severity::Error
                       : m[1] == "warning" ? Severity::Warning
                                           : Severity::Note;
        uint32_t target = line;
        if (m[2].matched) {
          uint32_t n = uint32_t(std::stoul(m[4]));
          target = m[3] == "+" ? line + n : m[3] == "-" ? line - n : n;
        }
        expected.push_back({sev, b, target, m[5], false});
      }
      if (end == std::string::npos)
        break;
      pos = end + 1;
      ++line;
    }
  }

  bool ok = true;
  for (const Diagnostic &d : collected_) {
    bool found = false;
    for (Expectation &e : expected) {
      if (e.matched || e.severity != d.severity || e.buffer != d.loc.buffer ||
          e.line != d.loc.line ||
          d.message.find(e.text) == std::string::npos)
        continue;
      e.matched = found = true;
      break;
    }
    if (!found) {
      ok = false;
      *os_ << "unexpected " << format(d);
    }
  }
  for (const Expectation &e : expected) {
    if (e.matched)
      continue;
    ok = false;
    *os_ << sm_.name(e.buffer) << ":" << e.line << ": expected "
         << severityName(e.severity) << " \"" << e.text
         << "\" was not produced\n";
  }
  collected_.clear();
  numErrors_ = 0;
  return ok;
}

} // namespace cnnc
