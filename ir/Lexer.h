//===- ir/Lexer.h - tokens of the IR text form and the network language ----===//
//
// One lexer for both languages. Comments run from '//' or '#' to the end of
// the line. With newlines on (the network language is line-oriented) each end
// of line is a token.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/SourceLoc.h"

#include <string>
#include <string_view>

namespace cnnc {

enum class Tok {
  Eof,
  Newline,
  Ident,     ///< conv, f32, he, lenet5.c1 (letters, digits, '_', '.')
  ValueName, ///< %x or %"any text"; text() is the name without '%'
  AtName,    ///< @lenet
  Int,       ///< 42, -3
  Float,     ///< 0.5, 1e-05, -2.0
  String,    ///< "text", text() unescaped
  DimsX,     ///< 5x5, 1x28x28 (the 'x'-separated sizes of the network language)
  LParen, RParen, LBracket, RBracket, LBrace, RBrace, Less, Greater,
  Comma, Colon, Equal, Question, Arrow, Star, Plus, Minus,
  Error,     ///< bad character or unterminated string; text() says why
};

/// A token: kind, text, and where it starts.
struct Token {
  Tok kind = Tok::Eof;
  std::string text;
  SourceLoc loc;
  bool is(Tok k) const { return kind == k; }
  bool isIdent(std::string_view s) const {
    return kind == Tok::Ident && text == s;
  }
};

/// Human-readable name of a token kind for "expected X" messages.
const char *tokName(Tok k);

class Lexer {
public:
  /// Lexes \p text of buffer \p buffer, whose first line is \p firstLine.
  Lexer(std::string_view text, uint32_t buffer, uint32_t firstLine = 1,
        bool newlines = false);
  /// The next token (Eof forever at the end).
  Token next();

private:
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  char advance();
  SourceLoc here() const { return {buffer_, line_, col_}; }
  void skipSpaceAndComments();
  Token lexNumber(SourceLoc start);

  std::string_view text_;
  size_t pos_ = 0;
  uint32_t buffer_, line_, col_ = 1;
  bool newlines_;
};

} // namespace cnnc
