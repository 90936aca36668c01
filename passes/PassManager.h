//===- passes/PassManager.h - the pass registry and pipelines --------------===//
//
// Passes are named in passes/Passes.def, and pipelines are text:
//   infer-shapes,constant-fold,dce
//   fuse,schedule{vector-bits=256,cores=2}
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Diag.h"
#include "ir/Graph.h"
#include "ir/Support.h"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace cnnc {

/// Options of one pass in a pipeline, as text (`schedule{cores=1}`). A pass
/// reads the options it knows through getInt/getString; the pass manager
/// reports any option the pass did not read as unknown.
struct PassOptions {
  std::map<std::string, std::string> values;
  /// The option \p key as an integer, or \p dflt when absent.
  Expected<int64_t> getInt(const std::string &key, int64_t dflt) const;
  /// The option \p key as text, or \p dflt when absent.
  std::string getString(const std::string &key, const std::string &dflt) const;
  /// The given options the pass never asked for ("" if none).
  std::string unread() const;

private:
  mutable std::set<std::string> read_;
};

/// A pass reports user-facing problems through the DiagEngine and returns a
/// failed Status; a non-empty message is reported by the pass manager.
using PassFn = Status (*)(Graph &, DiagEngine &, const PassOptions &);

struct PassInfo {
  const char *name;
  const char *summary;
  PassFn run;
};

/// Every registered pass, in Passes.def order.
const std::vector<PassInfo> &allPasses();
/// The pass called \p name, or null.
const PassInfo *lookupPass(const std::string &name);
/// "constant-fold, cse, ...": every pass name, for error messages.
std::string knownPassNames();

struct PipelineStep {
  const PassInfo *pass;
  PassOptions options;
};

/// Parses "a,b{k=v},c"; an error names the unknown pass or the bad text.
Expected<std::vector<PipelineStep>> parsePipeline(const std::string &text);

/// Runs pipelines on graphs, verifying after each pass.
class PassManager {
public:
  explicit PassManager(std::vector<PipelineStep> steps)
      : steps_(std::move(steps)) {}

  /// Called after each pass that succeeded, with its name (for
  /// --print-after-all and --print-after=NAME).
  void setAfterPassHook(std::function<void(const std::string &, const Graph &)> h) {
    afterPass_ = std::move(h);
  }
  /// Verify the graph after every pass (on by default; a failing verifier
  /// means a pass broke an invariant, and is reported as such).
  void setVerifyEach(bool on) { verifyEach_ = on; }

  /// Runs every step in order; stops at the first failure.
  bool run(Graph &g, DiagEngine &diag);

private:
  std::vector<PipelineStep> steps_;
  std::function<void(const std::string &, const Graph &)> afterPass_;
  bool verifyEach_ = true;
};

// Declarations of every pass entry point.
#define CNNC_PASS(Name, Class, Summary)                                        \
  Status run##Class(Graph &, DiagEngine &, const PassOptions &);
#include "passes/Passes.def"

} // namespace cnnc
