//===- ir/Support.h - Status, Expected<T> and their macros -----------------===//
//
// Errors are values in cnnc: a function that can fail returns Status or
// Expected<T>. User mistakes with a source location go through DiagEngine;
// Status carries a message for everything else.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace cnnc {

/// The outcome of an operation: ok, or an error with a message.
class [[nodiscard]] Status {
public:
  Status() = default;
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return !failed_; }
  const std::string &message() const { return message_; }

private:
  bool failed_ = false;
  std::string message_;
};

/// Either a T or the Status explaining why there is none.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : value_(std::move(value)) {}
  Expected(Status status) : status_(std::move(status)) {
    assert(!status_.ok() && "Expected built from an ok Status");
  }
  bool ok() const { return value_.has_value(); }
  const Status &status() const { return status_; }
  T &value() {
    assert(ok() && "value() of a failed Expected");
    return *value_;
  }
  const T &value() const {
    assert(ok() && "value() of a failed Expected");
    return *value_;
  }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

private:
  std::optional<T> value_;
  Status status_;
};

/// "1 result", "2 results": \p n and \p noun, with an 's' unless n is 1.
inline std::string countNoun(size_t n, const std::string &noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

} // namespace cnnc

#define CNNC_CONCAT_IMPL(a, b) a##b
#define CNNC_CONCAT(a, b) CNNC_CONCAT_IMPL(a, b)

/// Returns the Status of \p expr from the enclosing function if it failed.
#define CNNC_RETURN_IF_ERROR(expr)                                             \
  do {                                                                         \
    ::cnnc::Status cnnc_status_ = (expr);                                      \
    if (!cnnc_status_.ok())                                                    \
      return cnnc_status_;                                                     \
  } while (0)

/// Evaluates the Expected \p expr; returns its Status on failure, otherwise
/// moves the value into \p lhs (which may be a declaration).
#define CNNC_ASSIGN_OR_RETURN(lhs, expr)                                       \
  auto CNNC_CONCAT(cnnc_expected_, __LINE__) = (expr);                         \
  if (!CNNC_CONCAT(cnnc_expected_, __LINE__).ok())                             \
    return CNNC_CONCAT(cnnc_expected_, __LINE__).status();                     \
  lhs = std::move(*CNNC_CONCAT(cnnc_expected_, __LINE__))
