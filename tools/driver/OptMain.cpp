//===- tools/driver/OptMain.cpp - the cnnc-opt driver, as a library --------===//
#include "tools/driver/OptMain.h"

#include "ir/OpDef.h"
#include "ir/TextIR.h"
#include "ir/Verifier.h"
#include "passes/PassManager.h"
#include "tools/driver/InputFile.h"

#include <algorithm>
#include <cstring>
#include <iostream>

namespace cnnc {

namespace {
struct OptOptions {
  std::string input = "-", output = "-", pipeline, printAfter;
  bool split = false, verifyDiagnostics = false, printAfterAll = false,
       printLocations = false;
};
} // namespace

static void printHelp(const char *overview) {
  std::cout << "OVERVIEW: " << overview << "\n"
            << "USAGE: cnnc-opt [options] <input.cnnir | ->\n\n"
               "Reads graphs in the IR text form, verifies them, runs a pass "
               "pipeline on each,\nand prints the result.\n\nOPTIONS:\n"
               "  -p <pipeline>           passes to run, comma-separated, "
               "with options in braces:\n"
               "                          -p 'infer-shapes,constant-fold,dce'\n"
               "  --split-input-file      treat each chunk between '// -----' "
               "lines as its own input\n"
               "  --verify-diagnostics    check emitted diagnostics against "
               "expected-error@+N {{...}}\n"
               "                          comments instead of printing them\n"
               "  --print-after-all       print the graph after every pass (to "
               "stderr)\n"
               "  --print-after=<pass>    print the graph after the named pass "
               "(to stderr)\n"
               "  --print-locations       print node source locations as "
               "loc(\"file\":line:col)\n"
               "  -o <file>               write the output here (default: "
               "stdout)\n"
               "  --list-passes           list the registered passes\n"
               "  --print-op-docs         print docs/ops.md (every op, from the "
               "op registry)\n"
               "  --help                  this text\n";
}

static bool parseArgs(int argc, char **argv, OptOptions &o) {
  bool haveInput = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *flag) -> const char * {
      if (i + 1 >= argc) {
        std::cerr << "cnnc-opt: error: " << flag << " needs a value\n";
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "-p" || a == "--pipeline") {
      const char *v = value("-p");
      if (!v)
        return false;
      o.pipeline = v;
    } else if (a.rfind("-p=", 0) == 0) {
      o.pipeline = a.substr(3);
    } else if (a == "-o") {
      const char *v = value("-o");
      if (!v)
        return false;
      o.output = v;
    } else if (a == "--split-input-file" || a == "-split-input-file") {
      o.split = true;
    } else if (a == "--verify-diagnostics" || a == "-verify-diagnostics") {
      o.verifyDiagnostics = true;
    } else if (a == "--print-after-all" || a == "-print-after-all") {
      o.printAfterAll = true;
    } else if (a.rfind("--print-after=", 0) == 0) {
      o.printAfter = a.substr(strlen("--print-after="));
    } else if (a == "--print-locations") {
      o.printLocations = true;
    } else if (a == "-" || a[0] != '-') {
      if (haveInput) {
        std::cerr << "cnnc-opt: error: more than one input file ('" << o.input
                  << "' and '" << a << "')\n";
        return false;
      }
      o.input = a;
      haveInput = true;
    } else {
      std::cerr << "cnnc-opt: error: unknown option '" << a
                << "' (see --help)\n";
      return false;
    }
  }
  return true;
}

int optMain(int argc, char **argv, const char *overview) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      printHelp(overview);
      return 0;
    }
    if (!std::strcmp(argv[i], "--print-op-docs")) {
      std::cout << opDocsMarkdown();
      return 0;
    }
    if (!std::strcmp(argv[i], "--list-passes")) {
      size_t width = 0;
      for (const PassInfo &p : allPasses())
        width = std::max(width, std::strlen(p.name));
      for (const PassInfo &p : allPasses())
        std::cout << "  " << p.name
                  << std::string(width + 2 - std::strlen(p.name), ' ')
                  << p.summary << "\n";
      return 0;
    }
  }
  OptOptions o;
  if (!parseArgs(argc, argv, o))
    return 1;
  auto steps = parsePipeline(o.pipeline);
  if (!steps.ok()) {
    std::cerr << "cnnc-opt: error: " << steps.status().message() << "\n";
    return 1;
  }
  // A misspelt --print-after would otherwise print nothing, silently.
  if (!o.printAfter.empty() && !lookupPass(o.printAfter)) {
    std::cerr << "cnnc-opt: error: unknown pass '" << o.printAfter
              << "' in --print-after (known: " << knownPassNames() << ")\n";
    return 1;
  }
  auto text = readFile(o.input);
  if (!text.ok()) {
    std::cerr << "cnnc-opt: error: " << text.status().message() << "\n";
    return 1;
  }

  SourceMgr sm;
  std::string name = o.input == "-" ? "<stdin>" : o.input;
  std::vector<uint32_t> buffers = addInputBuffers(sm, name, *text, o.split);
  DiagEngine diag(sm);
  diag.setVerifyMode(o.verifyDiagnostics);
  PrintOptions printOpts;
  printOpts.printLocations = o.printLocations;
  printOpts.sourceMgr = &sm;

  std::string out;
  bool failed = false;
  for (size_t b = 0; b < buffers.size(); ++b) {
    auto graphs = parseGraphs(sm, buffers[b], diag);
    bool chunkOk = !graphs.empty();
    for (auto &g : graphs) {
      if (!verifyGraph(*g, diag)) {
        chunkOk = false;
        continue;
      }
      PassManager pm(*steps);
      pm.setAfterPassHook([&](const std::string &pass, const Graph &g) {
        if (o.printAfterAll || pass == o.printAfter)
          std::cerr << "// -----// IR after " << pass << " //----- //\n"
                    << printGraph(g, printOpts);
      });
      if (!pm.run(*g, diag)) {
        chunkOk = false;
        continue;
      }
      out += (out.empty() ? "" : "// -----\n") + printGraph(*g, printOpts);
    }
    failed |= !chunkOk;
  }
  // The graphs that passed are printed either way, so a test can check them
  // next to the diagnostics of the others.
  Status s = writeFile(o.output, out);
  if (!s.ok()) {
    std::cerr << "cnnc-opt: error: " << s.message() << "\n";
    return 1;
  }
  if (o.verifyDiagnostics)
    return diag.verifyExpected() ? 0 : 1;
  return failed ? 1 : 0;
}

} // namespace cnnc
