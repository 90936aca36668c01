//===- ir/ops/Conv.cpp - conv: N-d convolution with groups and dilation ----===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OnnxHelpers.h"
#include "ir/ops/OpHelpers.h"
#include "ir/Schedule.h"

#include <algorithm>
#include <functional>
#include <map>
#include <utility>

namespace cnnc::ops {

/// Sets y [N, filters, out...] from x [N, C, spatial...], the kernel's
/// spatial dims and the node's strides, dilations and pads (conv,
/// conv_nchwc).
static Status setConvOutput(ShapeCtx &c, const TensorType &x,
                            const std::vector<int64_t> &kernel,
                            int64_t filters) {
  size_t spatial = size_t(x.rank() - 2);
  auto geo = convGeometry(c, spatial);
  if (!geo.ok())
    return geo.status();
  std::vector<int64_t> out{x.dim(0), filters};
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = x.dim(2 + i), k = kernel[i];
    if (in < 0 || k < 0) {
      out.push_back(kDynamic);
      continue;
    }
    int64_t extent = geo->dilations[i] * (k - 1) + 1;
    int64_t padded = in + geo->padBegin[i] + geo->padEnd[i];
    if (padded < extent)
      return c.error("kernel extent " + std::to_string(extent) +
                     " is larger than the padded input " +
                     std::to_string(padded) + " in spatial dimension " +
                     std::to_string(i));
    out.push_back((padded - extent) / geo->strides[i] + 1);
  }
  c.setOutput(0, TensorType(x.dtype(), out));
  return Status::success();
}

static Status inferConv(ShapeCtx &c) {
  const TensorType &x = c.input(0), &w = c.input(1);
  if (x.rank() < 3)
    return c.error("input must have rank 3 or more (N, C, spatial...), got " +
                   x.str());
  if (w.rank() != x.rank())
    return c.error("weight " + w.str() + " must have the rank of input " +
                   x.str());
  if (w.dtype() != x.dtype())
    return c.error("weight type " + w.str() + " differs from input type " +
                   x.str());
  int64_t group = c.attrInt("group");
  if (group < 1)
    return c.error("group must be positive, got " + std::to_string(group));
  // ONNX: X.shape[1] == W.shape[1] * group, and M is divisible by group.
  int64_t channels = x.dim(1), wChannels = w.dim(1), filters = w.dim(0);
  if (channels >= 0 && wChannels >= 0 && channels != wChannels * group)
    return c.error("input has " + std::to_string(channels) +
                   " channels but weight expects " +
                   std::to_string(wChannels * group) +
                   " (group = " + std::to_string(group) + ")");
  if (filters >= 0 && filters % group != 0)
    return c.error(std::to_string(filters) +
                   " filters are not divisible by group = " +
                   std::to_string(group));
  if (c.numInputs() > 2) {
    const TensorType &b = c.input(2);
    if (b.rank() != 1 || (filters >= 0 && b.dim(0) >= 0 && b.dim(0) != filters))
      return c.error("bias " + b.str() + " must be a vector of " +
                     std::to_string(filters) + " (one per filter)");
  }
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  return setConvOutput(c, x, kernel, filters);
}

/// A conv's FLOPs: a multiply and an add per term of each output's sum
/// (\p macsPerOutput terms), and the bias if the node has one.
static int64_t directConvFlops(const Node &n, int64_t macsPerOutput) {
  const TensorType &y = n.result(0)->type();
  return y.numElements() * (2 * macsPerOutput + (n.numOperands() > 2 ? 1 : 0));
}

static int64_t convFlops(const Node &n) {
  const TensorType &y = n.result(0)->type(), &w = n.operand(1)->type();
  if (!y.isStatic() || !w.isStatic())
    return 0;
  return directConvFlops(n, w.numElements() / w.dim(0)); // C/g * prod(kernel)
}

/// The element at [mo, cb, k..., ci, mi] of conv weights \p wi of \p c
/// ([M, C, k...]) in nchwc blocks ([ceil(M / block), ceil(C / cblock),
/// k..., cblock, block]): w[mo * block + mi, cb * cblock + ci, k...], zero
/// past the last filter or channel.
static Halide::Expr nchwcWeightsAt(LowerCtx &c, size_t wi, int block,
                                   int cblock, const Index &at) {
  const TensorType &w = c.inType(wi);
  const int64_t filters = w.dim(0), channels = w.dim(1);
  const size_t n = at.size();
  Halide::Expr f = at[0] * block + at[n - 1], ch = at[1] * cblock + at[n - 2];
  Index src{Halide::min(f, int(filters - 1)), Halide::min(ch, int(channels - 1))};
  for (size_t i = 2; i + 2 < n; ++i)
    src.push_back(at[i]);
  Halide::Expr inside = f < int(filters);
  if (channels % cblock)
    inside = inside && ch < int(channels);
  return Halide::select(
      inside, c.in(wi, src),
      Halide::Internal::make_zero(LowerCtx::halideType(w.dtype())));
}

/// The nchwc form of a CPU conv of one group (schedule layout=nchwc), over
/// weights in nchwc blocks (see nchwcWeightsAt) read by \p weightsAt:
///  - `x_blocked` [n, cb, p..., ci] = x[n, cb * cblock + ci, p - pad_begin]
///    (zero outside x and past the last channel), cblock = the vector
///    width: the channels of one block sit together, so the broadcasts of
///    a tile's columns come from a few cache lines, not one per channel;
///    or 1 for a few channels (nchwcChannelBlock: a stem's 3), x padded;
///  - `acc` [n, mo, spatial..., mi], blocks of `block` = tileFilters vectors
///    of filters, computed in register tiles of a block x tileRows output
///    columns: each reduction step (a channel of a block, a tap) loads
///    tileFilters weight vectors and broadcasts one x scalar per column,
///    the channels of a block innermost, then the taps, then the blocks;
///    no lane is wasted on a row's end, and a strided conv reads x_blocked
///    in place. y reads acc back across the blocks (or stores its blocks,
///    passes/BlockLayout.cpp); at batch 1 acc is computed per band of y
///    (a block of filters or a row, LowerCtx::computeIn*Bands).
static void lowerConvNchwc(LowerCtx &c, const KernelSchedule &sched,
                           const ConvGeometry &geo, int cblock,
                           const std::function<Halide::Expr(const Index &)> &weightsAt) {
  const TensorType &x = c.inType(0), &y = c.outType();
  const std::string &name = c.name();
  const size_t spatial = size_t(y.rank() - 2);
  const int lanes = sched.vector, mv = sched.tileFilters, block = lanes * mv;
  const int64_t filters = y.dim(1), channels = x.dim(1),
                cblocks = (channels + cblock - 1) / cblock,
                width = y.dim(y.rank() - 1);
  const bool parallel = sched.parallel != "none";
  Halide::Expr zero = Halide::Internal::make_zero(LowerCtx::halideType(x.dtype()));
  // x_blocked, over the positions the taps read.
  std::vector<Halide::Var> xbv{Halide::Var(name + "_xb_n"), Halide::Var(name + "_xb_cb")};
  for (size_t i = 0; i < spatial; ++i)
    xbv.emplace_back(name + "_xb_p" + std::to_string(i));
  xbv.emplace_back(name + "_xb_ci");
  const Halide::Var &cbv = xbv[1], &civ = xbv.back();
  Halide::Expr ch = cbv * cblock + civ;
  Index src{xbv[0], Halide::min(ch, int(channels - 1))};
  Halide::Expr inside = channels % cblock ? ch < int(channels) : Halide::Expr();
  auto both = [](Halide::Expr a, Halide::Expr b) {
    return a.defined() ? a && b : b;
  };
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = x.dim(int64_t(2 + i)), k = c.inType(1).dim(int64_t(2 + i));
    int64_t last = (y.dim(int64_t(2 + i)) - 1) * geo.strides[i] +
                   (k - 1) * geo.dilations[i] - geo.padBegin[i];
    Halide::Expr q = xbv[2 + i] - int(geo.padBegin[i]);
    if (geo.padBegin[i] > 0 || last >= in) {
      inside = both(inside, q >= 0 && q < int(in));
      q = Halide::clamp(q, 0, int(in - 1));
    }
    src.push_back(q);
  }
  // x stored in blocks of cblock channels already (passes/BlockLayout.cpp)
  // is read as it is: the copy only pads it, and goes where nothing needs
  // padding (a 1x1 conv, a strided one reading inside x).
  const bool xInBlocks = c.inBlock(0) == cblock;
  Halide::Expr xv = c.in(0, src);
  if (xInBlocks) {
    Index at{xbv[0], cbv};
    for (size_t i = 0; i < spatial; ++i)
      at.push_back(src[2 + i]);
    at.push_back(civ);
    xv = c.inBlocked(0, at);
  }
  Halide::Func xb = c.func(name + "_x_blocked");
  LowerCtx::set(xb, xbv, inside.defined() ? Halide::select(inside, xv, zero) : xv);
  if (!xInBlocks || inside.defined()) {
    std::vector<Halide::VarOrRVar> xorder(xbv.rbegin(), xbv.rend());
    xb.compute_root().bound(civ, 0, cblock).reorder(xorder);
    if (cblock > 1)
      xb.vectorize(civ);
    else // channel by channel: a padded copy of x, along its rows
      xb.vectorize(xbv[xbv.size() - 2], lanes, Halide::TailStrategy::GuardWithIf);
    if (parallel && cblocks > 1)
      xb.parallel(cbv);
  }
  // The reduction: rr[0] the channel in its block, rr[1 + i] tap i,
  // rr[1 + spatial] the block.
  std::vector<int64_t> extents{cblock};
  for (size_t i = 0; i < spatial; ++i)
    extents.push_back(c.inType(1).dim(int64_t(2 + i)));
  extents.push_back(cblocks);
  Halide::RDom rr = rdomOver(c, extents, "taps");
  const int pb = int(std::min<int64_t>(sched.tileRows, width));
  Halide::Var mo(name + "_mo"), mi(name + "_mi"), n(name + "_n");
  std::vector<Halide::Var> avars{n, mo};
  for (size_t i = 0; i < spatial; ++i)
    avars.emplace_back(name + "_s" + std::to_string(i));
  avars.push_back(mi);
  Index at(avars.begin(), avars.end());
  Index xi{n, rr[int(1 + spatial)]}, wi{mo, rr[int(1 + spatial)]};
  for (size_t i = 0; i < spatial; ++i) {
    xi.push_back(avars[2 + i] * int(geo.strides[i]) +
                 rr[int(1 + i)] * int(geo.dilations[i]));
    wi.push_back(rr[int(1 + i)]);
  }
  xi.push_back(rr[0]);
  wi.push_back(rr[0]);
  wi.push_back(mi);
  Halide::Expr clamped = Halide::min(mo * block + mi, int(filters - 1));
  Halide::Func tile = c.func(name + "_tile"), acc = c.func(name + "_acc");
  LowerCtx::set(tile, avars, c.numInputs() > 2 ? c.in(2, {clamped}) : zero);
  updateAt(tile, at, callAt(tile, at) + callAt(xb, xi) * weightsAt(wi));
  LowerCtx::set(acc, avars, callAt(tile, at));
  // Tiles that run past the row's end are shifted inwards (they recompute
  // columns of the tile before): the row must hold one.
  const Halide::Var &col = avars[1 + spatial];
  Halide::Var co(name + "_co"), ci(name + "_ci"), mio(name + "_mio"),
      miv(name + "_miv");
  acc.compute_root().bound(mi, 0, block);
  acc.split(col, co, ci, pb).split(mi, mio, miv, lanes);
  // The outer loops: the parallel one outermost (after the batch); else
  // the filter blocks outside the rows where the weights outweigh x, so
  // the bigger of the two is read once.
  std::vector<Halide::VarOrRVar> order{miv, mio, ci, co};
  std::vector<Halide::VarOrRVar> rows;
  for (size_t i = spatial - 1; i-- > 0;)
    rows.push_back(avars[2 + i]);
  bool filtersOuter =
      sched.parallel == "filters" ||
      (sched.parallel != "rows" &&
       c.inType(1).numBytes() > x.numBytes() / x.dim(0));
  if (filtersOuter) {
    order.insert(order.end(), rows.begin(), rows.end());
    order.push_back(mo);
  } else {
    order.push_back(mo);
    order.insert(order.end(), rows.begin(), rows.end());
  }
  order.push_back(n);
  acc.reorder(order).vectorize(miv).unroll(mio).unroll(ci);
  // The parallel loop, fused with the loop inside it when short.
  auto parallelAt = [&](const Halide::Var &v, int64_t extent) {
    size_t i = 0;
    while (order[i].name() != v.name())
      ++i;
    const Halide::Var *inner =
        i > 0 && !order[i - 1].is_rvar ? &order[i - 1].var : nullptr;
    parallelLoop(acc, v, extent, inner, Halide::Var(name + "_task"));
  };
  // At batch 1, codegen computes acc where it stores y, in bands: a block
  // of filters at a time where the filters are the outer loop (the
  // weights are read once), else a row at a time. acc then lives in a
  // cache-sized buffer instead of a root one written out and read back
  // (ResNet-50 on AVX-512: that copy was 4.3% of the samples); its loops
  // stay serial, the bands run in parallel.
  bool banded = y.dim(0) == 1 && spatial == 2 &&
                (filtersOuter ? c.computeInChannelBands(acc, block)
                              : c.computeInRowBands(acc, 1));
  if (banded) {
  } else if (sched.parallel == "batch" && y.dim(0) > 1)
    acc.parallel(n);
  else if (sched.parallel == "filters" && filters > block)
    parallelAt(mo, (filters + block - 1) / block);
  else if (sched.parallel == "rows" && spatial >= 2 && y.dim(2) > 1)
    parallelAt(avars[2], y.dim(2));
  tile.compute_at(acc, co);
  tile.split(mi, mio, miv, lanes).vectorize(miv).unroll(mio).unroll(col);
  std::vector<Halide::VarOrRVar> torder{miv, mio, col, rr[0]};
  for (size_t i = spatial; i > 0; --i)
    torder.push_back(rr[int(i)]);
  torder.push_back(rr[int(1 + spatial)]);
  tile.update()
      .split(mi, mio, miv, lanes)
      .reorder(torder)
      .vectorize(miv)
      .unroll(mio)
      .unroll(col);
  Index out = outIndex(c), ai{out[0], out[1] / block};
  for (size_t i = 0; i < spatial; ++i)
    ai.push_back(out[2 + i]);
  ai.push_back(out[1] % block);
  c.define(0, callAt(acc, ai));
}

/// x (input 0 of \p c) extended by zeros on a CPU, over \p vars (IR
/// order: n, c, spatial..., x's own coordinates), for a copy computed row
/// band by row band (a grouped conv's, see lowerConv): one pure
/// definition, zero outside x, so that bounds inference copies only the
/// rows a band reads, and Halide's sliding window each row once. The
/// `likely` clamps let loop partitioning drop the select and the clamps
/// inside x (a dense vector per load and store); the border columns
/// alone take the select.
///
/// With \p stride > 1 the columns are deinterleaved by it: \p vars ends in
/// (phase, j), the element of column j * stride + phase, so that a strided
/// conv's taps read dense vectors instead of two and a shuffle each.
static Halide::Func zeroExtendedCopy(LowerCtx &c, const std::string &name,
                                     const std::vector<Halide::Var> &vars,
                                     int64_t stride = 1) {
  const TensorType &x = c.inType(0);
  Halide::Expr inside = Halide::Internal::const_true();
  Index src{vars[0], vars[1]};
  for (int64_t d = 2; d < x.rank(); ++d) {
    Halide::Expr p = vars[size_t(d)];
    if (d + 1 == x.rank() && stride > 1)
      p = vars[size_t(d + 1)] * int(stride) + vars[size_t(d)];
    inside = inside && p >= 0 && p < int(x.dim(d));
    src.push_back(Halide::clamp(Halide::likely(p), 0, int(x.dim(d)) - 1));
  }
  Halide::Func xp = c.func(name);
  LowerCtx::set(xp, vars,
                Halide::select(inside, c.in(0, src),
                               Halide::Internal::make_zero(
                                   LowerCtx::halideType(x.dtype()))));
  return xp;
}

/// A depthwise conv (depthwiseBlockable) whose y the block-layout pass
/// keeps in blocks of \p lanes channels (passes/BlockLayout.cpp), its x
/// too where it can: every output is one sum of its taps, a pure
/// expression over blocks, vectorized across the channels of a block
/// (the codegen's storeInBlocks schedules it), so a 7- or 14-wide row
/// wastes no lane and the taps read dense vectors at any stride. x is read
/// zero outside its bounds through a select on `likely` clamps: Halide's
/// loop partitioning keeps the select out of the interior. An x in NCHW
/// is first copied into blocks (at root); the weights and bias go into
/// blocks at root (C x taps floats). Where y is read back in NCHW (not
/// blocked), the sums are computed at root first.
static void lowerDepthwiseBlocked(LowerCtx &c, const ConvGeometry &geo,
                                  int lanes) {
  const TensorType &x = c.inType(0), &w = c.inType(1);
  const std::string &name = c.name();
  Halide::Type t = LowerCtx::halideType(x.dtype());
  Halide::Expr zero = Halide::Internal::make_zero(t);
  Halide::Var n(name + "_dn"), cb(name + "_dcb"), p(name + "_dp"),
      q(name + "_dq"), l(name + "_dl");
  const int64_t height = x.dim(2), width = x.dim(3), blocks = x.dim(1) / lanes;
  // x in blocks, zero outside.
  Halide::Expr pc = Halide::clamp(Halide::likely(p), 0, int(height) - 1),
               qc = Halide::clamp(Halide::likely(q), 0, int(width) - 1);
  Halide::Expr src;
  if (c.inBlock(0) == lanes) {
    src = c.inBlocked(0, {n, cb, pc, qc, l});
  } else {
    Halide::Func copy = c.func(name + "_x_to_blocks");
    LowerCtx::set(copy, {n, cb, p, q, l}, c.in(0, {n, cb * lanes + l, p, q}));
    copy.compute_root().bound(l, 0, lanes).vectorize(l);
    if (blocks > 1)
      copy.parallel(cb);
    src = LowerCtx::call(copy, {n, cb, pc, qc, l});
  }
  Halide::Func xb = c.func(name + "_x_blocks");
  LowerCtx::set(xb, {n, cb, p, q, l},
                Halide::select(p >= 0 && p < int(height) && q >= 0 &&
                                   q < int(width),
                               src, zero));
  // The weights and the bias in blocks: [C / lanes, ky, kx, lanes].
  Halide::Var ky(name + "_dky"), kx(name + "_dkx");
  Halide::Func wb = c.func(name + "_w_blocks");
  LowerCtx::set(wb, {cb, ky, kx, l}, c.in(1, {cb * lanes + l, 0, ky, kx}));
  wb.compute_root().bound(l, 0, lanes).vectorize(l);
  Halide::Func bb = c.func(name + "_b_blocks");
  LowerCtx::set(bb, {cb, l}, c.numInputs() > 2 ? c.in(2, {cb * lanes + l}) : zero);
  bb.compute_root().bound(l, 0, lanes).vectorize(l);
  // The sums, one expression of the taps.
  Halide::Var h(name + "_dh"), v(name + "_dw");
  Halide::Expr sum = LowerCtx::call(bb, {cb, l});
  for (int64_t i = 0; i < w.dim(2); ++i)
    for (int64_t j = 0; j < w.dim(3); ++j)
      sum = sum + LowerCtx::call(xb, {n, cb,
                                      h * int(geo.strides[0]) -
                                          int(geo.padBegin[0]) +
                                          int(i * geo.dilations[0]),
                                      v * int(geo.strides[1]) -
                                          int(geo.padBegin[1]) +
                                          int(j * geo.dilations[1]),
                                      l}) *
                      LowerCtx::call(wb, {cb, int(i), int(j), l});
  Halide::Func acc = c.func(name + "_acc_blocks");
  LowerCtx::set(acc, {n, cb, h, v, l}, sum);
  if (storedBlock(*c.node().result(0)) != lanes) {
    acc.compute_root().bound(l, 0, lanes).vectorize(l).reorder(l, v, h, cb, n);
    if (blocks > 1)
      acc.parallel(cb);
  }
  Index out = outIndex(c);
  c.define(0, LowerCtx::call(acc, {out[0], out[1] / lanes, out[2], out[3],
                                   out[1] % lanes}));
}

/// Winograd F(2x2, 3x3) (Lavin and Gray 2016): each 2x2 output tile of a
/// 3x3 conv of stride 1 is y = A^T [(G g G^T) . (B^T d B)] A, d the 4x4
/// patch of x under it, g a filter's 3x3 weights, the products summed over
/// the channels: 16 multiplies per tile and channel instead of 36.

/// Casts the constant \p k to \p t and scales \p e by it (1: e itself).
static Halide::Expr scaledBy(Halide::Type t, double k, const Halide::Expr &e) {
  return k == 1.0 ? e : Halide::cast(t, Halide::Expr(k)) * e;
}

/// The transformed weights G g G^T at [e, fo, c, fi]: element e (row e / 4,
/// column e % 4) for filter fo * block + fi (zero past the last filter)
/// and channel c, from input \p wi of \p c ([filters, C, 3, 3]). The weights are
/// first copied into blocks of filters (`wg_w_blocked`, at root: one
/// gather per weight), so that the transform reads dense vectors of them.
static Halide::Expr winogradWeights(LowerCtx &c, size_t wi, int64_t filters,
                                    int block, int lanes, bool parallel,
                                    const Halide::Expr &e, const Halide::Expr &fo,
                                    const Halide::Expr &ch, const Halide::Expr &fi) {
  static const double G[4][3] = {
      {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  const std::string &name = c.name();
  const Halide::Type t = LowerCtx::halideType(c.inType(wi).dtype());
  Halide::Var bo(name + "_wg_bo"), bc(name + "_wg_bc"), bk(name + "_wg_bk"),
      bi(name + "_wg_bi");
  Halide::Expr filter = bo * block + bi;
  Halide::Func wb = c.func(name + "_wg_w_blocked");
  LowerCtx::set(wb, {bo, bc, bk, bi},
                Halide::select(filter < int(filters),
                               c.in(wi, {Halide::min(filter, int(filters - 1)),
                                        bc, bk / 3, bk % 3}),
                               Halide::Internal::make_zero(t)));
  wb.compute_root().bound(bk, 0, 9).bound(bi, 0, block);
  if (c.cpuSchedule()) {
    wb.reorder(bi, bk, bc, bo).unroll(bk);
    if (lanes > 1)
      wb.vectorize(bi, lanes);
    if (parallel)
      wb.parallel(bo);
  }
  std::vector<Halide::Expr> elements;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      Halide::Expr u;
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l)
          if (double g = G[i][k] * G[j][l]) {
            Halide::Expr term = scaledBy(t, g, callAt(wb, {fo, ch, k * 3 + l, fi}));
            u = u.defined() ? u + term : term;
          }
      elements.push_back(u);
    }
  return Halide::mux(e, elements);
}

/// The Winograd form of a CPU conv: conv with schedule layout=winograd
/// (a 3x3 kernel, stride 1, dilation 1, one group), which transforms its
/// weights in the kernel, every run; and conv_winograd, whose weights come
/// transformed (winograd_weights, the `pack-weights` pass). \p u(e, fo, c, fi)
/// reads the transformed weights (see winogradWeights). In stages, each
/// computed at root:
///  - `wg_input` [n, e, c, ty, tx] = (B^T d B)[e / 4][e % 4] for the tile at
///    (ty, tx), vectorized across tiles, its 16 e unrolled (sharing loads);
///  - `wg_product` [n, e, block, ty, tx, f]: the 16 sums over the channels,
///    in register tiles of a block x tileRows tiles (the nchwc tile:
///    weight vectors, one broadcast per tile);
///  - `wg_output` [n, block, ty, a, tx, b, f] = A^T (...) A, vectorized
///    across the filters; y reads it back across the blocks, bias added.
static void lowerWinogradTiles(
    LowerCtx &c, const KernelSchedule &sched, int64_t pt, int64_t pl,
    int64_t channels,
    const std::function<Halide::Expr(const Halide::Expr &, const Halide::Expr &,
                                     const Halide::Expr &, const Halide::Expr &)>
        &u) {
  const TensorType &x = c.inType(0), &y = c.outType();
  const std::string &name = c.name();
  const int lanes = sched.vector, mv = sched.tileFilters, block = lanes * mv;
  const int64_t tilesW = (y.dim(3) + 1) / 2;
  // Tiles that run past the row's end are shifted inwards (see the nchwc
  // tile): the row must hold one.
  const int pb = int(std::min<int64_t>(sched.tileRows, tilesW));
  const bool parallel = sched.parallel != "none";
  const Halide::Expr zero =
      Halide::Internal::make_zero(LowerCtx::halideType(x.dtype()));
  auto var = [&](const char *s) { return Halide::Var(name + "_wg_" + s); };
  // x with zeros around it (at x's own coordinates: the copy's bounds are
  // what the patches read), so that every patch load is dense. An x stored
  // in blocks of `lanes` channels (passes/BlockLayout.cpp) is copied in
  // blocks, and the input transform is vectorized across the channels of
  // a block instead of across tiles (which would gather).
  const bool xInBlocks = c.inBlock(0) == lanes && channels % lanes == 0;
  Halide::Func xp;
  if (xInBlocks) {
    Halide::Var bn = var("bn"), bcb = var("bcb"), bh = var("bh"),
                bw = var("bw"), bl = var("bl");
    Halide::Func xpb = c.func(name + "_x_padded_blocks");
    xpb(bl, bw, bh, bcb, bn) = zero;
    Halide::RDom rx = rdomOver(c, {x.dim(3), x.dim(2)}, "x");
    xpb(bl, rx[0], rx[1], bcb, bn) =
        c.inBlocked(0, {bn, bcb, rx[1], rx[0], bl});
    xpb.compute_root().bound(bl, 0, lanes).vectorize(bl);
    xpb.update().reorder(bl, rx[0], rx[1], bcb, bn).vectorize(bl);
    if (parallel) {
      xpb.parallel(bcb);
      xpb.update().parallel(bcb);
    }
    Halide::Var xn = var("xn"), xc = var("xc"), xh = var("xh"), xw = var("xw");
    xp(xw, xh, xc, xn) = xpb(xc % lanes, xw, xh, xc / lanes, xn);
  } else {
    std::vector<Halide::Var> xvars{var("xn"), var("xc"), var("xh"), var("xw")};
    xp = paddedCopy(c, name + "_x_padded", xvars, lanes);
    if (parallel) {
      xp.parallel(xvars[1]);
      xp.update().parallel(xvars[1]);
    }
  }
  // The input transform.
  static const int BT[4][4] = {
      {1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  Halide::Var n = var("n"), e = var("e"), ch = var("c"), ty = var("ty"),
              tx = var("tx");
  std::vector<Halide::Expr> vin;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      Halide::Expr v;
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b)
          if (int k = BT[i][a] * BT[j][b]) {
            Halide::Expr d = callAt(xp, {n, ch, ty * 2 - int(pt) + a,
                                         tx * 2 - int(pl) + b});
            v = !v.defined() ? (k > 0 ? d : -d) : (k > 0 ? v + d : v - d);
          }
      vin.push_back(v);
    }
  Halide::Func vt = c.func(name + "_wg_input");
  LowerCtx::set(vt, {n, e, ch, ty, tx}, Halide::mux(e, vin));
  vt.compute_root().bound(e, 0, 16);
  if (xInBlocks) {
    // Stored channels innermost: the products' broadcasts of one tile walk
    // the channels, a cache line per 16 of them.
    Halide::Var cho = var("cho"), chi = var("chi");
    vt.reorder_storage(ch, tx, ty, e, n)
        .split(ch, cho, chi, lanes)
        .reorder(chi, e, tx, ty, cho, n)
        .vectorize(chi)
        .unroll(e);
    if (parallel)
      vt.parallel(cho);
  } else {
    vt.reorder(tx, e, ty, ch, n).vectorize(tx, lanes).unroll(e);
    if (parallel)
      vt.parallel(ch);
  }
  // The products, summed over the channels in register tiles.
  Halide::Var fo = var("fo"), fi = var("fi");
  Halide::RDom r = rdomOver(c, {channels}, "wg_channels");
  std::vector<Halide::Var> mvars{n, e, fo, ty, tx, fi};
  Index at(mvars.begin(), mvars.end());
  Halide::Func tile = c.func(name + "_wg_tile"),
               prod = c.func(name + "_wg_product");
  LowerCtx::set(tile, mvars, zero);
  updateAt(tile, at,
           callAt(tile, at) +
               u(e, fo, r[0], fi) * callAt(vt, {n, e, r[0], ty, tx}));
  LowerCtx::set(prod, mvars, callAt(tile, at));
  Halide::Var co = var("co"), ci = var("ci"), mio = var("mio"),
              miv = var("miv");
  prod.compute_root()
      .bound(fi, 0, block)
      .split(tx, co, ci, pb)
      .split(fi, mio, miv, lanes)
      .reorder(miv, mio, ci, co, ty, fo, e, n)
      .vectorize(miv)
      .unroll(mio)
      .unroll(ci);
  if (parallel)
    prod.parallel(e);
  tile.compute_at(prod, co);
  tile.split(fi, mio, miv, lanes).vectorize(miv).unroll(mio).unroll(tx);
  tile.update()
      .split(fi, mio, miv, lanes)
      .reorder(miv, mio, tx, r[0])
      .vectorize(miv)
      .unroll(mio)
      .unroll(tx);
  // The output transform.
  static const int AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
  Halide::Var a = var("a"), b = var("b");
  std::vector<Halide::Expr> out;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      Halide::Expr o;
      for (int k = 0; k < 4; ++k)
        for (int l = 0; l < 4; ++l)
          if (int s = AT[i][k] * AT[j][l]) {
            Halide::Expr m = callAt(prod, {n, k * 4 + l, fo, ty, tx, fi});
            o = !o.defined() ? (s > 0 ? m : -m) : (s > 0 ? o + m : o - m);
          }
      out.push_back(o);
    }
  Halide::Func yt = c.func(name + "_wg_output");
  LowerCtx::set(yt, {n, fo, ty, a, tx, b, fi}, Halide::mux(a * 2 + b, out));
  yt.compute_root()
      .bound(a, 0, 2)
      .bound(b, 0, 2)
      .bound(fi, 0, block)
      .reorder(fi, b, a, tx, ty, fo, n)
      .vectorize(fi, lanes)
      .unroll(a)
      .unroll(b);
  if (parallel)
    parallelLoop(yt, fo, (y.dim(1) + block - 1) / block, &ty, var("task"));
  Index o = outIndex(c);
  Halide::Expr value = callAt(yt, {o[0], o[1] / block, o[2] / 2, o[2] % 2,
                                   o[3] / 2, o[3] % 2, o[1] % block});
  if (c.numInputs() > 2)
    value = c.in(2, {o[1]}) + value;
  c.define(0, value);
}

/// conv in the Winograd form, its weights transformed in the kernel (a
/// conv the `pack-weights` pass did not split: compiled without it, or run by
/// the JIT).
static void lowerConvWinograd(LowerCtx &c, const KernelSchedule &sched,
                              const ConvGeometry &geo) {
  const int lanes = sched.vector, block = lanes * sched.tileFilters;
  const bool parallel = sched.parallel != "none";
  const std::string &name = c.name();
  Halide::Var e(name + "_wu_e"), fo(name + "_wu_fo"), wc(name + "_wu_c"),
      fi(name + "_wu_fi");
  Halide::Func ut = c.func(name + "_wg_weights");
  LowerCtx::set(ut, {e, fo, wc, fi},
                winogradWeights(c, 1, c.outType().dim(1), block, lanes, parallel,
                                e, fo, wc, fi));
  ut.compute_root()
      .bound(e, 0, 16)
      .bound(fi, 0, block)
      .reorder(fi, e, wc, fo)
      .vectorize(fi, lanes)
      .unroll(e);
  if (parallel)
    ut.parallel(fo);
  lowerWinogradTiles(c, sched, geo.padBegin[0], geo.padBegin[1],
                     c.inType(1).dim(1),
                     [&](const Halide::Expr &ee, const Halide::Expr &f,
                         const Halide::Expr &ch, const Halide::Expr &i) {
                       return callAt(ut, {ee, f, ch, i});
                     });
}

/// y[n, m, o...] = b[m] + sum over c < C/group and k... of
///   x[n, g * C/group + c, o * stride - pad_begin + k * dilation] * w[m, c, k...]
/// with g = m / (M / group) and x zero outside its bounds.
///
/// The sum is computed in `acc`, whose innermost axis is realized rounded
/// up to a whole number of vectors: vectorized across it with no tail (the
/// extra lanes are never copied out). On a GPU the channels and taps are
/// summed inside; on a CPU acc is computed in register tiles (the node's
/// schedule, see chooseConvTile in ir/Schedule.h), parallel over the
/// images of the batch, the tiles' rows or the filters as the schedule
/// says. Where a tap can leave x (padding, or the rounded-up
/// lanes), x is first copied with zeros around it, so that every load is a
/// dense vector rather than a guarded gather.
static Status lowerConv(LowerCtx &c) {
  const TensorType &x = c.inType(0), &w = c.inType(1), &y = c.outType();
  size_t spatial = size_t(x.rank() - 2);
  ShapeCtx shapes(c.node());
  auto geo = convGeometry(shapes, spatial);
  if (!geo.ok())
    return geo.status();
  int64_t group = c.node().attrInt("group");
  int64_t cPerGroup = w.dim(1), mPerGroup = w.dim(0) / group;
  Halide::Type t = LowerCtx::halideType(x.dtype());
  // The CPU schedule: the schedule pass's (ir/Schedule.h), or the same
  // choice for the default machine.
  CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(c.node()));
  if (c.cpuSchedule() && (sched.vector < 1 || !sched.tileFilters))
    return Status::error("schedule '" + sched.str() +
                         "' gives no vector width or register tile for a conv");
  const int lanes = !c.cpuSchedule() ? 1 : sched.vector;
  const bool nchwc = c.cpuSchedule() && sched.layout == "nchwc";
  if (nchwc && group != 1)
    return Status::error("schedule '" + sched.str() +
                         "': layout nchwc needs a conv of one group, this one "
                         "has " + std::to_string(group));
  if (c.cpuSchedule() && sched.layout == "winograd") {
    if (!winogradApplies(c.node()))
      return Status::error("schedule '" + sched.str() +
                           "': layout winograd needs a 2-D conv of one group "
                           "with a 3x3 kernel, stride 1 and dilation 1");
    lowerConvWinograd(c, sched, *geo);
    return Status::success();
  }
  // A depthwise conv kept in blocks (passes/BlockLayout.cpp).
  if (c.cpuSchedule() && depthwiseBlockable(c.node()) &&
      (storedBlock(*c.node().result(0)) == lanes || c.inBlock(0) == lanes) &&
      x.dim(1) % lanes == 0) {
    lowerDepthwiseBlocked(c, *geo, lanes);
    return Status::success();
  }
  if (nchwc) {
    // The weights copied into nchwc blocks every run (the pack-weights pass
    // makes that copy a step of its own: conv_nchwc).
    const int block = sched.vector * sched.tileFilters,
              cblock = nchwcChannelBlock(w.dim(1), sched.vector);
    std::vector<Halide::Var> wv;
    for (int64_t i = 0; i < w.rank() + 2; ++i)
      wv.emplace_back(c.name() + "_wb" + std::to_string(i));
    Halide::Func wb = c.func(c.name() + "_w_blocked");
    LowerCtx::set(wb, wv,
                  nchwcWeightsAt(c, 1, block, cblock, Index(wv.begin(), wv.end())));
    wb.compute_root()
        .bound(wv.back(), 0, block)
        .bound(wv[wv.size() - 2], 0, cblock)
        .vectorize(wv.back(), sched.vector);
    lowerConvNchwc(c, sched, *geo, cblock,
                   [&](const Index &i) { return callAt(wb, i); });
    return Status::success();
  }
  int64_t width = y.dim(y.rank() - 1);
  // On a GPU each thread computes one output: nothing is rounded up.
  int64_t padded = !c.cpuSchedule()
                       ? width
                       : (width + lanes - 1) / lanes * lanes;
  std::vector<int64_t> extents{cPerGroup};
  for (size_t i = 0; i < spatial; ++i)
    extents.push_back(w.dim(int64_t(2 + i)));
  Halide::RDom r = rdomOver(c, extents, "taps");
  const std::string &name = c.name();
  std::vector<Halide::Var> vars;
  for (int64_t i = 0; i < y.rank(); ++i)
    vars.emplace_back(name + "_y" + std::to_string(i));
  Index at(vars.begin(), vars.end());
  Halide::Expr m = at[1];
  Halide::Expr channel =
      group == 1 ? Halide::Expr(r[0]) : (m / int(mPerGroup)) * int(cPerGroup) + r[0];
  Index xi{at[0], channel}, wi{m, r[0]};
  // nchw with channel chunks (schedule chunk=K): acc sums K channels per
  // pass, an update that can not recompute tiles, so its partial tiles are
  // rounded up: x is read through the zero-padded copy, and the weights
  // and the bias with the filter clamped.
  const int64_t chunk =
      c.cpuSchedule() && group == 1 && sched.chunk > 0 &&
              sched.chunk < cPerGroup && cPerGroup % sched.chunk == 0
          ? sched.chunk
          : 0;
  bool guard = chunk > 0; // may a tap leave x?
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = x.dim(int64_t(2 + i)), k = w.dim(int64_t(2 + i));
    int64_t last = (i + 1 == spatial ? padded : y.dim(int64_t(2 + i))) - 1;
    xi.push_back(at[2 + i] * int(geo->strides[i]) - int(geo->padBegin[i]) +
                 r[int(1 + i)] * int(geo->dilations[i]));
    wi.push_back(r[int(1 + i)]);
    guard |= geo->padBegin[i] > 0 ||
             last * geo->strides[i] - geo->padBegin[i] +
                     (k - 1) * geo->dilations[i] >= in;
  }
  Halide::Expr zero = Halide::Internal::make_zero(t);
  Halide::Expr xv;
  // The copy of x a CPU conv reads (deinterleaved or zero-padded), if any,
  // and its channel Var: computed at root, in parallel over the channels
  // when the conv is parallel, or (a grouped conv) per tile of filters.
  Halide::Func xcopy;
  Halide::Var xcopyChannel;
  int64_t stride = geo->strides[spatial - 1];
  // A grouped conv's copy of x is made per tile of filters and row band
  // (below), deinterleaved there when the conv is strided; without a copy
  // (no padding) it reads x at the stride directly: Halide loads a
  // stride-2 vector as dense vectors and a shuffle. (A deinterleaving pass
  // of its own, at root, made MobileNetV2's stride-2 depthwise convs
  // slower, 0.90 -> 1.01 ms; inside the row bands' copy, faster.)
  // x's index xi in a copy of x deinterleaved by the column stride: the
  // tap at column o * stride + k (k = kx * dilation - pad_begin) is the
  // dense vector (..., k mod stride, o + floor(k / stride)).
  auto deinterleaved = [&]() {
    Index xsi(xi.begin(), xi.end() - 1);
    Halide::Expr k = r[int(spatial)] * int(geo->dilations[spatial - 1]) -
                     int(geo->padBegin[spatial - 1]);
    xsi.push_back(k % int(stride));
    xsi.push_back(at.back() + k / int(stride));
    return xsi;
  };
  if (c.cpuSchedule() && stride > 1 && group == 1) {
    // A strided conv on a CPU reads x deinterleaved: xs(..., phase, j) =
    // x(..., j * stride + phase), zero outside x, so that the tap at
    // column o * stride + k (k = kx * dilation - pad_begin) is a dense
    // vector xs(..., k mod stride, o + floor(k / stride)).
    std::vector<Halide::Var> xv_;
    for (int64_t i = 0; i + 1 < x.rank(); ++i)
      xv_.emplace_back(name + "_x" + std::to_string(i));
    Halide::Var phase(name + "_xphase"), j(name + "_xj");
    Index src(xv_.begin(), xv_.end());
    src.push_back(j * int(stride) + phase);
    xv_.push_back(phase);
    xv_.push_back(j);
    Halide::Func xs = c.func(name + "_x_deinterleaved");
    LowerCtx::set(xs, xv_, c.inOr(0, src, zero));
    xs.compute_root().vectorize(j, lanes);
    xcopy = xs;
    xcopyChannel = xv_[1];
    xv = callAt(xs, deinterleaved());
  } else if (guard) {
    std::vector<Halide::Var> xv_;
    for (int64_t i = 0; i < x.rank(); ++i)
      xv_.emplace_back(name + "_x" + std::to_string(i));
    Halide::Func xp;
    if (c.cpuSchedule() && group > 1 && spatial >= 2 && stride > 1) {
      // Copied per tile of filters, row band by row band (below), its
      // columns deinterleaved.
      xv_.back() = Halide::Var(name + "_xphase");
      xv_.emplace_back(name + "_xj");
      xp = zeroExtendedCopy(c, name + "_x_padded", xv_, stride);
      xcopy = xp;
      xcopyChannel = xv_[1];
      xi = deinterleaved();
    } else if (c.cpuSchedule() && group > 1 && spatial >= 2) {
      // Copied per tile of filters, row band by row band (below).
      xp = zeroExtendedCopy(c, name + "_x_padded", xv_);
      xcopy = xp;
      xcopyChannel = xv_[1];
    } else if (c.cpuSchedule()) {
      xp = paddedCopy(c, name + "_x_padded", xv_, lanes);
      xcopy = xp;
      xcopyChannel = xv_[1];
    } else {
      xp = c.func(name + "_x_padded");
      LowerCtx::set(xp, xv_, c.inOr(0, Index(xv_.begin(), xv_.end()), zero));
      xp.compute_root();
    }
    xv = callAt(xp, xi);
  } else {
    xv = c.in(0, xi);
  }
  if (xcopy.defined() && sched.parallel != "none" && x.dim(1) > 1 &&
      group == 1) {
    xcopy.parallel(xcopyChannel);
    if (xcopy.has_update_definition())
      xcopy.update().parallel(xcopyChannel);
  }
  Halide::Func acc = c.func(name + "_acc");
  Halide::Expr bias = c.numInputs() > 2 ? c.in(2, {m}) : zero;
  if (!c.cpuSchedule()) {
    LowerCtx::set(acc, vars, bias);
    updateAt(acc, at, callAt(acc, at) + xv * c.in(1, wi));
    acc.compute_root();
  } else {
    // Register blocking: acc is computed tile by tile, a tile being mb
    // filters x rb output rows x one vector of output columns. The tile's
    // sum lives in `tile`, computed inside acc's loop over vectors of
    // columns with the whole reduction (channels, taps) outside the tile's
    // unrolled loops: mb * rb independent accumulators stay in registers,
    // each input vector load is shared by the mb filters and each
    // broadcast weight by the rb rows.
    //
    // With a chunk the tile sums over rt (the chunk's channels and the
    // taps) and carries the chunk kc as its outermost dimension; acc is the
    // bias plus an update adding the tiles of every chunk, its loop over
    // the chunks just inside the rows: one chunk of x rows stays in L2
    // while all the filters pass over it.
    Halide::Func tile = c.func(name + "_tile");
    std::vector<Halide::Var> tvars = vars;
    Halide::RDom rt = r, rc;
    Halide::Var kc(name + "_kc");
    Halide::Expr wv = c.in(1, wi);
    if (chunk) {
      std::vector<int64_t> extents{chunk};
      for (size_t i = 0; i < spatial; ++i)
        extents.push_back(w.dim(int64_t(2 + i)));
      rt = rdomOver(c, extents, "chunk");
      rc = rdomOver(c, {cPerGroup / chunk}, "chunks");
      Halide::Expr mc = Halide::min(m, int(y.dim(1) - 1));
      std::map<std::string, Halide::Expr> subst{{r[0].name(), kc * int(chunk) + rt[0]}};
      for (int i = 1; i < r.dimensions(); ++i)
        subst[r[i].name()] = rt[i];
      xv = Halide::Internal::substitute(subst, xv);
      Index wc{mc, kc * int(chunk) + rt[0]};
      for (int i = 1; i < rt.dimensions(); ++i)
        wc.push_back(rt[i]);
      wv = c.in(1, wc);
      if (c.numInputs() > 2)
        bias = c.in(2, {mc});
      tvars.insert(tvars.begin(), kc);
    }
    Index tat(tvars.begin(), tvars.end());
    LowerCtx::set(tile, tvars, chunk ? zero : bias);
    updateAt(tile, tat, callAt(tile, tat) + xv * wv);
    if (chunk) {
      LowerCtx::set(acc, vars, bias);
      Index tc{rc[0]};
      tc.insert(tc.end(), at.begin(), at.end());
      updateAt(acc, at, callAt(acc, at) + callAt(tile, tc));
    } else {
      LowerCtx::set(acc, vars, callAt(tile, at));
    }
    acc.compute_root();
    // The stage that computes the tiles: acc's definition, or with a chunk
    // its update (the bias is stored first).
    Halide::Stage st = chunk ? acc.update() : Halide::Stage(acc);
    int64_t filters = y.dim(1);
    bool rows = spatial >= 2;
    int64_t height = rows ? y.dim(y.rank() - 2) : 1;
    int mb = sched.tileFilters, rb = rows ? sched.tileRows : 1;
    const Halide::Var &col = vars.back(), &filter = vars[1];
    Halide::Var co(name + "_co"), ci(name + "_ci"), fo(name + "_fo"),
        fi(name + "_fi"), ro(name + "_ro"), ri(name + "_ri");
    acc.bound(col, 0, int(padded));
    if (chunk)
      acc.vectorize(col, lanes);
    st.split(col, co, ci, lanes).split(filter, fo, fi, mb);
    std::vector<Halide::VarOrRVar> outer{ci, fi};
    if (rows) {
      const Halide::Var &row = vars[vars.size() - 2];
      st.split(row, ro, ri, rb);
      outer.push_back(ri);
    }
    outer.push_back(co);
    // A grouped conv's filter tile reads only its groups' channels: the
    // tiles of filters outermost, each with its own rows of x copied
    // (computed at fo below; a depthwise conv's copy then stays in L2
    // instead of a round trip of the whole padded x through memory).
    bool grouped = group > 1 && !chunk;
    if (!grouped)
      outer.push_back(fo);
    if (chunk)
      outer.push_back(rc[0]);
    if (rows)
      outer.push_back(ro);
    if (grouped)
      outer.push_back(fo);
    st.reorder(outer);
    if (rows)
      st.unroll(ri);
    st.vectorize(ci).unroll(fi);
    if (grouped && xcopy.defined() && !xcopy.has_update_definition() && rows) {
      // The copy's rows a tile of rows reads, each copied once (Halide's
      // sliding window over ro) into a buffer per tile of filters.
      // Its columns from a multiple of the vector: x's start whole
      // vectors, aligned stores.
      const Halide::Var columns = xcopy.args()[0];
      xcopy.store_at(acc, fo)
          .compute_at(acc, ro)
          .align_bounds(columns, lanes)
          .vectorize(columns, lanes);
      if (xcopy.dimensions() > x.rank()) // deinterleaved: (phase, j)
        xcopy.bound(xcopy.args()[1], 0, int(stride)).unroll(xcopy.args()[1]);
    } else if (grouped && xcopy.defined()) {
      xcopy.compute_at(acc, fo);
    }
    // Banded (schedule band=R): codegen computes acc per band of the
    // output's rows and runs the bands in parallel; acc's loops stay serial.
    bool banded = !grouped && !chunk && rows && sched.band > 0 &&
                  c.computeInRowBands(acc, sched.band);
    // A grouped conv's sums per block of filters, inside the output's
    // loop over the blocks: no root buffer of all its sums.
    if (grouped && rows)
      banded = c.computeInChannelBands(acc, mb);
    if (banded) {
    } else if (sched.parallel == "batch" && y.dim(0) > 1) {
      st.parallel(vars[0]);
      if (chunk)
        acc.parallel(vars[0]);
    } else if (grouped && sched.parallel != "none" && filters > mb) {
      st.parallel(fo);
    } else if (sched.parallel == "rows" && rows && (height + rb - 1) / rb > 1) {
      // fo is the loop inside ro, but for a chunk's reduction between.
      parallelLoop(st, ro, (height + rb - 1) / rb,
                   !chunk && filters > mb ? &fo : nullptr,
                   Halide::Var(name + "_task"));
    } else if ((sched.parallel == "filters" || sched.parallel == "rows") &&
               filters > mb) {
      st.parallel(fo);
    }
    tile.compute_at(acc, co).vectorize(col, lanes).unroll(filter);
    std::vector<Halide::VarOrRVar> order{col, filter};
    if (rows) {
      tile.unroll(vars[vars.size() - 2]);
      order.push_back(vars[vars.size() - 2]);
    }
    for (int i = rt.dimensions() - 1; i >= 0; --i)
      order.push_back(rt[i]);
    tile.update().reorder(order).vectorize(col, lanes).unroll(filter);
    if (rows)
      tile.update().unroll(vars[vars.size() - 2]);
  }
  c.define(0, callAt(acc, outIndex(c)));
  return Status::success();
}

/// ONNX Conv: kernel_shape, if given, repeats the weight's spatial dims;
/// auto_pad becomes explicit pads.
static Status importConv(OnnxImportCtx &c) {
  CNNC_ASSIGN_OR_RETURN(Value * w, c.input(1));
  const std::vector<int64_t> &wd = w->type().dims();
  std::vector<int64_t> kernel(wd.begin() + std::min<size_t>(2, wd.size()),
                              wd.end());
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> given, c.getInts("kernel_shape"));
  (void)c.takeAttr("kernel_shape");
  if (!given.empty()) {
    bool same = given.size() == kernel.size();
    for (size_t i = 0; same && i < given.size(); ++i)
      same = kernel[i] < 0 || kernel[i] == given[i];
    if (!same)
      return Status::error("kernel_shape " + intsStr(given) +
                           " differs from the weight " + w->type().str());
    kernel = given;
  }
  return importAutoPad(c, kernel);
}

/// dx = conv_grad_data(dy, w), dw = conv_grad_weight(x, dy), and db the
/// sum of dy over the batch and spatial axes.
static Status gradConv(GradCtx &c) {
  const Node &n = c.node();
  AttrMap attrs;
  for (const char *a : {"strides", "pads", "dilations", "group"})
    if (n.hasAttr(a))
      attrs[a] = n.attr(a);
  Value *dy = c.dy();
  if (c.needs(0)) {
    AttrMap a = attrs;
    a["x_shape"] = Attribute(c.x(0)->type().dims());
    c.addGrad(0, c.emit("conv_grad_data", {dy, c.x(1)}, a));
  }
  if (c.needs(1)) {
    AttrMap a = attrs;
    a["w_shape"] = Attribute(c.x(1)->type().dims());
    c.addGrad(1, c.emit("conv_grad_weight", {c.x(0), dy}, a));
  }
  if (n.numOperands() > 2 && c.needs(2)) {
    std::vector<int64_t> axes{0};
    for (int64_t i = 2; i < dy->type().rank(); ++i)
      axes.push_back(i);
    c.addGrad(2, c.emit("reduce_sum", {dy},
                        {{"axes", Attribute(axes)},
                         {"keepdims", Attribute(int64_t(0))}}));
  }
  return Status::success();
}

OpDef defineConv() {
  OpDef def("conv");
  return convWindowAttrs(def)
      .summary("N-d convolution (cross-correlation) with groups, strides, "
               "dilations and padding; x: [N, C, ...], w: [M, C/group, k...]")
      .inputs({"x", "w", "b?"})
      .outputs({"y"})
      .onnx("Conv", 1)
      .onnxImport(importConv)
      .inferShape(inferConv)
      .flops(convFlops)
      .lower(lowerConv)
      .pattern(FusionPattern::Complex)
      .grad(gradConv);
}

/// winograd_weights: w [M, C, 3, 3] -> u [16, ceil(M / block), C, block].
static Status inferWinogradWeights(ShapeCtx &c) {
  const TensorType &w = c.input(0);
  int64_t block = c.attrInt("block");
  if (block < 1)
    return c.error("block must be positive, got " + std::to_string(block));
  if (w.rank() != 4 || (w.dim(2) >= 0 && w.dim(2) != 3) ||
      (w.dim(3) >= 0 && w.dim(3) != 3))
    return c.error("weight must be [filters, channels, 3, 3], got " + w.str());
  int64_t m = w.dim(0);
  c.setOutput(0, TensorType(w.dtype(), {16, m < 0 ? kDynamic : (m + block - 1) / block,
                                        w.dim(1), block}));
  return Status::success();
}

/// Per filter (of the blocks) and channel: the 16 elements' 64 terms, 60
/// of them scaled by 1/2 or 1/4, summed in 48 additions.
static int64_t winogradWeightsFlops(const Node &n) {
  const TensorType &u = n.result(0)->type();
  return u.isStatic() ? 108 * u.dim(1) * u.dim(2) * u.dim(3) : 0;
}

static Status lowerWinogradWeights(LowerCtx &c) {
  CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(c.node()));
  int lanes = c.cpuSchedule() ? std::max(1, sched.vector) : 1;
  Index o = outIndex(c);
  c.define(0, winogradWeights(c, 0, c.inType(0).dim(0),
                              int(c.node().attrInt("block")), lanes,
                              sched.parallel != "none", o[0], o[1], o[2],
                              o[3]));
  return Status::success();
}

OpDef defineWinogradWeights() {
  return OpDef("winograd_weights")
      .summary("The weights of a 3x3 conv transformed for Winograd F(2x2, "
               "3x3): u[e, b, c, f] = (G g G^T)[e / 4][e % 4] of filter "
               "b * block + f (zero past the last) and channel c; made by "
               "the pack-weights pass")
      .inputs({"w"})
      .outputs({"u"})
      .requiredAttr("block", AttrKind::Int, "filters per block (innermost)")
      .inferShape(inferWinogradWeights)
      .flops(winogradWeightsFlops)
      .pattern(FusionPattern::Opaque)
      .lower(lowerWinogradWeights);
}

/// conv_winograd: x [N, C, H, W], u [16, B, C, block], b [M]? -> y [N, M,
/// H + pads - 2, W + pads - 2].
static Status inferConvWinograd(ShapeCtx &c) {
  const TensorType &x = c.input(0), &u = c.input(1);
  int64_t filters = c.attrInt("filters");
  if (x.rank() != 4 || u.rank() != 4)
    return c.error("input must be [N, C, H, W] and the weights [16, blocks, "
                   "C, block], got " + x.str() + " and " + u.str());
  if (u.dim(0) != 16 || (x.dim(1) >= 0 && u.dim(2) >= 0 && x.dim(1) != u.dim(2)))
    return c.error("weights " + u.str() + " are not the Winograd transform "
                   "of 3x3 weights over the input's " + std::to_string(x.dim(1)) +
                   " channels");
  if (u.dim(1) >= 0 && u.dim(3) >= 0 &&
      (filters <= (u.dim(1) - 1) * u.dim(3) || filters > u.dim(1) * u.dim(3)))
    return c.error(std::to_string(filters) + " filters do not fill the " +
                   std::to_string(u.dim(1)) + " blocks of " +
                   std::to_string(u.dim(3)) + " of the weights " + u.str());
  if (c.numInputs() > 2 && (c.input(2).rank() != 1 || c.input(2).dim(0) != filters))
    return c.error("bias " + c.input(2).str() + " must be a vector of " +
                   std::to_string(filters));
  std::vector<int64_t> pads = c.attrInts("pads");
  if (pads.empty())
    pads.assign(4, 0);
  if (pads.size() != 4 || *std::min_element(pads.begin(), pads.end()) < 0)
    return c.error("pads must be 4 values >= 0 (begin, end), got " +
                   intsStr(pads));
  std::vector<int64_t> out{x.dim(0), filters};
  for (int i = 0; i < 2; ++i) {
    int64_t in = x.dim(2 + i);
    if (in >= 0 && in + pads[i] + pads[2 + i] < 3)
      return c.error("the padded input is smaller than the 3x3 kernel in "
                     "spatial dimension " + std::to_string(i));
    out.push_back(in < 0 ? kDynamic : in + pads[i] + pads[2 + i] - 2);
  }
  c.setOutput(0, TensorType(x.dtype(), out));
  return Status::success();
}

/// The FLOPs of the direct conv it computes (so that its GFLOP/s compare
/// with the other forms' and can exceed the FMA peak).
static int64_t convWinogradFlops(const Node &n) {
  const TensorType &y = n.result(0)->type(), &u = n.operand(1)->type();
  if (!y.isStatic() || !u.isStatic())
    return 0;
  return directConvFlops(n, u.dim(2) * 9); // channels x 3 x 3
}

static Status lowerConvWinogradOp(LowerCtx &c) {
  CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(c.node()));
  const TensorType &u = c.inType(1);
  if (!c.cpuSchedule())
    return Status::error("conv_winograd is made by the pack-weights pass for "
                         "CPU targets only");
  if (sched.layout != "winograd" || sched.vector * sched.tileFilters != u.dim(3))
    return Status::error("schedule '" + sched.str() + "' is not a winograd "
                         "schedule of blocks of " + std::to_string(u.dim(3)) +
                         " filters (the weights' blocks)");
  std::vector<int64_t> pads = c.node().attrInts("pads");
  if (pads.empty())
    pads.assign(4, 0);
  lowerWinogradTiles(c, sched, pads[0], pads[1], u.dim(2),
                     [&](const Halide::Expr &e, const Halide::Expr &fo,
                         const Halide::Expr &ch, const Halide::Expr &fi) {
                       return c.in(1, {e, fo, ch, fi});
                     });
  return Status::success();
}

OpDef defineConvWinograd() {
  return OpDef("conv_winograd")
      .summary("A 3x3 conv of stride 1 in the Winograd form F(2x2, 3x3), its "
               "weights transformed by winograd_weights; made by the "
               "pack-weights pass from a conv scheduled layout=winograd")
      .inputs({"x", "u", "b?"})
      .outputs({"y"})
      .requiredAttr("filters", AttrKind::Int, "output channels")
      .attr("pads", AttrKind::Ints, std::vector<int64_t>{},
            "[top, left, bottom, right]; empty = all 0")
      .inferShape(inferConvWinograd)
      .flops(convWinogradFlops)
      .lower(lowerConvWinogradOp)
      .pattern(FusionPattern::Complex);
}

/// nchwc_weights: w [M, C, k...] -> [ceil(M / block), ceil(C / cblock),
/// k..., cblock, block].
static Status inferNchwcWeights(ShapeCtx &c) {
  const TensorType &w = c.input(0);
  int64_t block = c.attrInt("block"), cblock = c.attrInt("cblock");
  if (block < 1 || cblock < 1)
    return c.error("block and cblock must be positive, got " +
                   std::to_string(block) + " and " + std::to_string(cblock));
  if (w.rank() < 3)
    return c.error("weight must be [filters, channels, kernel...], got " +
                   w.str());
  auto blocks = [](int64_t d, int64_t b) {
    return d < 0 ? kDynamic : (d + b - 1) / b;
  };
  std::vector<int64_t> dims{blocks(w.dim(0), block), blocks(w.dim(1), cblock)};
  dims.insert(dims.end(), w.dims().begin() + 2, w.dims().end());
  dims.push_back(cblock);
  dims.push_back(block);
  c.setOutput(0, TensorType(w.dtype(), dims));
  return Status::success();
}

static Status lowerNchwcWeights(LowerCtx &c) {
  c.define(0, nchwcWeightsAt(c, 0, int(c.node().attrInt("block")),
                             int(c.node().attrInt("cblock")), outIndex(c)));
  return Status::success();
}

OpDef defineNchwcWeights() {
  return OpDef("nchwc_weights")
      .summary("A conv's weights in the blocks of the nchwc form: wb[mo, cb, "
               "k..., ci, mi] = w[mo * block + mi, cb * cblock + ci, k...], "
               "zero past the last filter or channel; made by the "
               "pack-weights pass")
      .inputs({"w"})
      .outputs({"wb"})
      .requiredAttr("block", AttrKind::Int, "filters per block (innermost)")
      .requiredAttr("cblock", AttrKind::Int, "channels per block")
      .inferShape(inferNchwcWeights)
      .flops([](const Node &) { return int64_t(0); })
      .pattern(FusionPattern::Opaque)
      .lower(lowerNchwcWeights);
}

/// conv_nchwc: x [N, C, spatial...], wb [ceil(M / block), ceil(C / cblock),
/// k..., cblock, block], b [M]? -> y [N, M, out...] as conv computes it.
static Status inferConvNchwc(ShapeCtx &c) {
  const TensorType &x = c.input(0), &wb = c.input(1);
  int64_t filters = c.attrInt("filters");
  if (x.rank() < 3 || wb.rank() != x.rank() + 2)
    return c.error("input must be [N, C, spatial...] and the weights [filter "
                   "blocks, channel blocks, kernel..., cblock, block], got " +
                   x.str() + " and " + wb.str());
  if (wb.dtype() != x.dtype())
    return c.error("weight type " + wb.str() + " differs from input type " +
                   x.str());
  if (c.attrInt("group") != 1)
    return c.error("the nchwc form takes a conv of one group, not " +
                   std::to_string(c.attrInt("group")));
  int64_t cblock = wb.dim(wb.rank() - 2), block = wb.dim(wb.rank() - 1);
  if (x.dim(1) >= 0 && wb.dim(1) >= 0 && cblock > 0 &&
      wb.dim(1) != (x.dim(1) + cblock - 1) / cblock)
    return c.error("weights " + wb.str() + " are not blocks of " +
                   std::to_string(cblock) + " of the input's " +
                   std::to_string(x.dim(1)) + " channels");
  if (wb.dim(0) >= 0 && block > 0 &&
      (filters <= (wb.dim(0) - 1) * block || filters > wb.dim(0) * block))
    return c.error(std::to_string(filters) + " filters do not fill the " +
                   std::to_string(wb.dim(0)) + " blocks of " +
                   std::to_string(block) + " of the weights " + wb.str());
  if (c.numInputs() > 2 && (c.input(2).rank() != 1 || c.input(2).dim(0) != filters))
    return c.error("bias " + c.input(2).str() + " must be a vector of " +
                   std::to_string(filters));
  std::vector<int64_t> kernel(wb.dims().begin() + 2, wb.dims().end() - 2);
  return setConvOutput(c, x, kernel, filters);
}

static int64_t convNchwcFlops(const Node &n) {
  const TensorType &x = n.operand(0)->type(), &wb = n.operand(1)->type();
  if (!n.result(0)->type().isStatic() || !x.isStatic() || !wb.isStatic())
    return 0;
  int64_t taps = x.dim(1);
  for (int64_t i = 2; i + 2 < wb.rank(); ++i)
    taps *= wb.dim(i);
  return directConvFlops(n, taps);
}

static Status lowerConvNchwcOp(LowerCtx &c) {
  CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(c.node()));
  const TensorType &wb = c.inType(1);
  if (!c.cpuSchedule())
    return Status::error("conv_nchwc is made by the pack-weights pass for "
                         "CPU targets only");
  // wb: [blocks, cblocks, k..., cblock, block].
  if (sched.layout != "nchwc" ||
      nchwcChannelBlock(c.inType(0).dim(1), sched.vector) !=
          wb.dim(wb.rank() - 2) ||
      sched.vector * sched.tileFilters != wb.dim(wb.rank() - 1))
    return Status::error("schedule '" + sched.str() + "' is not an nchwc "
                         "schedule of the weights' blocks (" +
                         std::to_string(wb.dim(wb.rank() - 2)) + " channels, " +
                         std::to_string(wb.dim(wb.rank() - 1)) + " filters)");
  ShapeCtx shapes(c.node());
  auto geo = convGeometry(shapes, size_t(c.inType(0).rank() - 2));
  if (!geo.ok())
    return geo.status();
  lowerConvNchwc(c, sched, *geo, int(wb.dim(wb.rank() - 2)),
                 [&](const Index &i) { return c.in(1, i); });
  return Status::success();
}

OpDef defineConvNchwc() {
  OpDef def("conv_nchwc");
  return convWindowAttrs(def)
      .summary("A conv of one group in the nchwc form, its weights in blocks "
               "(nchwc_weights); made by the pack-weights pass from a conv "
               "scheduled layout=nchwc")
      .inputs({"x", "wb", "b?"})
      .outputs({"y"})
      .requiredAttr("filters", AttrKind::Int, "output channels")
      .inferShape(inferConvNchwc)
      .flops(convNchwcFlops)
      .lower(lowerConvNchwcOp)
      .pattern(FusionPattern::Complex);
}

} // namespace cnnc::ops
