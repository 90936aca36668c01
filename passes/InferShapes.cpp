//===- passes/InferShapes.cpp - compute static shapes for every value ------===//
//
// Walks the nodes in order and sets each result type from the op's shape
// rule (ir/ops/*.cpp). A declared type that contradicts the rule is an error
// at the node; '?' dimensions are filled in, and a declared size that the
// rule leaves '?' (it depends on an unknown input size) is kept.
//
//===----------------------------------------------------------------------===//
#include "ir/OpDef.h"
#include "ir/TextIR.h"
#include "passes/PassManager.h"

namespace cnnc {

/// Each dimension of \p inferred, or of \p declared where only that one is
/// known; the two must be compatible.
static TensorType refine(const TensorType &declared,
                         const TensorType &inferred) {
  std::vector<int64_t> dims = inferred.dims();
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] == kDynamic)
      dims[i] = declared.dim(int64_t(i));
  return TensorType(inferred.dtype(), std::move(dims));
}

Status runInferShapes(Graph &g, DiagEngine &diag, const PassOptions &) {
  bool ok = true;
  for (Node *n : g.nodes()) {
    auto types = computeNodeShape(*n);
    if (!types.ok()) {
      diag.error(n->loc(), types.status());
      ok = false;
      continue;
    }
    for (size_t i = 0; i < n->numResults(); ++i) {
      Value *r = n->result(i);
      const TensorType &want = (*types)[i];
      if (!r->hasType()) {
        r->setType(want);
        continue;
      }
      if (!r->type().isCompatibleWith(want)) {
        diag.error(n->loc(), n->op() + ": result " +
                                 printValueName(r->name()) + " is declared " +
                                 r->type().str() + " but the op gives " +
                                 want.str());
        ok = false;
        r->setType(want);
        continue;
      }
      r->setType(refine(r->type(), want));
    }
  }
  return ok ? Status::success() : Status::error("");
}

} // namespace cnnc
