//===- ir/Diag.h - source buffers and diagnostics --------------------------===//
//
// Every user-facing error with a position goes through DiagEngine, which
// prints it as
//   file:line:col: error: message
//     <the source line>
//     ^
// In verify mode (cnnc-opt -verify-diagnostics) it collects the diagnostics
// instead and matches them against `expected-error@+N {{text}}` comments.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/SourceLoc.h"
#include "ir/Support.h"

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace cnnc {

/// Owns the text of the files being compiled, addressed by 1-based ids.
class SourceMgr {
public:
  /// Registers a buffer; \p firstLine is the line number of its first line
  /// in \p name (for chunks of a -split-input-file). Returns its id.
  uint32_t addBuffer(std::string name, std::string text,
                     uint32_t firstLine = 1);
  /// Is \p id one of this manager's buffers? (A graph may carry locations
  /// into another manager's: the one its text was parsed with.)
  bool hasBuffer(uint32_t id) const { return id != 0 && id <= buffers_.size(); }
  const std::string &name(uint32_t id) const { return buffers_[id - 1].name; }
  const std::string &text(uint32_t id) const { return buffers_[id - 1].text; }
  uint32_t firstLine(uint32_t id) const { return buffers_[id - 1].firstLine; }
  size_t numBuffers() const { return buffers_.size(); }
  /// The text of line \p loc.line (file numbering) without its newline.
  std::string_view lineText(SourceLoc loc) const;
  /// Registers a named place in buffer \p id that has no line of its own,
  /// such as a node of a binary ONNX file ("node 'conv1' (Conv, opset 13)").
  /// A diagnostic at the returned location prints as "file: label: error: ".
  SourceLoc addLabel(uint32_t id, std::string label);
  /// The label of \p loc (line 0, col = label number), or "" if none.
  const std::string &label(SourceLoc loc) const;

private:
  struct Buffer {
    std::string name, text;
    uint32_t firstLine;
  };
  std::vector<Buffer> buffers_;
  std::vector<std::string> labels_;
};

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity;
  SourceLoc loc;
  std::string message;
};

/// Reports diagnostics to a stream, or collects them in verify mode.
class DiagEngine {
public:
  explicit DiagEngine(const SourceMgr &sm, std::ostream *os = nullptr);

  void error(SourceLoc loc, const std::string &msg) {
    report(Severity::Error, loc, msg);
  }
  void warning(SourceLoc loc, const std::string &msg) {
    report(Severity::Warning, loc, msg);
  }
  void note(SourceLoc loc, const std::string &msg) {
    report(Severity::Note, loc, msg);
  }
  /// An error at \p loc (if valid) with the message of a failed Status.
  void error(SourceLoc loc, const Status &s) { error(loc, s.message()); }
  void report(Severity sev, SourceLoc loc, const std::string &msg);

  unsigned numErrors() const { return numErrors_; }
  bool hadError() const { return numErrors_ != 0; }

  /// Collect instead of printing, for verifyExpected().
  void setVerifyMode(bool on) { verifyMode_ = on; }
  bool verifyMode() const { return verifyMode_; }
  /// Matches the collected diagnostics against the expected-error,
  /// expected-warning and expected-note comments of every buffer. Prints each
  /// mismatch and returns false if there was one. Clears the collection.
  bool verifyExpected();

  /// Formats one diagnostic (with source line and caret when known).
  std::string format(const Diagnostic &d) const;

private:
  const SourceMgr &sm_;
  std::ostream *os_;
  bool verifyMode_ = false;
  unsigned numErrors_ = 0;
  std::vector<Diagnostic> collected_;
};

} // namespace cnnc
