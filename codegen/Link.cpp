//===- codegen/Link.cpp - objects to a shared library or an archive --------===//
#include "codegen/Link.h"

#include <llvm/Object/Archive.h>
#include <llvm/Object/ArchiveWriter.h>
#include <llvm/Support/Error.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace cnnc {

#ifndef CNNC_LLD_PATH
#define CNNC_LLD_PATH "ld.lld"
#endif

/// Runs \p argv, capturing stderr; the message on failure.
static Status runProcess(const std::vector<std::string> &argv) {
  std::string errFile = (fs::temp_directory_path() /
                         ("cnnc-link-" + std::to_string(getpid()) + ".err"))
                            .string();
  pid_t pid = fork();
  if (pid < 0)
    return Status::error(std::string("cannot run the linker: ") +
                         std::strerror(errno));
  if (pid == 0) {
    FILE *f = std::fopen(errFile.c_str(), "w");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    std::vector<char *> args;
    for (const std::string &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot execute %s: %s\n", args[0],
                 std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(errFile);
  std::string msg((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  std::remove(errFile.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return Status::success();
  return Status::error("linking failed: " + msg);
}

Status linkShared(const std::vector<std::string> &objects,
                  const std::vector<std::string> &exports,
                  const std::string &family, const std::string &output,
                  const std::string &soname) {
  std::string script = output + ".exports";
  {
    std::ofstream vs(script);
    vs << "{\n  global:\n";
    for (const std::string &s : exports)
      vs << "    " << s << ";\n";
    vs << "  local: *;\n};\n";
    if (!vs)
      return Status::error("cannot write '" + script + "'");
  }
  // The soname is the file name, so a program linked against the library
  // by a path records only its name and finds it through its rpath.
  std::vector<std::string> argv = {CNNC_LLD_PATH, "-shared", "-o", output,
                                   "-soname", fs::path(soname).filename().string(),
                                   "--version-script=" + script,
                                   "--gc-sections", "-z", "noexecstack"};
  argv.insert(argv.end(), objects.begin(), objects.end());
  // The C library of the target, when its files are here (the host's, or
  // Debian's cross libraries); otherwise its symbols stay undefined and are
  // resolved when the library is loaded.
  std::string libdir = family == "x86_64" ? "/usr/lib/x86_64-linux-gnu"
                                          : "/usr/aarch64-linux-gnu/lib";
  if (fs::exists(libdir + "/libc.so")) {
    argv.push_back("-L" + libdir);
    argv.push_back("--as-needed");
    for (const char *lib : {"-lm", "-lpthread", "-ldl", "-lc"})
      argv.push_back(lib);
  }
  Status s = runProcess(argv);
  std::remove(script.c_str());
  return s;
}

Status writeArchive(const std::vector<std::string> &objects,
                    const std::string &output) {
  std::vector<llvm::NewArchiveMember> members;
  for (const std::string &o : objects) {
    auto m = llvm::NewArchiveMember::getFile(o, /*Deterministic=*/true);
    if (!m)
      return Status::error("cannot read '" + o +
                           "': " + llvm::toString(m.takeError()));
    members.push_back(std::move(*m));
  }
  if (llvm::Error e = llvm::writeArchive(output, members, /*WriteSymtab=*/true,
                                         llvm::object::Archive::K_GNU,
                                         /*Deterministic=*/true,
                                         /*Thin=*/false))
    return Status::error("cannot write '" + output +
                         "': " + llvm::toString(std::move(e)));
  return Status::success();
}

Status installFile(const std::string &from, const std::string &to) {
  std::string tmp = to + ".tmp." + std::to_string(getpid());
  std::error_code ec;
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec)
    fs::rename(tmp, to, ec);
  if (ec) {
    fs::remove(tmp);
    return Status::error("cannot write '" + to + "': " + ec.message());
  }
  return Status::success();
}

} // namespace cnnc
