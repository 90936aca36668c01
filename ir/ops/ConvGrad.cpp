//===- ir/ops/ConvGrad.cpp - conv_grad_data and conv_grad_weight ---------===//
//
// The two adjoints of conv (ir/ops/Conv.cpp), with its strides, pads,
// dilations and groups:
//   conv_grad_data(dy, w)   -> dx, the transposed convolution of dy by w;
//   conv_grad_weight(x, dy) -> dw, the correlation of x with dy over the
//                              batch and the output positions.
// The shape of the result is an attribute (x_shape / w_shape), as the
// transposed convolution cannot recover it from dy alone.
//
//===----------------------------------------------------------------------===//
#include "ir/ops/LowerHelpers.h"
#include "ir/ops/OpHelpers.h"
#include "ir/ParamInit.h"
#include "ir/Schedule.h"

#include <functional>

namespace cnnc::ops {

static Status inferConvGradData(ShapeCtx &c) {
  const TensorType &dy = c.input(0), &w = c.input(1);
  const std::vector<int64_t> &xs = c.attrInts("x_shape");
  if (int64_t(xs.size()) != dy.rank() || w.rank() != dy.rank() ||
      dy.rank() < 3)
    return c.error("dy " + dy.str() + ", w " + w.str() + " and x_shape " +
                   intsStr(xs) + " must have one rank, 3 or more");
  if (w.dtype() != dy.dtype())
    return c.error("w " + w.str() + " and dy " + dy.str() + " differ in type");
  auto geo = convGeometry(c, size_t(dy.rank() - 2));
  if (!geo.ok())
    return c.error(geo.status().message());
  c.setOutput(0, TensorType(dy.dtype(), xs));
  return Status::success();
}

static Status inferConvGradWeight(ShapeCtx &c) {
  const TensorType &x = c.input(0), &dy = c.input(1);
  const std::vector<int64_t> &ws = c.attrInts("w_shape");
  if (int64_t(ws.size()) != x.rank() || dy.rank() != x.rank() || x.rank() < 3)
    return c.error("x " + x.str() + ", dy " + dy.str() + " and w_shape " +
                   intsStr(ws) + " must have one rank, 3 or more");
  if (x.dtype() != dy.dtype())
    return c.error("x " + x.str() + " and dy " + dy.str() + " differ in type");
  auto geo = convGeometry(c, size_t(x.rank() - 2));
  if (!geo.ok())
    return c.error(geo.status().message());
  c.setOutput(0, TensorType(x.dtype(), ws));
  return Status::success();
}

/// As many multiply-adds as the forward conv.
static int64_t convGradFlops(const Node &n, const TensorType &dy,
                             const TensorType &w) {
  if (!dy.isStatic() || !w.isStatic())
    return 0;
  (void)n;
  return 2 * dy.numElements() * (w.numElements() / w.dim(0));
}

/// dw at the output index: the sum of acc's \p lanes partial sums there
/// (acc's last axis; conv_grad_weight's lowerings).
static Halide::Expr sumOfLanes(LowerCtx &c, const Halide::Func &acc,
                               int lanes) {
  Index li = outIndex(c);
  li.push_back(0);
  Halide::Expr sum = callAt(acc, li);
  for (int l = 1; l < lanes; ++l) {
    li.back() = l;
    sum = sum + callAt(acc, li);
  }
  return sum;
}

namespace {
/// One phase of conv_grad_data seen as a forward conv over the outer
/// context's dy and w (see lowerConvGradDataAsConv): operand 0 is dy
/// shifted by `shift` along the spatial axes, operand 1 the weights
/// transposed (filters <-> channels, within each group) with the taps
/// picked by `tapOf`; the conv's result is recorded, not stored.
class PhaseCtx : public LowerCtx {
public:
  PhaseCtx(LowerCtx &outer, const Node &conv, std::string name,
           std::vector<int64_t> shift, std::vector<std::vector<int64_t>> tapOf,
           int64_t cPerGroup, int64_t mPerGroup)
      : outer_(outer), conv_(conv), name_(std::move(name)),
        shift_(std::move(shift)), tapOf_(std::move(tapOf)),
        cPerGroup_(cPerGroup), mPerGroup_(mPerGroup), out_(name_ + "_y") {
    for (int64_t d = 0; d < conv.result(0)->type().rank(); ++d)
      vars_.emplace_back(name_ + "_v" + std::to_string(d));
  }
  const Node &node() const override { return conv_; }
  bool gpu() const override { return outer_.gpu(); }
  bool autoScheduled() const override { return outer_.autoScheduled(); }
  const std::string &name() const override { return name_; }
  Halide::Expr in(size_t i, const Index &index) override {
    if (i == 0) {
      Index at{index[0], index[1]};
      for (size_t d = 2; d < index.size(); ++d)
        at.push_back(index[d] + int(shift_[d - 2]));
      return outer_.in(0, at);
    }
    // w'[cc, ml, t...] = w[group(cc) * M/g + ml, cc mod C/g, tapOf[t]...]
    Halide::Expr cc = index[0], ml = index[1];
    Index at{(cc / int(cPerGroup_)) * int(mPerGroup_) + ml, cc % int(cPerGroup_)};
    if (cPerGroup_ == outer_.outType().dim(1)) // one group
      at = {ml, cc};
    for (size_t d = 2; d < index.size(); ++d) {
      const std::vector<int64_t> &taps = tapOf_[d - 2];
      // The tap as a constant where it is one (the conv unrolls its taps).
      Halide::Expr t = index[d], k = int(taps.back());
      for (size_t j = taps.size() - 1; j-- > 0;)
        k = Halide::select(t == int(j), int(taps[j]), k);
      at.push_back(k);
    }
    return outer_.in(1, at);
  }
  Halide::Expr inOr(size_t i, const Index &index, Halide::Expr outside) override {
    const TensorType &t = inType(i);
    Halide::Expr inside = Halide::Internal::const_true();
    Index clamped;
    for (size_t d = 0; d < index.size(); ++d) {
      int extent = int(t.dim(int64_t(d)));
      inside = inside && index[d] >= 0 && index[d] < extent;
      clamped.push_back(Halide::clamp(index[d], 0, extent - 1));
    }
    return Halide::select(inside, in(i, clamped),
                          Halide::cast(halideType(t.dtype()), outside));
  }
  const std::vector<Halide::Var> &outVars(size_t) override { return vars_; }
  void define(size_t, Halide::Expr value) override {
    LowerCtx::set(out_, vars_, value);
  }
  void update(size_t, const Index &index, Halide::Expr value) override {
    updateAt(out_, index, value);
  }
  Halide::Func &outFunc(size_t) override { return out_; }
  Halide::Func func(const std::string &name) override {
    return outer_.func(name);
  }

private:
  LowerCtx &outer_;
  const Node &conv_;
  std::string name_;
  std::vector<int64_t> shift_;
  std::vector<std::vector<int64_t>> tapOf_;
  int64_t cPerGroup_, mPerGroup_;
  Halide::Func out_;
  std::vector<Halide::Var> vars_;
};

/// How one spatial axis of one phase reads dy: dx[i] for i = q * stride +
/// phase is sum over j < taps.size() of dy[q - pad + j + shift] *
/// w[taps[j]] (dilation `dilation` between the j), for q < outSize, where
/// dy is read as 0 outside its bounds.
struct PhaseAxis {
  std::vector<int64_t> taps;
  int64_t pad = 0, shift = 0, dilation = 1, outSize = 0;
};

/// Axis \p i of phase \p phase of the transposed conv: the taps k with
/// (phase + pad - k * dilation) divisible by the stride, in the order a
/// forward conv meets them (reversed).
PhaseAxis phaseAxis(int64_t phase, int64_t stride, int64_t padBegin,
                    int64_t dilation, int64_t kernel, int64_t xSize) {
  PhaseAxis a;
  a.dilation = stride == 1 ? dilation : 1;
  // Every phase as long as the longest (phase 0): the interleaving select
  // reads every phase at every q (Halide bounds both branches); the extra
  // positions compute values nobody reads.
  a.outSize = (xSize + stride - 1) / stride;
  int64_t first = 0; // dy offset of the first tap the conv meets
  if (stride == 1) {
    for (int64_t k = kernel; k-- > 0;)
      a.taps.push_back(k);
    first = (kernel - 1) * dilation - padBegin; // dy[i - first + t * d]
  } else {
    int64_t r = ((phase + padBegin) % stride + stride) % stride;
    int64_t taps = r < kernel ? (kernel - r + stride - 1) / stride : 0;
    for (int64_t j = taps; j-- > 0;)
      a.taps.push_back(r + j * stride);
    // tap k = r + j * s reads dy[q + c0 - j], c0 = (phase + pad - r) / s.
    int64_t c0 = (phase + padBegin - r) / stride;
    first = taps - 1 - c0;
  }
  a.pad = std::max<int64_t>(0, first);
  a.shift = std::max<int64_t>(0, -first);
  return a;
}
} // namespace

/// conv_grad_data on a CPU as forward convs, run by conv's own lowering
/// (register tiles, the node's schedule): for stride 1 one conv of dy
/// (padded by (k - 1) * dilation - pad) with the weights transposed and
/// flipped; for stride s > 1 (no dilation) one conv per phase of the
/// output (i mod s along each axis), each with the taps that land on that
/// phase, the phases interleaved into dx. No tap is multiplied by an
/// inserted zero, unlike the zero-insertion form, and the guarded reads of
/// the old form (a division test per tap) are gone.
static Status lowerConvGradDataAsConv(LowerCtx &c, const ConvGeometry &g,
                                      int64_t group) {
  const TensorType &dy = c.inType(0), &w = c.inType(1), &x = c.outType();
  size_t spatial = size_t(dy.rank() - 2);
  int64_t cPerGroup = w.dim(1), mPerGroup = w.dim(0) / group;
  const OpDef *convDef = OpRegistry::get().lookup("conv");
  CNNC_ASSIGN_OR_RETURN(KernelSchedule outer, scheduleOf(c.node()));
  std::vector<int64_t> phases(spatial);
  int64_t numPhases = 1;
  for (size_t i = 0; i < spatial; ++i) {
    phases[i] = g.strides[i];
    numPhases *= phases[i];
  }
  std::vector<Halide::Expr> values; // per phase, at the phase's own index
  const Index at = outIndex(c);
  Halide::Type t = LowerCtx::halideType(x.dtype());
  for (int64_t p = 0; p < numPhases; ++p) {
    std::vector<int64_t> phase(spatial);
    for (int64_t rest = p, i = int64_t(spatial); i-- > 0;) {
      phase[size_t(i)] = rest % phases[size_t(i)];
      rest /= phases[size_t(i)];
    }
    std::vector<PhaseAxis> axes;
    bool empty = false;
    for (size_t i = 0; i < spatial; ++i) {
      axes.push_back(phaseAxis(phase[i], g.strides[i], g.padBegin[i],
                               g.dilations[i], w.dim(int64_t(2 + i)),
                               x.dim(int64_t(2 + i))));
      empty |= axes.back().taps.empty() || axes.back().outSize <= 0 ||
               dy.dim(int64_t(2 + i)) - axes.back().shift <= 0;
    }
    Index q{at[0], at[1]};
    for (size_t i = 0; i < spatial; ++i)
      q.push_back(at[2 + i] / int(g.strides[i]));
    if (empty) {
      values.push_back(Halide::Internal::make_zero(t));
      continue;
    }
    // The phase as a conv node of its own graph, for conv's lowering.
    Graph pg("conv_grad_data_phase");
    std::vector<int64_t> in{dy.dim(0), dy.dim(1)}, wd{x.dim(1), mPerGroup},
        out{x.dim(0), x.dim(1)}, pads, padEnds, dil;
    std::vector<int64_t> shift;
    std::vector<std::vector<int64_t>> tapOf;
    for (const PhaseAxis &a : axes) {
      int64_t size = dy.dim(int64_t(2 + in.size() - 2)) - a.shift;
      in.push_back(size);
      wd.push_back(int64_t(a.taps.size()));
      out.push_back(a.outSize);
      pads.push_back(a.pad);
      padEnds.push_back(std::max<int64_t>(
          0, a.outSize - size - a.pad +
                 (int64_t(a.taps.size()) - 1) * a.dilation));
      dil.push_back(a.dilation);
      shift.push_back(a.shift);
      tapOf.push_back(a.taps);
    }
    pads.insert(pads.end(), padEnds.begin(), padEnds.end());
    Value *pin = pg.addInput("dy", TensorType(dy.dtype(), in));
    Value *pw = pg.addParam("w", TensorType(w.dtype(), wd), ParamInit::zeros(),
                            false);
    AttrMap attrs{{"pads", Attribute(pads)}, {"dilations", Attribute(dil)},
                  {"group", Attribute(group)}};
    Node *conv = pg.addNode(*convDef, {pin, pw}, attrs, {"y"});
    conv->result(0)->setType(TensorType(x.dtype(), out));
    MachineModel m;
    m.vectorBits = outer.vector * int(t.bits());
    m.winograd = false;
    KernelSchedule ps = chooseSchedule(*conv, m);
    if (outer.parallel == "none")
      ps.parallel = "none";
    conv->attrs()[kScheduleAttr] = Attribute(ps.str());
    PhaseCtx pc(c, *conv, c.name() + "_ph" + std::to_string(p), shift, tapOf,
                cPerGroup, mPerGroup);
    CNNC_RETURN_IF_ERROR(convDef->lowerFn()(pc));
    values.push_back(callAt(pc.outFunc(0), q));
  }
  // Interleave: dx at i reads the phase of i mod stride along each axis.
  std::function<Halide::Expr(size_t, int64_t)> pick = [&](size_t axis,
                                                          int64_t base) {
    if (axis == spatial)
      return values[size_t(base)];
    int64_t s = g.strides[axis];
    Halide::Expr e = pick(axis + 1, base * s + s - 1);
    for (int64_t ph = s - 1; ph-- > 0;)
      e = Halide::select(at[2 + axis] % int(s) == int(ph),
                         pick(axis + 1, base * s + ph), e);
    return e;
  };
  c.define(0, pick(0, 0));
  return Status::success();
}

/// dx[n, c, i...] = sum over m in c's group and taps k of
///   dy[n, m, o...] * w[m, c mod C/g, k...]
/// where o * stride - pad + k * dilation = i (windowSource).
///
/// The sum is computed in `acc`, whose innermost axis is realized rounded
/// up to a whole number of vectors (every read is guarded, so the extra
/// lanes compute harmless values that are never copied out): vectorized
/// across it with no tail, the taps inside, parallel over the batch.
static Status lowerConvGradData(LowerCtx &c) {
  const TensorType &dy = c.inType(0), &w = c.inType(1);
  const TensorType &x = c.outType();
  size_t spatial = size_t(dy.rank() - 2);
  ShapeCtx shapes(c.node());
  CNNC_ASSIGN_OR_RETURN(ConvGeometry g, convGeometry(shapes, spatial));
  int64_t group = c.node().attrInt("group");
  bool dilatedStrided = false;
  for (size_t i = 0; i < spatial; ++i)
    dilatedStrided |= g.strides[i] > 1 && g.dilations[i] > 1;
  if (c.cpuSchedule() && !dilatedStrided)
    return lowerConvGradDataAsConv(c, g, group);
  int64_t cPerGroup = w.dim(1), mPerGroup = w.dim(0) / group;
  std::vector<int64_t> extents{mPerGroup};
  for (size_t i = 0; i < spatial; ++i)
    extents.push_back(w.dim(int64_t(2 + i)));
  Halide::RDom r = rdomOver(c, extents, "taps");
  const std::string &name = c.name();
  std::vector<Halide::Var> vars;
  for (int64_t i = 0; i < x.rank(); ++i)
    vars.emplace_back(name + "_x" + std::to_string(i));
  Index at(vars.begin(), vars.end());
  Halide::Expr ch = at[1];
  Halide::Expr m = group == 1 ? Halide::Expr(r[0])
                              : (ch / int(cPerGroup)) * int(mPerGroup) + r[0];
  Index dyi{at[0], m}, wi{m, group == 1 ? ch : ch % int(cPerGroup)};
  Halide::Expr valid = Halide::Internal::const_true();
  for (size_t i = 0; i < spatial; ++i) {
    WindowSource s = windowSource(at[2 + i], r[int(1 + i)], g.strides[i],
                                  g.padBegin[i], g.dilations[i],
                                  dy.dim(int64_t(2 + i)));
    dyi.push_back(s.position);
    wi.push_back(r[int(1 + i)]);
    valid = valid && s.valid;
  }
  Halide::Type t = LowerCtx::halideType(dy.dtype());
  Halide::Expr zero = Halide::Internal::make_zero(t);
  // dy with zeros around it, at root: the taps then read it with plain
  // dense loads (a guarded read of dy itself becomes a gather).
  std::vector<Halide::Var> dv;
  for (int64_t i = 0; i < dy.rank(); ++i)
    dv.emplace_back(name + "_d" + std::to_string(i));
  Halide::Func dyp = c.func(name + "_dy_padded");
  LowerCtx::set(dyp, dv, c.inOr(0, Index(dv.begin(), dv.end()), zero));
  dyp.compute_root();
  bool unitStride = true;
  for (size_t i = 0; i < spatial; ++i)
    unitStride &= g.strides[i] == 1;
  Halide::Expr tap = callAt(dyp, dyi);
  if (!unitStride) // windowSource's exact-division test
    tap = Halide::select(valid, tap, zero);
  Halide::Func acc = c.func(name + "_acc");
  LowerCtx::set(acc, vars, zero);
  updateAt(acc, at, callAt(acc, at) + tap * c.in(1, wi));
  const int lanes = t.bits() == 64 ? 4 : 8;
  const Halide::Var &inner = vars.back();
  int64_t width = x.dim(x.rank() - 1);
  int64_t padded = (width + lanes - 1) / lanes * lanes;
  Halide::Var io(name + "_io"), ii(name + "_ii");
  acc.compute_root();
  if (c.cpuSchedule()) { // on a GPU: one thread per element (HalideLowering)
    acc.bound(inner, 0, int(padded));
    acc.vectorize(inner, lanes);
    std::vector<Halide::VarOrRVar> order{ii};
    for (int i = 0; i < r.dimensions(); ++i)
      order.push_back(r[i]);
    order.push_back(io);
    acc.update().split(inner, io, ii, lanes).reorder(order).vectorize(ii);
    if (x.dim(0) > 1)
      acc.update().parallel(vars[0]);
  }
  c.define(0, callAt(acc, outIndex(c)));
  return Status::success();
}

/// dw[m, c, k...] = sum over n and o... of
///   dy[n, m, o...] * x[n, g(m) * C/g + c, o * stride - pad + k * dilation]
/// with x zero outside its bounds.
///
/// The sum runs over the batch and every output position, far more terms
/// than dw has elements, and dw's innermost axis (a kernel width) is too
/// short to vectorize. So it is split by hand as Halide's rfactor would:
/// `acc` keeps L partial sums per element, lane l summing the last output
/// axis's positions o = L * b + l, vectorized across the lanes (contiguous
/// loads of dy and x along o), parallel over the filters; dw adds up the L
/// lanes.
/// conv_grad_weight of a 2-D conv without groups on a CPU, in register
/// tiles: dw's partial sums acc(m, c, ky, kx, lane) (lane l sums the output
/// columns o = L * b + l) are computed tile by tile, a tile being mb
/// filters x cb channels x every kx of one ky, all L lanes: mb * cb * Kx
/// vector accumulators stay in registers for the whole sum over the batch,
/// the output rows and the blocks of columns; each step loads mb vectors
/// of dy (shared by the channels and taps) and cb * Kx vectors of x
/// (shared by the filters). x is read deinterleaved by the column stride
/// (xs(n, c, y, phase, j) = x(n, c, y, j * stride + phase), zero outside),
/// so that every tap's vector is dense. The tile is the node's schedule
/// (tile=MBxCB, ir/Schedule.h).
static Status lowerConvGradWeightTiled(LowerCtx &c, const ConvGeometry &g,
                                       const KernelSchedule &sched) {
  const TensorType &x = c.inType(0), &dy = c.inType(1);
  const TensorType &w = c.outType();
  Halide::Type t = LowerCtx::halideType(x.dtype());
  const int lanes = sched.vector;
  int64_t cols = dy.dim(3), blocks = (cols + lanes - 1) / lanes;
  int64_t kx = w.dim(3), stride = g.strides[1];
  // Images per chunk (schedule chunk=K, see chooseSchedule): the tiles sum
  // one chunk of the batch at a time, into acc, so that the chunk's x and
  // dy stay in L2 while every tile passes over them; without chunks each
  // tile streamed the whole batch's planes of its channels and filters.
  const int64_t images = dy.dim(0),
                chunk = sched.chunk > 0 && sched.chunk < images &&
                                images % sched.chunk == 0
                            ? sched.chunk
                            : images;
  Halide::RDom r = rdomOver(c, {blocks, dy.dim(2), chunk}, "positions");
  Halide::RDom rn = rdomOver(c, {images / chunk}, "chunks");
  const std::string &name = c.name();
  Halide::Expr zero = Halide::Internal::make_zero(t);
  // dy with zeros past its last column (the partial block).
  std::vector<Halide::Var> dv;
  for (int i = 0; i < 4; ++i)
    dv.emplace_back(name + "_d" + std::to_string(i));
  Halide::Func dyp = c.func(name + "_dy_padded");
  LowerCtx::set(dyp, dv, c.inOr(1, Index(dv.begin(), dv.end()), zero));
  dyp.compute_root().vectorize(dv[3], lanes);
  // x deinterleaved by the column stride, zero outside.
  std::vector<Halide::Var> xv;
  for (int i = 0; i < 3; ++i)
    xv.emplace_back(name + "_x" + std::to_string(i));
  Halide::Var phase(name + "_xphase"), j(name + "_xj");
  Index src(xv.begin(), xv.end());
  src.push_back(j * int(stride) + phase);
  std::vector<Halide::Var> xsv = xv;
  xsv.push_back(phase);
  xsv.push_back(j);
  Halide::Func xs = c.func(name + "_x_deinterleaved");
  LowerCtx::set(xs, xsv, c.inOr(0, src, zero));
  xs.compute_root().vectorize(j, lanes);

  std::vector<Halide::Var> vars;
  for (int i = 0; i < 4; ++i)
    vars.emplace_back(name + "_w" + std::to_string(i));
  Halide::Var lane(name + "_lane"), kc(name + "_kc");
  std::vector<Halide::Var> accVars = vars;
  accVars.push_back(lane);
  Index at(accVars.begin(), accVars.end());
  std::vector<Halide::Var> tileVars = accVars;
  tileVars.insert(tileVars.begin(), kc);
  Index tat(tileVars.begin(), tileVars.end());
  Halide::Expr n = kc * int(chunk) + r[2], oy = r[1], ox = r[0] * lanes + lane;
  Halide::Expr k = vars[3] * int(g.dilations[1]) - int(g.padBegin[1]);
  Index dyi{n, vars[0], oy, ox};
  Index xi{n, vars[1],
           oy * int(g.strides[0]) - int(g.padBegin[0]) +
               vars[2] * int(g.dilations[0]),
           // floor division and Euclidean mod: Halide's for a positive
           // divisor
           k % int(stride), ox + k / int(stride)};
  Halide::Func tile = c.func(name + "_tile"), acc = c.func(name + "_acc");
  LowerCtx::set(tile, tileVars, zero);
  updateAt(tile, tat, callAt(tile, tat) + callAt(dyp, dyi) * callAt(xs, xi));
  // acc: zero, then each chunk's tiles added (the chunks outermost).
  LowerCtx::set(acc, accVars, zero);
  Index tc = at;
  tc.insert(tc.begin(), rn.x);
  updateAt(acc, at, callAt(acc, at) + callAt(tile, tc));
  int mb = sched.tileFilters, cb = sched.tileRows;
  Halide::Var mo(name + "_mo"), mi(name + "_mi"), co(name + "_co"),
      ci(name + "_ci");
  acc.compute_root()
      .bound(lane, 0, lanes)
      .bound(vars[3], 0, int(kx))
      .vectorize(lane);
  // The update's splits round the filters and channels up to whole tiles:
  // acc is an intermediate, and dy_padded and x_deinterleaved read zeros
  // past the edges.
  acc.update()
      .split(vars[0], mo, mi, mb)
      .split(vars[1], co, ci, cb)
      .reorder(lane, vars[3], ci, mi, vars[2], co, mo, rn.x)
      .vectorize(lane)
      .unroll(vars[3])
      .unroll(ci)
      .unroll(mi);
  if (sched.parallel != "none")
    acc.update().parallel(mo);
  tile.compute_at(acc, vars[2])
      .vectorize(lane)
      .unroll(vars[3])
      .unroll(vars[1])
      .unroll(vars[0]);
  tile.update()
      .reorder(lane, vars[3], vars[1], vars[0], r[0], r[1], r[2])
      .vectorize(lane)
      .unroll(vars[3])
      .unroll(vars[1])
      .unroll(vars[0]);
  c.define(0, sumOfLanes(c, acc, lanes));
  return Status::success();
}

static Status lowerConvGradWeight(LowerCtx &c) {
  const TensorType &x = c.inType(0), &dy = c.inType(1);
  const TensorType &w = c.outType();
  size_t spatial = size_t(x.rank() - 2);
  ShapeCtx shapes(c.node());
  CNNC_ASSIGN_OR_RETURN(ConvGeometry g, convGeometry(shapes, spatial));
  int64_t group = c.node().attrInt("group");
  if (c.cpuSchedule() && spatial == 2 && group == 1) {
    CNNC_ASSIGN_OR_RETURN(KernelSchedule sched, scheduleOf(c.node()));
    if (sched.vector > 1 && sched.tileFilters && sched.tileRows)
      return lowerConvGradWeightTiled(c, g, sched);
  }
  int64_t cPerGroup = w.dim(1), mPerGroup = w.dim(0) / group;
  Halide::Type t = LowerCtx::halideType(x.dtype());
  const int lanes = t.bits() == 64 ? 4 : 8;
  int64_t last = dy.dim(dy.rank() - 1);
  int64_t blocks = (last + lanes - 1) / lanes;
  // Innermost first: blocks of the last axis, the other axes inward-out,
  // the batch.
  std::vector<int64_t> extents{blocks};
  for (size_t i = spatial - 1; i-- > 0;)
    extents.push_back(dy.dim(int64_t(2 + i)));
  extents.push_back(dy.dim(0));
  Halide::RDom r = rdomOver(c, extents, "positions");
  const std::string &name = c.name();
  std::vector<Halide::Var> vars;
  for (int64_t i = 0; i < w.rank(); ++i)
    vars.emplace_back(name + "_w" + std::to_string(i));
  Halide::Var lane(name + "_lane");
  std::vector<Halide::Var> accVars = vars;
  accVars.push_back(lane);
  Index at(accVars.begin(), accVars.end());

  Halide::Expr m = vars[0];
  Halide::Expr ch = group == 1 ? Halide::Expr(vars[1])
                               : (m / int(mPerGroup)) * int(cPerGroup) + vars[1];
  Halide::Expr n = r[int(spatial)];
  Index dyi{n, m}, xi{n, ch};
  for (size_t i = 0; i < spatial; ++i) {
    Halide::Expr o = i + 1 == spatial ? r[0] * lanes + lane
                                      : Halide::Expr(r[int(spatial - 1 - i)]);
    dyi.push_back(o);
    xi.push_back(o * int(g.strides[i]) - int(g.padBegin[i]) +
                 vars[2 + i] * int(g.dilations[i]));
  }
  Halide::Expr zero = Halide::Internal::make_zero(t);
  // x and dy with zeros around them, at root: past the last position (a
  // partial block) dy reads as 0, and o * stride - pad + k * dilation may
  // leave x. Plain loads of these are dense vectors (guarded reads of the
  // inputs themselves become gathers).
  auto padded = [&](size_t input, const char *what) {
    std::vector<Halide::Var> v;
    for (int64_t i = 0; i < c.inType(input).rank(); ++i)
      v.emplace_back(name + "_" + what + std::to_string(i));
    Halide::Func f = c.func(name + "_" + what + "_padded");
    LowerCtx::set(f, v, c.inOr(input, Index(v.begin(), v.end()), zero));
    f.compute_root();
    return f;
  };
  Halide::Func xp = padded(0, "x"), dyp = padded(1, "dy");
  Halide::Func acc = c.func(name + "_acc");
  LowerCtx::set(acc, accVars, zero);
  updateAt(acc, at, callAt(acc, at) + callAt(dyp, dyi) * callAt(xp, xi));
  std::vector<Halide::VarOrRVar> order{lane};
  for (int i = 0; i < r.dimensions(); ++i)
    order.push_back(r[i]);
  acc.compute_root();
  if (c.cpuSchedule()) { // on a GPU the lanes are threads too (HalideLowering)
    acc.vectorize(lane);
    acc.update().reorder(order).vectorize(lane);
    if (w.dim(0) > 1)
      acc.update().parallel(vars[0]);
  }
  c.define(0, sumOfLanes(c, acc, lanes));
  return Status::success();
}

/// The attributes are the conv's.
static OpDef convGradOp(const std::string &name) {
  OpDef def(name);
  return convWindowAttrs(def).pattern(FusionPattern::Complex);
}

OpDef defineConvGradData() {
  return convGradOp("conv_grad_data")
      .summary("Gradient of conv with respect to its input (the transposed "
               "convolution of dy by w)")
      .inputs({"dy", "w"})
      .outputs({"dx"})
      .requiredAttr("x_shape", AttrKind::Ints, "the conv input's shape")
      .inferShape(inferConvGradData)
      .flops([](const Node &n) {
        return convGradFlops(n, n.operand(0)->type(), n.operand(1)->type());
      })
      .lower(lowerConvGradData);
}

OpDef defineConvGradWeight() {
  return convGradOp("conv_grad_weight")
      .summary("Gradient of conv with respect to its weight (x correlated "
               "with dy)")
      .inputs({"x", "dy"})
      .outputs({"dw"})
      .requiredAttr("w_shape", AttrKind::Ints, "the conv weight's shape")
      .inferShape(inferConvGradWeight)
      .flops([](const Node &n) {
        return convGradFlops(n, n.operand(1)->type(), n.result(0)->type());
      })
      .lower(lowerConvGradWeight);
}

} // namespace cnnc::ops
