//===- ir/Schedule.h - kernel schedules and the machine they are made for --===//
//
// The schedule pass (passes/Schedule.cpp) decides, per kernel (a node, or a
// fused group's anchor), how its loops run on a CPU, from a model of the
// machine, and writes the decision into the IR as the node's `schedule`
// annotation (ir/OpDef.h), e.g.
//
//   %c1 = conv(...) {schedule = "vector=8 tile=4x3 parallel=rows"}
//
// Codegen and the op lowerings read it back with parseSchedule: the
// default schedule of a kernel's results (vector width, whether the
// outermost loop is parallel) and conv's register tile. Where a node has
// none (a graph compiled without the pass, a JIT-evaluated node), they
// make the same decision for the default machine. Plain C++: no Halide.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/Support.h"

#include <cstdint>
#include <string>

namespace cnnc {

/// The values of the conv-layout choice (MachineModel::convLayout, the
/// schedule pass's conv-layout option, cnnc --conv-layout), as error
/// messages list them, and whether \p s is one.
constexpr const char *kConvLayoutChoices = "auto, nchw, nchwc or winograd";
inline bool isConvLayoutChoice(const std::string &s) {
  return s == "auto" || s == "nchw" || s == "nchwc" || s == "winograd";
}

/// What the schedule pass knows of the target.
struct MachineModel {
  int vectorBits = 256;     ///< SIMD register width (AVX2: 256, NEON: 128)
  int vectorRegisters = 16; ///< SIMD registers (AVX2: 16, AVX-512/NEON: 32)
  int cores = 2;            ///< threads a kernel may use; 1: none parallel
  /// Seconds of work below which a kernel's loops stay serial: starting a
  /// loop on the runtime's spinning pool costs about a microsecond, but
  /// the threads' shares of the data then move between their cores
  /// (5 us instead of 20 made ResNet-20 and MobileNetV2 no faster on 2
  /// threads, within noise).
  double parallelMinSeconds = 20e-6;
  /// Sustained f32 FLOP/s of one AVX2 core, to turn FLOPs into seconds
  /// (chooseSchedule scales it by vectorBits / 256).
  double coreFlops = 50e9;
  /// Element-wise bytes per second of one core (stores and loads).
  double coreBytesPerSecond = 8e9;
  /// Data cache per core, in bytes (L1 and L2). These defaults (an AVX2
  /// EPYC's) hold for cross targets; for the host, cnnc passes this
  /// machine's own (codegen/Compiler.cpp, machineOptions).
  int64_t l1Bytes = 32 * 1024, l2Bytes = 512 * 1024;
  /// Conv layouts the pass may choose: "auto" (by the cost model of
  /// chooseConvLayout), or "nchw" / "nchwc" / "winograd" for every conv
  /// that can take it (the others: auto).
  std::string convLayout = "auto";
  /// Whether winograd may be chosen at all (conv_grad_data's phase convs
  /// read their weights flipped through the phase: not there).
  bool winograd = true;
};

/// The schedule of one kernel.
struct KernelSchedule {
  /// Vector width of the innermost loop, in elements (0: scalar).
  int vector = 0;
  /// How a conv computes its sums: "nchw" (vectorized across output
  /// columns), "nchwc" (vectorized across filters: the sums in blocks of
  /// filters, channel-blocked weights, x read as broadcast scalars) or
  /// "winograd" (F(2x2, 3x3), its products in the nchwc form; see
  /// chooseConvLayout and ir/ops/Conv.cpp). Empty for other ops.
  std::string layout;
  /// The register tile: conv in nchw, filters x output rows (each row one
  /// vector of output columns); conv in nchwc, vectors of filters x output
  /// columns; in winograd, vectors of filters x 2x2 tiles along a row;
  /// conv_grad_weight, filters x channels (each with all the taps of one
  /// kernel row); 0x0 for other ops.
  int tileFilters = 0, tileRows = 0;
  /// nchw conv: channels summed per pass over the output (cache blocking
  /// of the reduction, chooseConvChunk); conv_grad_weight: images summed
  /// per pass over dw. 0: all in one pass.
  int chunk = 0;
  /// nchw conv of one group: its sums computed band by band of this many
  /// output rows inside the loops that store the kernel's output (after
  /// the element-wise ops fused with it; LowerCtx::computeInRowBands), so
  /// they are read back from L2 instead of memory; the bands are then the
  /// parallel loop. 0: the sums at root (they fit in L2 anyway).
  int band = 0;
  /// The parallel loop: "batch" (conv: the images), "rows" (conv: tiles
  /// of output rows), "filters"
  /// (conv: tiles of filters), "outer" (the outermost dimension with more
  /// than one element) or "none".
  std::string parallel = "outer";

  std::string str() const;
  bool operator==(const KernelSchedule &o) const {
    return vector == o.vector && layout == o.layout &&
           tileFilters == o.tileFilters && chunk == o.chunk &&
           band == o.band &&
           tileRows == o.tileRows && parallel == o.parallel;
  }
};

/// Parses KernelSchedule::str()'s form: space-separated key=value with
/// keys vector, layout (nchw, nchwc, winograd), tile (FxR), chunk and parallel;
/// errors name the bad part.
Expected<KernelSchedule> parseSchedule(const std::string &text);

/// The schedule the pass chooses for kernel \p anchor (a conv: its register
/// tile by the FMA-throughput model of chooseConvTile, parallel over the
/// batch if it has several images, else over rows of tiles if there are
/// several, else over filters; anything else: the
/// natural vector width, parallel over the outermost dimension) on
/// \p machine, made serial when its estimated time (FLOPs, else bytes
/// moved) is below machine.parallelMinSeconds.
/// What the schedule pass knows of a kernel's place in the graph.
struct KernelContext {
  /// The kernel's result is read only by depthwise convs, as their x
  /// (depthwiseBlockable): the block-layout pass will store it in blocks
  /// of channels, so an nchwc conv writes its sums without reading them
  /// back to NCHW.
  bool feedsDepthwise = false;
  /// The block-layout pass runs after this schedule (inference): a conv's
  /// neighbours can keep its x and y in blocks of channels, so whole
  /// blocks of channels and filters, or a stem's filters in whole blocks,
  /// go nchwc (chooseConvLayout). Training graphs get no block layouts.
  bool blockedActivations = true;
};

KernelSchedule chooseSchedule(const Node &anchor, const MachineModel &machine,
                              const KernelContext &ctx = {});

/// The node's schedule annotation if it has one (an error if it does not
/// parse), else chooseSchedule for the default MachineModel.
Expected<KernelSchedule> scheduleOf(const Node &anchor);

/// The channels per block in which \p v is stored: the `blocked`
/// annotation of the node computing it (passes/BlockLayout.cpp), 0 where
/// it is stored as its type says.
int storedBlock(const Value &v);
/// The shape in which \p v is stored: its type, or [N, C/L, H, W, L] for
/// blocks of L channels (the same bytes).
TensorType storedType(const Value &v);

/// The register tile of a CPU conv with \p filters filters and output
/// \p height rows, for \p registers vector registers: (filters, rows).
/// mb * rb accumulators, the mb broadcast weights of one reduction step and
/// one input vector must fit in the registers. Scored by FMAs per cycle: a
/// step issues mb * rb FMAs (2 a cycle) and mb + rb loads (2 a cycle) and
/// can not beat the FMA latency (about 5 cycles) on one accumulator;
/// divided by the work wasted on recomputed filters and rows where the tile
/// does not divide them. In a 1x1 conv each reduction step reads its input
/// vectors from a new channel plane (no other tap reuses them), so they
/// cost more than the weight broadcasts: its tile takes at most
/// \p maxRows rows and more filters (5x2 instead of 2x5 ran about 2x
/// faster on ResNet-50's 14x14 1x1 convs here).
std::pair<int, int> chooseConvTile(int64_t filters, int64_t height,
                                   int maxRows, int registers);

/// A conv's layout and register tile for \p lanes lanes on \p m: the nchw
/// tile of chooseConvTile against the nchwc tile of mv vectors of filters x
/// pb output columns (mv * pb accumulators, mv weight vectors and one
/// broadcast in the registers; a step issues mv * pb FMAs and mv + pb
/// loads). Both are scored in useful FMA lanes per cycle: nchw wastes the
/// lanes its last vector of columns runs past the row, and a strided or
/// 1x1 conv costs it more (a deinterleaved copy of x; each step's vectors
/// from a new channel plane); nchwc wastes the filters its last block runs
/// past M. nchwc needs one group (x is broadcast to all the filters), at
/// least 256 terms in each output's sum (channels x taps) and more than 64
/// output positions per image (below either nchw measured faster), and a
/// block's weights (read again for every tile) in half of L2. Ahead of
/// both, winograd (F(2x2, 3x3), winogradApplies) where the channels and the
/// filters are at least 32 and there are at least 49 output positions
/// (measured; the table is in the code), its tile the nchwc tile over the
/// columns of 2x2 tiles. m.convLayout "nchw", "nchwc" or "winograd" forces
/// one where the conv can take it (nchwc: one group; winograd: see
/// winogradApplies), auto elsewhere.
/// Whether \p conv can take layout=winograd: F(2x2, 3x3) needs two
/// spatial axes, a 3x3 kernel, stride 1, dilation 1 and one group.
bool winogradApplies(const Node &conv);

/// Is \p conv a 2-D depthwise conv (group = channels = filters, one
/// channel per group), which the block-layout pass may keep in blocks of
/// channels (ir/ops/Conv.cpp computes it vectorized across them then)?
bool depthwiseBlockable(const Node &conv);

/// The channels per block in which an nchwc conv reads x, for \p channels
/// channels and \p lanes-wide vectors: \p lanes where the channels fill
/// enough of their blocks (kMinNchwcChannelFill), else 1: x is then read
/// channel by channel, as it is stored (a stem's 3 channels would fill 3
/// of 16 lanes). One rule for the schedule pass, pack-weights
/// (nchwc_weights' cblock) and the lowering.
int nchwcChannelBlock(int64_t channels, int lanes);

struct ConvLayoutChoice {
  std::string layout;
  int tileFilters = 1, tileRows = 1;
};
ConvLayoutChoice chooseConvLayout(const Node &conv, int lanes,
                                  const MachineModel &m,
                                  const KernelContext &ctx = {});

/// The channels an nchw conv of one group sums per pass over its output,
/// when a row of tiles reads \p bytesPerChannel of x per channel (the
/// tile's input rows, all their columns): 0 (all in one pass) while the
/// \p channels channels' rows fit in half of L2; else the largest divisor
/// of the channels whose rows fit in an eighth of L2, so that the rows of
/// one chunk stay in L2 while every filter tile passes over them (VGG-11's
/// 512-channel 28x28 conv reads 393 KB of x rows per row of tiles).
int chooseConvChunk(int64_t channels, int64_t bytesPerChannel,
                    const MachineModel &m);

/// The output rows per band (KernelSchedule::band) of an nchw conv of one
/// group with \p filters x \p height x \p width outputs in register tiles
/// of \p tileFilters x \p tileRows: 0 while its sums (filters rounded to
/// the tile, columns to \p lanes, \p elementBytes each) fit in half of L2;
/// else as many whole tiles of rows as fit there, at least one, at most a
/// quarter of the rows (0 if that is all of them). Measured here: see
/// ir/Schedule.cpp.
int chooseConvBand(int64_t filters, int64_t height, int64_t width,
                   int tileFilters, int tileRows, int lanes,
                   int64_t elementBytes, const MachineModel &m);

/// The register tile of conv_grad_weight's CPU lowering for dw of
/// \p filters x \p channels x ... x \p taps (the innermost kernel axis):
/// (filters, channels) per tile, mb * cb * taps vector accumulators plus
/// the mb dy vectors and cb * taps x vectors of a step in the registers
/// (one of them may be an FMA's memory operand); scored like
/// chooseConvTile (a step issues mb * cb * taps FMAs and mb + cb * taps
/// loads).
std::pair<int, int> chooseConvGradWeightTile(int64_t filters, int64_t channels,
                                             int64_t taps, int registers);

} // namespace cnnc
