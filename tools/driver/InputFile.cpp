//===- tools/driver/InputFile.cpp - reading input files for the tools ------===//
#include "tools/driver/InputFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <unistd.h>

namespace cnnc {

std::vector<uint32_t> addInputBuffers(SourceMgr &sm, const std::string &name,
                                      const std::string &text, bool split) {
  if (!split)
    return {sm.addBuffer(name, text)};
  std::vector<uint32_t> ids;
  std::string chunk;
  uint32_t line = 1, chunkStart = 1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string l = text.substr(pos, end == std::string::npos ? std::string::npos
                                                              : end - pos + 1);
    if (l.rfind("// -----", 0) == 0) {
      ids.push_back(sm.addBuffer(name, chunk, chunkStart));
      chunk.clear();
      chunkStart = line + 1;
    } else {
      chunk += l;
    }
    ++line;
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  ids.push_back(sm.addBuffer(name, chunk, chunkStart));
  return ids;
}

} // namespace cnnc
