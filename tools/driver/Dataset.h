//===- tools/driver/Dataset.h - image data sets for cnnc-train ------------===//
//
// The data pipeline of cnnc-train: readers for MNIST-style IDX files and
// CIFAR-10 binary batches, a seeded train/validation split, normalisation,
// augmentation, minibatches, and the learning-curve outputs (CSV, SVG) and
// progress bar of a training run.
//
// Every random choice comes from std::mt19937_64 or a SplitMix64 hash of the
// seed (both fully specified by their algorithms) and the shuffles are our
// own Fisher-Yates, so a seed gives the same result with any standard
// library.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Support.h"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace cnnc {

/// A labelled set of images held in memory.
struct Dataset {
  int64_t count = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  /// count * channels * height * width raw pixel values 0..255, NCHW.
  std::vector<float> images;
  /// count class indices, each in [0, numClasses).
  std::vector<int64_t> labels;
  int64_t numClasses = 0;

  /// channels * height * width: the floats of one image.
  int64_t imageSize() const { return channels * height * width; }

  /// A seeded random split into {training, validation}: \p validationCount
  /// examples, chosen uniformly at random, form the validation set and the
  /// rest the training set. Both keep the original relative order of their
  /// examples. Fails unless 0 <= validationCount <= count.
  Expected<std::pair<Dataset, Dataset>> split(int64_t validationCount,
                                              uint64_t seed) const;

  /// The first \p n examples (for --overfit N). Fails unless 1 <= n <= count.
  Expected<Dataset> subset(int64_t n) const;
};

/// Reads an IDX image file (magic 0x00000803, [n, rows, cols] of uint8) and
/// its IDX label file (magic 0x00000801, [n] of uint8), as in MNIST and
/// Fashion-MNIST. Either file may be gzip-compressed. With \p numClasses > 0
/// every label must be below it; otherwise numClasses is the largest label
/// plus one. Errors name the file and what is wrong.
Expected<Dataset> readIdx(const std::string &imagesPath,
                          const std::string &labelsPath,
                          int64_t numClasses = 0);

/// readIdx on train-{images-idx3,labels-idx1}-ubyte (with \p train) or
/// t10k-{images-idx3,labels-idx1}-ubyte in \p dir, each plain or with a .gz
/// suffix.
Expected<Dataset> readIdxDir(const std::string &dir, bool train,
                             int64_t numClasses = 0);

/// Reads CIFAR-10 binary batches: records of 1 label byte (0..9) followed by
/// 3072 pixel bytes, 3x32x32 in CHW order. The examples of all files are
/// concatenated in order; numClasses is 10.
Expected<Dataset> readCifar10(const std::vector<std::string> &batchFiles);

/// readCifar10 on data_batch_1.bin .. data_batch_5.bin (with \p train) or
/// test_batch.bin in \p dir, or in dir/cifar-10-batches-bin where the
/// CIFAR-10 archive unpacks them.
Expected<Dataset> readCifar10Dir(const std::string &dir, bool train);

/// Maps an image x to (x - mean) * invStd, per pixel or per channel.
struct Normalizer {
  enum Mode {
    None,       ///< leave images as they are
    PerPixel,   ///< one mean and std per (channel, row, column)
    PerChannel, ///< one mean and std per channel
  };
  Mode mode = None;
  /// One entry per channel (PerChannel) or per pixel (PerPixel); the entry
  /// k covers the planeSize consecutive floats of an image from k*planeSize.
  std::vector<float> mean;
  std::vector<float> invStd;
  /// height * width for PerChannel, 1 for PerPixel.
  int64_t planeSize = 1;
};

/// Fits a Normalizer of \p mode to \p data (the training set): the mean,
/// and with \p scaleStd the inverse of the population standard deviation,
/// floored at 1e-8; without it invStd is 1 (mean subtraction only).
Normalizer fitNormalizer(const Dataset &data, Normalizer::Mode mode,
                         bool scaleStd);

/// Normalises one image of channels*height*width floats in place.
void apply(const Normalizer &normalizer, float *image);

/// Random augmentation of training images.
struct Augment {
  /// Pads each side with this many zero pixels, then crops back to the
  /// original size at an offset drawn uniformly from [0, 2*padCrop]^2.
  int64_t padCrop = 0;
  /// Mirrors the image left-right with probability 1/2.
  bool flip = false;

  bool any() const { return padCrop > 0 || flip; }
};

/// The deterministic transform behind Augment: writes to \p dst the
/// height x width window at (\p offsetY, \p offsetX) of \p src padded with
/// \p pad zeros on every side, mirrored left-right when \p flip. Offsets lie
/// in [0, 2*pad]; offsets of pad with no flip copy the image. \p src and
/// \p dst hold channels*height*width floats and must not overlap.
void cropAndFlip(const float *src, int64_t channels, int64_t height,
                 int64_t width, int64_t pad, int64_t offsetY, int64_t offsetX,
                 bool flip, float *dst);

/// Serves a Dataset as minibatches of NCHW images and their labels.
///
/// Each epoch visits the examples in dataset order or, with shuffle, in a
/// permutation seeded by (seed, epoch): a run resumed at epoch e sees the
/// same order as a run that got there without stopping. Augmentation is
/// seeded by (seed, epoch, example index), so it does not depend on the
/// batch size either. Each image is augmented first, on raw pixels (crop
/// padding is raw 0, black), then normalised, as torchvision's RandomCrop
/// followed by Normalize does.
///
/// With dropLast (training) an epoch has only full batches and the last
/// count % batchSize examples of the order are skipped. Without it
/// (evaluation) the last batch is padded by repeating its last example, and
/// next() reports how many of its examples are real.
class BatchIterator {
public:
  /// \p data must outlive the iterator; \p batchSize must be positive.
  /// Starts epoch 0.
  BatchIterator(const Dataset &data, int64_t batchSize, bool shuffle,
                uint64_t seed, const Augment &augment,
                const Normalizer &normalizer, bool dropLast);

  /// Restarts at the beginning of epoch \p epoch (0-based).
  void startEpoch(int64_t epoch);

  /// Batches in one epoch: count / batchSize with dropLast, rounded up
  /// without it.
  int64_t batchesPerEpoch() const;

  /// Fills the next batch of the epoch: \p images with batchSize * C*H*W
  /// floats, \p labels with batchSize labels, and \p valid (if not null)
  /// with the number of real examples, the rest being padding. Returns false,
  /// writing nothing, once the epoch is over.
  bool next(float *images, int64_t *labels, int64_t *valid);

private:
  const Dataset &data_;
  int64_t batchSize_;
  bool shuffle_;
  uint64_t seed_;
  Augment augment_;
  Normalizer normalizer_;
  bool dropLast_;
  int64_t epoch_ = 0;
  /// The dataset indices of this epoch, in the order they are served.
  std::vector<int64_t> order_;
  /// The position in order_ of the next batch's first example.
  int64_t cursor_ = 0;
};

/// The measurements of one training epoch. Accuracies are fractions in
/// [0, 1]; validation fields are NaN when there is no validation set.
struct EpochRecord {
  int64_t epoch = 0;
  double trainLoss = 0;
  double trainAcc = 0;
  double valLoss = 0;
  double valAcc = 0;
  double lr = 0;
  double seconds = 0;
  double imagesPerSec = 0;
};

/// Writes \p records as CSV (a header line, then one row per epoch),
/// atomically. NaN fields are written as "nan".
Status writeCurvesCsv(const std::string &path,
                      const std::vector<EpochRecord> &records);

/// Writes a self-contained SVG picture of \p records, atomically: a loss
/// panel and an accuracy panel, each with the training and validation
/// curves against the epoch, axes, tick labels and a legend, under
/// \p title. NaN values are left out of the curves.
Status writeCurvesSvg(const std::string &path,
                      const std::vector<EpochRecord> &records,
                      const std::string &title);

/// A one-line progress bar redrawn in place with '\r':
///   [#########.....................] 120/937 loss 0.532 1234 img/s
/// A disabled bar prints nothing (the caller enables it when the stream is a
/// terminal). Redraws are limited to about ten per second, except the first
/// update and the one that reaches the total.
class ProgressBar {
public:
  ProgressBar(std::ostream &os, int64_t total, bool enabled);

  /// Shows \p done of total steps, the running loss and the throughput.
  void update(int64_t done, double loss, double imagesPerSec);

  /// Draws the last update if it was skipped and ends the line.
  void finish();

private:
  void draw();

  std::ostream &os_;
  int64_t total_;
  bool enabled_;
  int64_t done_ = 0;
  double loss_ = 0;
  double imagesPerSec_ = 0;
  bool drawn_ = false;   ///< whether the last update is on screen
  bool started_ = false; ///< whether anything has been drawn
  double lastDraw_ = 0;  ///< steady-clock seconds of the last draw
  size_t lastWidth_ = 0; ///< length of the last line, to blank leftovers
};

} // namespace cnnc
