//===- ir/Lexer.cpp - tokens of the IR text form and the network language --===//
#include "ir/Lexer.h"

#include <cctype>

namespace cnnc {

const char *tokName(Tok k) {
  switch (k) {
  case Tok::Eof: return "end of file";
  case Tok::Newline: return "end of line";
  case Tok::Ident: return "identifier";
  case Tok::ValueName: return "value name";
  case Tok::AtName: return "'@name'";
  case Tok::Int: return "integer";
  case Tok::Float: return "number";
  case Tok::String: return "string";
  case Tok::DimsX: return "sizes like 5x5";
  case Tok::LParen: return "'('";
  case Tok::RParen: return "')'";
  case Tok::LBracket: return "'['";
  case Tok::RBracket: return "']'";
  case Tok::LBrace: return "'{'";
  case Tok::RBrace: return "'}'";
  case Tok::Less: return "'<'";
  case Tok::Greater: return "'>'";
  case Tok::Comma: return "','";
  case Tok::Colon: return "':'";
  case Tok::Equal: return "'='";
  case Tok::Question: return "'?'";
  case Tok::Arrow: return "'->'";
  case Tok::Star: return "'*'";
  case Tok::Plus: return "'+'";
  case Tok::Minus: return "'-'";
  case Tok::Error: return "invalid token";
  }
  return "token";
}

Lexer::Lexer(std::string_view text, uint32_t buffer, uint32_t firstLine,
             bool newlines)
    : text_(text), buffer_(buffer), line_(firstLine), newlines_(newlines) {}

char Lexer::advance() {
  char c = text_[pos_++];
  if (c == '\n') {
    ++line_;
    col_ = 1;
  } else {
    ++col_;
  }
  return c;
}

void Lexer::skipSpaceAndComments() {
  while (pos_ < text_.size()) {
    char c = peek();
    if (c == '\n' && newlines_)
      return;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      advance();
      continue;
    }
    if (c == '#' || (c == '/' && peek(1) == '/')) {
      while (pos_ < text_.size() && peek() != '\n')
        advance();
      continue;
    }
    return;
  }
}

static bool isIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
static bool isIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

Token Lexer::lexNumber(SourceLoc start) {
  size_t begin = pos_;
  if (peek() == '-' || peek() == '+')
    advance();
  while (std::isdigit(static_cast<unsigned char>(peek())))
    advance();
  // 5x5, 1x28x28: sizes of the network language.
  if (peek() == 'x' && std::isdigit(static_cast<unsigned char>(peek(1))) &&
      std::isdigit(static_cast<unsigned char>(text_[begin]))) {
    while (peek() == 'x' && std::isdigit(static_cast<unsigned char>(peek(1)))) {
      advance();
      while (std::isdigit(static_cast<unsigned char>(peek())))
        advance();
    }
    return {Tok::DimsX, std::string(text_.substr(begin, pos_ - begin)), start};
  }
  bool isFloat = false;
  if (peek() == '.' && std::isdigit(static_cast<unsigned char>(peek(1)))) {
    isFloat = true;
    advance();
    while (std::isdigit(static_cast<unsigned char>(peek())))
      advance();
  }
  if ((peek() == 'e' || peek() == 'E') &&
      (std::isdigit(static_cast<unsigned char>(peek(1))) ||
       ((peek(1) == '-' || peek(1) == '+') &&
        std::isdigit(static_cast<unsigned char>(peek(2)))))) {
    isFloat = true;
    advance();
    if (peek() == '-' || peek() == '+')
      advance();
    while (std::isdigit(static_cast<unsigned char>(peek())))
      advance();
  }
  return {isFloat ? Tok::Float : Tok::Int,
          std::string(text_.substr(begin, pos_ - begin)), start};
}

Token Lexer::next() {
  skipSpaceAndComments();
  SourceLoc start = here();
  if (pos_ >= text_.size())
    return {Tok::Eof, "", start};
  char c = peek();
  if (c == '\n') {
    advance();
    return {Tok::Newline, "\n", start};
  }
  if (std::isdigit(static_cast<unsigned char>(c)) ||
      ((c == '-' || c == '+') &&
       std::isdigit(static_cast<unsigned char>(peek(1)))))
    return lexNumber(start);
  if (isIdentStart(c)) {
    size_t begin = pos_;
    while (isIdentChar(peek()))
      advance();
    return {Tok::Ident, std::string(text_.substr(begin, pos_ - begin)), start};
  }
  if (c == '"') {
    advance();
    std::string s;
    while (pos_ < text_.size() && peek() != '"' && peek() != '\n') {
      char ch = advance();
      if (ch != '\\') {
        s += ch;
        continue;
      }
      char e = pos_ < text_.size() ? advance() : '\0';
      switch (e) {
      case 'n': s += '\n'; break;
      case 't': s += '\t'; break;
      case '"': s += '"'; break;
      case '\\': s += '\\'; break;
      default:
        if (std::isxdigit(static_cast<unsigned char>(e)) &&
            std::isxdigit(static_cast<unsigned char>(peek()))) {
          char hex[3] = {e, advance(), 0};
          s += char(std::stoi(hex, nullptr, 16));
        } else {
          return {Tok::Error, std::string("invalid escape '\\") + e + "'",
                  start};
        }
      }
    }
    if (peek() != '"')
      return {Tok::Error, "unterminated string", start};
    advance();
    return {Tok::String, s, start};
  }
  if (c == '%' || c == '@') {
    advance();
    Tok kind = c == '%' ? Tok::ValueName : Tok::AtName;
    if (peek() == '"') {
      Token str = next();
      if (str.kind != Tok::String)
        return str;
      return {kind, str.text, start};
    }
    size_t begin = pos_;
    while (isIdentChar(peek()) || peek() == '-')
      advance();
    if (pos_ == begin)
      return {Tok::Error, std::string("expected a name after '") + c + "'",
              start};
    return {kind, std::string(text_.substr(begin, pos_ - begin)), start};
  }
  advance();
  switch (c) {
  case '(': return {Tok::LParen, "(", start};
  case ')': return {Tok::RParen, ")", start};
  case '[': return {Tok::LBracket, "[", start};
  case ']': return {Tok::RBracket, "]", start};
  case '{': return {Tok::LBrace, "{", start};
  case '}': return {Tok::RBrace, "}", start};
  case '<': return {Tok::Less, "<", start};
  case '>': return {Tok::Greater, ">", start};
  case ',': return {Tok::Comma, ",", start};
  case ':': return {Tok::Colon, ":", start};
  case '=': return {Tok::Equal, "=", start};
  case '?': return {Tok::Question, "?", start};
  case '*': return {Tok::Star, "*", start};
  case '+': return {Tok::Plus, "+", start};
  case '-':
    if (peek() == '>') {
      advance();
      return {Tok::Arrow, "->", start};
    }
    return {Tok::Minus, "-", start};
  default:
    return {Tok::Error, std::string("unexpected character '") + c + "'", start};
  }
}

} // namespace cnnc
