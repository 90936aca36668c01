//===- ir/ops/Transpose.cpp - transpose: permute the axes -----------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"

namespace cnnc::ops {

/// perm, or the reversed axes when it is empty (the ONNX default).
static std::vector<int64_t> permOf(const Node &n, int64_t rank) {
  std::vector<int64_t> perm = n.attrInts("perm");
  if (perm.empty())
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  return perm;
}

/// y.dims[i] = x.dims[perm[i]].
static Status inferTranspose(ShapeCtx &c) {
  const TensorType &x = c.input(0);
  std::vector<int64_t> perm = permOf(c.node(), x.rank());
  std::vector<bool> seen(size_t(x.rank()), false);
  bool ok = int64_t(perm.size()) == x.rank();
  for (size_t i = 0; ok && i < perm.size(); ++i) {
    ok = perm[i] >= 0 && perm[i] < x.rank() && !seen[size_t(perm[i])];
    if (ok)
      seen[size_t(perm[i])] = true;
  }
  if (!ok)
    return c.error("perm " + intsStr(perm) + " is not a permutation of the " +
                   std::to_string(x.rank()) + " axes of " + x.str());
  std::vector<int64_t> out;
  for (int64_t p : perm)
    out.push_back(x.dim(p));
  c.setOutput(0, TensorType(x.dtype(), out));
  return Status::success();
}

static Status foldTranspose(FoldCtx &c) {
  const Tensor &x = c.input(0);
  Tensor &y = c.makeOutput(0);
  std::vector<int64_t> perm = permOf(c.node(), int64_t(x.dims().size()));
  std::vector<int64_t> xStrides = stridesOf(x.dims());
  forEachIndex(y.dims(), [&](const std::vector<int64_t> &idx, int64_t flat) {
    int64_t src = 0;
    for (size_t i = 0; i < idx.size(); ++i)
      src += idx[i] * xStrides[size_t(perm[i])];
    copyElement(y, flat, x, src);
  });
  return Status::success();
}

/// x[..., out[i] at axis perm[i], ...].
static Status lowerTranspose(LowerCtx &c) {
  std::vector<int64_t> perm = permOf(c.node(), c.inType(0).rank());
  Index out = outIndex(c), xi(out.size());
  for (size_t i = 0; i < out.size(); ++i)
    xi[size_t(perm[i])] = out[i];
  c.define(0, c.in(0, xi));
  return Status::success();
}

/// dx = dy transposed by the inverse permutation.
static Status gradTranspose(GradCtx &c) {
  std::vector<int64_t> perm = c.node().attrInts("perm");
  int64_t rank = c.x(0)->type().rank();
  if (perm.empty())
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[size_t(perm[i])] = int64_t(i);
  c.addGrad(0, c.emit("transpose", {c.dy()}, {{"perm", Attribute(inverse)}}));
  return Status::success();
}

OpDef defineTranspose() {
  return OpDef("transpose")
      .summary("Permutes the axes of x, y.dims[i] = x.dims[perm[i]]")
      .inputs({"x"})
      .outputs({"y"})
      .attr("perm", AttrKind::Ints, std::vector<int64_t>{},
            "axis order; empty = reversed")
      .onnx("Transpose", 1)
      .inferShape(inferTranspose)
      .fold(foldTranspose)
      .flops(flopsPerOutput(0))
      .pattern(FusionPattern::Injective)
      .lower(lowerTranspose)
      .grad(gradTranspose);
}

} // namespace cnnc::ops
