//===- ir/Schedule.cpp - kernel schedules and the machine model -----------===//
#include "ir/Schedule.h"

#include "ir/OpDef.h"

#include <algorithm>
#include <sstream>

namespace cnnc {

std::string KernelSchedule::str() const {
  std::string s = "vector=" + std::to_string(vector);
  if (!layout.empty())
    s += " layout=" + layout;
  if (tileFilters)
    s += " tile=" + std::to_string(tileFilters) + "x" + std::to_string(tileRows);
  if (chunk)
    s += " chunk=" + std::to_string(chunk);
  if (band)
    s += " band=" + std::to_string(band);
  return s + " parallel=" + parallel;
}

Expected<KernelSchedule> parseSchedule(const std::string &text) {
  KernelSchedule s;
  std::istringstream in(text);
  std::string item;
  auto bad = [&](const std::string &why) {
    return Status::error("schedule '" + text + "': " + why);
  };
  auto number = [](const std::string &v, int &out) {
    if (v.empty() || v.size() > 4 ||
        !std::all_of(v.begin(), v.end(), ::isdigit))
      return false;
    out = std::stoi(v);
    return true;
  };
  while (in >> item) {
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      return bad("'" + item + "' is not key=value");
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "vector") {
      if (!number(value, s.vector))
        return bad("vector must be a number of lanes, got '" + value + "'");
    } else if (key == "layout") {
      if (value != "nchw" && value != "nchwc" && value != "winograd")
        return bad("layout must be nchw, nchwc or winograd, got '" + value +
                   "'");
      s.layout = value;
    } else if (key == "tile") {
      size_t x = value.find('x');
      if (x == std::string::npos || !number(value.substr(0, x), s.tileFilters) ||
          !number(value.substr(x + 1), s.tileRows) || !s.tileFilters ||
          !s.tileRows)
        return bad("tile must be FILTERSxROWS, got '" + value + "'");
    } else if (key == "chunk") {
      if (!number(value, s.chunk) || !s.chunk)
        return bad("chunk must be a positive number of channels, got '" +
                   value + "'");
    } else if (key == "band") {
      if (!number(value, s.band) || !s.band)
        return bad("band must be a positive number of rows, got '" + value +
                   "'");
    } else if (key == "parallel") {
      if (value != "batch" && value != "rows" && value != "filters" &&
          value != "outer" && value != "none")
        return bad("parallel must be batch, rows, filters, outer or none, "
                   "got '" + value + "'");
      s.parallel = value;
    } else {
      return bad("unknown key '" + key +
                 "' (vector, layout, tile, chunk, band, parallel)");
    }
  }
  return s;
}

std::pair<int, int> chooseConvTile(int64_t filters, int64_t height,
                                   int maxRows, int registers) {
  std::pair<int, int> best{1, 1};
  double bestScore = 0;
  for (int mb : {1, 2, 3, 4, 6, 8}) {
    if (mb > filters)
      continue;
    for (int rb = 1; rb <= maxRows && rb <= height; ++rb) {
      if (mb * rb + mb + 1 > registers)
        continue;
      double cycles = std::max({mb * rb / 2.0, (mb + rb) / 2.0, 5.0});
      double waste = double((filters + mb - 1) / mb * mb) / double(filters) *
                     double((height + rb - 1) / rb * rb) / double(height);
      double score = mb * rb / cycles / waste;
      if (score > bestScore + 1e-9) {
        bestScore = score;
        best = {mb, rb};
      }
    }
  }
  return best;
}

bool winogradApplies(const Node &conv) {
  const TensorType &w = conv.operand(1)->type();
  if (w.rank() != 4 || w.dim(2) != 3 || w.dim(3) != 3 ||
      conv.attrInt("group") != 1)
    return false;
  for (const char *a : {"strides", "dilations"})
    for (int64_t v : conv.attrInts(a))
      if (v != 1)
        return false;
  return true;
}

bool depthwiseBlockable(const Node &conv) {
  if (conv.op() != "conv" || conv.numOperands() < 2)
    return false;
  const TensorType &x = conv.operand(0)->type(), &w = conv.operand(1)->type();
  if (!x.isStatic() || !w.isStatic() || x.rank() != 4 || w.rank() != 4)
    return false;
  int64_t group = conv.attrInt("group");
  return group > 1 && group == x.dim(1) && w.dim(0) == group && w.dim(1) == 1;
}

/// nchw is kept (see chooseConvLayout) below kMinNchwcReduction terms of
/// one output's sum (channels x taps; kMinNchwcReduction1x1 channels of a
/// 1x1 conv) unless channels and filters are whole blocks; channels that
/// fill less than kMinNchwcChannelFill of their blocks of a vector are
/// read one at a time (nchwcChannelBlock).
static constexpr int64_t kMinNchwcReduction = 256, kMinNchwcReduction1x1 = 64;
static constexpr double kMinNchwcChannelFill = 2.0 / 3.0;
/// Winograd is chosen from these up (see chooseConvLayout): channels and
/// filters each, output positions per image.
static constexpr int64_t kMinWinogradChannels = 32,
                         kMinWinogradPositions = 49;

/// The tile of mv vectors of filters x pb columns (nchwc, and winograd's
/// products over its columns of tiles) for \p width columns: the best
/// score in useful FMA lanes per cycle, 0 if none fits. \p blockBytes(mv):
/// the bytes of one block's weights, kept at most \p maxBlockBytes (0: no
/// limit).
static double filterVectorTile(int64_t filters, int64_t width, int lanes,
                               int registers, int64_t bytesPerVector,
                               int64_t maxBlockBytes, int &mvOut, int &pbOut) {
  double best = 0;
  for (int mv = 1; mv <= 4; ++mv)
    for (int pb = 1; pb <= 8 && pb <= width; ++pb) {
      if (mv * pb + mv + 1 > registers ||
          (maxBlockBytes && mv * bytesPerVector > maxBlockBytes))
        continue;
      double cycles = std::max({mv * pb / 2.0, (mv + pb) / 2.0, 5.0});
      int64_t block = int64_t(mv) * lanes;
      double waste = double((filters + block - 1) / block * block) /
                     double(filters) *
                     double((width + pb - 1) / pb * pb) / double(width);
      double score = mv * pb * lanes / cycles / waste;
      if (score > best + 1e-9) {
        best = score;
        mvOut = mv;
        pbOut = pb;
      }
    }
  return best;
}

int nchwcChannelBlock(int64_t channels, int lanes) {
  int64_t blocks = (channels + lanes - 1) / lanes;
  return double(channels) < kMinNchwcChannelFill * double(blocks * lanes)
             ? 1
             : lanes;
}

ConvLayoutChoice chooseConvLayout(const Node &conv, int lanes,
                                  const MachineModel &m,
                                  const KernelContext &ctx) {
  const TensorType &y = conv.result(0)->type(), &w = conv.operand(1)->type();
  int64_t spatial = y.rank() - 2, taps = 1;
  for (int64_t i = 0; i < spatial; ++i)
    taps *= w.dim(2 + i);
  bool rows = spatial >= 2;
  int64_t height = rows ? y.dim(y.rank() - 2) : 1, filters = y.dim(1),
          width = y.dim(y.rank() - 1), channels = w.dim(1);
  int64_t elementBytes = int64_t(y.numBytes() / std::max<int64_t>(1, y.numElements()));
  const int registers = m.vectorRegisters;
  auto [mb, rb] = chooseConvTile(filters, height, taps == 1 ? 2 : 8, registers);
  ConvLayoutChoice nchw{"nchw", mb, rb};
  if (m.convLayout == "nchw" || conv.attrInt("group") != 1 || lanes < 2)
    return nchw;
  // Winograd F(2x2, 3x3): 16 products per 2x2 tile and channel instead of
  // 36, for transforms of x and of the products (the weights' transform
  // is a cached step of its own, see passes/PackWeights.cpp); they cost
  // per channel and per filter, the products per channel x filter, so
  // the gain grows with both. Measured here against the best direct form,
  // 1 thread: 64 channels at 56x56 1.6x faster, 128 at 28x28 1.6x, 512 at
  // 28x28 2.0x and at 14x14 1.9x (VGG-11), 512 at 7x7 1.1x, ResNet-20's 32
  // channels at 16x16 1.2x; but its 16 channels at 32x32 1.1x slower.
  // Against the nchwc form of cnnc's pack-weights pass (whole models, runs
  // alternating in one process): ResNet-20 8% faster with its 32 and 64
  // channels in this form.
  if (m.winograd && winogradApplies(conv) &&
      (m.convLayout == "winograd" ||
       (m.convLayout == "auto" && channels >= kMinWinogradChannels &&
        filters >= kMinWinogradChannels &&
        height * width >= kMinWinogradPositions))) {
    ConvLayoutChoice wg{"winograd", 1, 1};
    filterVectorTile(filters, (width + 1) / 2, lanes, registers, 0, 0,
                     wg.tileFilters, wg.tileRows);
    return wg;
  }
  // nchwc reads x in blocks of a vector of channels and its weights in
  // blocks made once (passes/PackWeights.cpp), so a tile's loads come from
  // a few cache lines instead of one per channel. Measured here against
  // nchw (medians of alternating runs, 1 thread): ResNet-50's 1x1 convs at
  // 7x7 2.2x faster, its stride-2 1x1 conv to 7x7 2.0x, 128 -> 512 at 28x28
  // 1.3x. nchw stays where
  //  - a sum has fewer than kMinNchwcReduction terms, a 1x1 conv's fewer
  //    than kMinNchwcReduction1x1 (the tile's stores, y's read back across
  //    the blocks and the copy of x cost more than a short sum's FMAs):
  //    ResNet-20 ran 5% slower with its 16-channel 3x3 convs in nchwc
  //    (thresholds of 64 or 128, before the block-layout pass);
  //    MobileNetV2's 1x1 expansions from 16,
  //    24 and 32 channels 1.3-2.1x slower, but its 1x1 convs from 64
  //    channels up 1.1-1.8x faster (the whole model 4-8% faster with the
  //    1x1 threshold at 64 than at 256, GoogLeNet 2-4%, ResNet-50 3%);
  //  - the channels fill less than kMinNchwcChannelFill of their blocks
  //    and the filters are not whole blocks (see below).
  // The reduction limit is for NCHW neighbours: where the channels and
  // the filters are whole blocks, the block-layout pass can keep x and y in
  // blocks (between convs, pools, concats, element-wise ops), and then
  // nchwc has no copy to pay for. AVX-512, 1 thread, with blocked pools,
  // concats and Winograd convs (`ab_infer`): ResNet-20 (16-channel 3x3s)
  // 0.84 of the time with them in nchw, SqueezeNet (fire modules from 16-64
  // channels) 0.84, GoogLeNet 0.96, MobileNetV2 0.99.
  // A conv whose result only depthwise convs read (ctx.feedsDepthwise)
  // stores its blocks as they are (passes/BlockLayout.cpp) and has no
  // read-back, and the depthwise convs then read blocks: no reduction
  // limit. MobileNetV2 (AVX-512, 1 thread), with its expansions from 16,
  // 24 and 32 channels in nchwc: those 0.64 -> 0.79, 0.31 -> 0.38 ms, but
  // the depthwise convs after them 0.73 -> 0.25, 0.37 -> 0.17, 0.27 ->
  // 0.08 ms (they copied NCHW into blocks).
  // Channels that fill too little of their blocks (a stem's 3) are read
  // one at a time (nchwcChannelBlock: x as stored, a scalar per tap and
  // channel); such a conv goes nchwc when its filters are whole blocks,
  // which the next layers can then read (passes/BlockLayout.cpp).
  // AVX-512, 1 thread, against nchw (`ab_infer`, a busy machine):
  // SqueezeNet's 3x3 stride-2 stem with its max pool 0.78 -> 0.61 ms; the
  // whole ResNet-18 0.84-0.92 of the time, MobileNetV2 0.84-0.92, VGG-11
  // 0.96, GoogLeNet 0.95-0.99, ResNet-50 0.97-0.98. The stems of 3
  // channels in blocks of 8 had run 1.9-2.8x slower than nchw.
  // Without block layouts after it (training), a stem stays nchw and a
  // short sum needs more than whole blocks.
  bool forced = m.convLayout == "nchwc";
  bool thin = nchwcChannelBlock(channels, lanes) == 1;
  bool shortSum = channels * taps < (taps == 1 ? kMinNchwcReduction1x1
                                               : kMinNchwcReduction);
  bool wholeBlocks = ctx.blockedActivations && channels % lanes == 0 &&
                     filters % lanes == 0;
  if (!forced && (thin ? !ctx.blockedActivations || filters % lanes != 0
                       : shortSum && !ctx.feedsDepthwise && !wholeBlocks))
    return nchw;
  // nchwc: mv vectors of filters x pb columns.
  ConvLayoutChoice nchwc{"nchwc", 1, 1};
  double best = filterVectorTile(
      filters, width, lanes, registers, int64_t(lanes) * channels * taps * elementBytes,
      forced ? 0 : m.l2Bytes / 2, nchwc.tileFilters, nchwc.tileRows);
  return forced || best > 0 ? nchwc : nchw;
}

int chooseConvChunk(int64_t channels, int64_t bytesPerChannel,
                    const MachineModel &m) {
  if (channels * bytesPerChannel * 2 <= m.l2Bytes)
    return 0;
  int64_t chunk = 0;
  for (int64_t d = 1; d < channels; ++d)
    if (channels % d == 0 && d * bytesPerChannel * 8 <= m.l2Bytes)
      chunk = d;
  return int(chunk);
}

// Measured (MobileNetV2, 1 thread): its 16 -> 96 1x1 conv at 112x112,
// whose sums are 4.8 MB, 1.40 -> 0.94 ms in bands of 6 rows; the stem
// 0.75 -> 0.64 ms. Bands of an eighth of L2 instead of half measured the
// same. The depthwise convs reading those outputs ran about 0.15 ms
// slower each, in the stores of their own root sums (most likely a cold
// scratch block: they used to reuse the one this conv's root acc freed);
// with their sums per block of filters (ir/ops/Conv.cpp) they are faster
// than before, and the whole model 0.90 of the build before bands.
int chooseConvBand(int64_t filters, int64_t height, int64_t width,
                   int tileFilters, int tileRows, int lanes,
                   int64_t elementBytes, const MachineModel &m) {
  int64_t paddedFilters = (filters + tileFilters - 1) / tileFilters * tileFilters,
          paddedWidth = (width + lanes - 1) / lanes * lanes;
  int64_t rowBytes = paddedFilters * paddedWidth * elementBytes;
  if (rowBytes * height * 2 <= m.l2Bytes || tileRows < 1)
    return 0;
  // As many whole tiles of rows as half of L2 holds, at least one, and
  // at most a quarter of the rows (bands to share among the threads).
  int64_t tiles = std::max<int64_t>(1, m.l2Bytes / 2 / (rowBytes * tileRows));
  tiles = std::min(tiles, std::max<int64_t>(1, height / 4 / tileRows));
  int64_t band = tiles * tileRows;
  return band < height ? int(band) : 0;
}

std::pair<int, int> chooseConvGradWeightTile(int64_t filters, int64_t channels,
                                             int64_t taps, int registers) {
  std::pair<int, int> best{1, 1};
  double bestScore = 0;
  for (int mb = 1; mb <= 8 && mb <= filters; ++mb)
    for (int cb = 1; cb <= 8 && cb <= channels; ++cb) {
      // The accumulators and every load of a step live at once (LLVM
      // keeps them so), but one, folded into an FMA's memory operand.
      // With the budget of one x vector instead (accs + mb + 1),
      // ResNet-20's 2x2 tiles of 3 taps (20 values) spilled to the stack,
      // 38% of the kernel's samples on FMAs of spilled vectors; 3x1 (15)
      // made its training step 315-360 -> 270-282 ms (4 alternating
      // rounds, 1 thread). Without the folded one, the 5-tap convs of
      // LeNet-5 and ConvNetJS went from 2x1 (17) to 1x1 tiles and their
      // steps 9-15% slower.
      int64_t accs = mb * cb * taps;
      if (accs + mb + cb * taps > registers + 1)
        continue;
      double cycles = std::max({accs / 2.0, (mb + cb * taps) / 2.0, 5.0});
      double waste = double((filters + mb - 1) / mb * mb) / double(filters) *
                     double((channels + cb - 1) / cb * cb) / double(channels);
      double score = double(accs) / cycles / waste;
      if (score > bestScore + 1e-9) {
        bestScore = score;
        best = {mb, cb};
      }
    }
  return best;
}

/// The most bytes of x and dy a conv_grad_weight sums per pass over its
/// weights (chooseSchedule), whatever the L2: on a 2 MiB L2 (Sapphire
/// Rapids, AVX-512), chunks of half of it (32 of ResNet-20's 64 images at
/// 32x32) made its training step 10-18% slower than chunks of 256 KiB.
static constexpr int64_t kMaxGradWeightChunkBytes = 256 * 1024;

/// Bits of one element of \p t as lowered (bool is a byte).
static int elementBits(const TensorType &t) {
  switch (t.dtype()) {
  case DType::F64:
  case DType::I64:
    return 64;
  case DType::Bool:
    return 8;
  default:
    return 32;
  }
}

KernelSchedule chooseSchedule(const Node &anchor, const MachineModel &m,
                              const KernelContext &ctx) {
  KernelSchedule s;
  const TensorType &y = anchor.result(0)->type();
  s.vector = std::max(1, m.vectorBits / elementBits(y));
  double flops = anchor.def().flopsFn() ? double(anchor.def().flopsFn()(anchor))
                                        : 0.0;
  double bytes = double(y.isStatic() ? y.numBytes() : 0);
  for (const Value *v : anchor.operands())
    bytes += double(v->type().isStatic() ? v->type().numBytes() : 0);
  if (anchor.op() == "conv" && y.isStatic() && y.rank() >= 3) {
    bool rows = y.rank() >= 4;
    int64_t height = rows ? y.dim(y.rank() - 2) : 1, filters = y.dim(1);
    ConvLayoutChoice l = chooseConvLayout(anchor, s.vector, m, ctx);
    s.layout = l.layout;
    s.tileFilters = l.tileFilters;
    s.tileRows = l.tileRows;
    if (l.layout == "nchw" && anchor.attrInt("group") == 1) {
      // x read by one row of tiles: its input rows, all their columns.
      const TensorType &x = anchor.operand(0)->type(),
                       &w = anchor.operand(1)->type();
      auto attrAt = [&](const char *a, size_t i, int64_t dflt) {
        const std::vector<int64_t> &v = anchor.attrInts(a);
        return v.empty() ? dflt : v[i];
      };
      size_t last = size_t(y.rank() - 3);
      int64_t rowsIn = 1, colsIn = x.dim(x.rank() - 1) +
                                   attrAt("pads", last, 0) +
                                   attrAt("pads", 2 * last + 1, 0);
      if (rows)
        rowsIn = (l.tileRows - 1) * attrAt("strides", last - 1, 1) +
                 (w.dim(w.rank() - 2) - 1) * attrAt("dilations", last - 1, 1) + 1;
      s.chunk = chooseConvChunk(w.dim(1), rowsIn * colsIn * elementBits(y) / 8,
                                m);
      if (!s.chunk && rows)
        s.band = chooseConvBand(filters, height, y.dim(y.rank() - 1), l.tileFilters,
                                l.tileRows, s.vector, elementBits(y) / 8, m);
    }
    // Filters in one parallel task: nchw's tile, nchwc's vectors.
    int64_t perTask = l.layout == "nchwc" ? int64_t(l.tileFilters) * s.vector
                                          : l.tileFilters;
    if (l.layout == "winograd")
      s.parallel = "outer"; // each stage's outer loop (see ir/ops/Conv.cpp)
    else if (y.dim(0) > 1)
      s.parallel = "batch"; // one task per image: no sync inside an image
    else if (l.layout == "nchw" && rows && (height + l.tileRows - 1) / l.tileRows > 1)
      s.parallel = "rows";
    else if (l.layout == "nchwc" && filters > perTask)
      s.parallel = "filters";
    else if (rows && height > 1)
      s.parallel = "rows";
    else if (filters > perTask)
      s.parallel = "filters";
    else
      s.parallel = "none";
  }
  if (anchor.op() == "conv_grad_weight" && y.isStatic() && y.rank() == 4) {
    // dw[M, C, Ky, Kx]: tiles of mb filters x cb channels x the Kx taps.
    auto [mb, cb] = chooseConvGradWeightTile(y.dim(0), y.dim(1), y.dim(3),
                                             m.vectorRegisters);
    s.tileFilters = mb;
    s.tileRows = cb;
    s.parallel = y.dim(0) > mb ? "filters" : "none";
    // The batch in chunks whose x and dy fit in half of L2, at most
    // kMaxGradWeightChunkBytes (each tile passes over a chunk while it is
    // there): the largest divisor of the batch that fits, none if the
    // whole batch does.
    const TensorType &x = anchor.operand(0)->type(), &dy = anchor.operand(1)->type();
    if (x.isStatic() && dy.isStatic() && x.rank() == 4) {
      int64_t images = x.dim(0);
      int64_t perImage = (x.numBytes() + dy.numBytes()) / std::max<int64_t>(1, images);
      int64_t budget = std::min(m.l2Bytes / 2, kMaxGradWeightChunkBytes);
      if (images * perImage > budget)
        for (int64_t d = 1; d < images; ++d)
          if (images % d == 0 && d * perImage <= budget)
            s.chunk = int(d);
    }
  }
  // coreFlops is an AVX2 core's: wider vectors do that many more FMAs per
  // cycle. A Winograd conv runs each of its four stages as a parallel
  // loop: each must be worth one.
  double coreFlops = m.coreFlops * std::max(1.0, m.vectorBits / 256.0);
  double seconds = std::max(flops / coreFlops, bytes / m.coreBytesPerSecond);
  double minSeconds = m.parallelMinSeconds * (s.layout == "winograd" ? 4 : 1);
  if (m.cores <= 1 || seconds < minSeconds)
    s.parallel = "none";
  return s;
}

Expected<KernelSchedule> scheduleOf(const Node &anchor) {
  if (anchor.hasAttr(kScheduleAttr))
    return parseSchedule(anchor.attr(kScheduleAttr).getString());
  return chooseSchedule(anchor, MachineModel());
}

int storedBlock(const Value &v) {
  const Node *n = v.definingNode();
  return n && n->hasAttr(kBlockedAttr) ? int(n->attrInt(kBlockedAttr)) : 0;
}

TensorType storedType(const Value &v) {
  const TensorType &t = v.type();
  int block = storedBlock(v);
  if (!block)
    return t;
  return TensorType(t.dtype(), {t.dim(0), t.dim(1) / block, t.dim(2),
                                t.dim(3), int64_t(block)});
}

} // namespace cnnc
