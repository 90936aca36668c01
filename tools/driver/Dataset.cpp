//===- tools/driver/Dataset.cpp - image data sets for cnnc-train ----------===//
//
// IDX (MNIST): a big-endian header, magic 0x0000TTDD with type TT = 0x08
// (unsigned byte) and DD dimensions, DD sizes of 4 bytes, then the data in
// row-major order. CIFAR-10 binary: records of 1 label byte and 3072 pixel
// bytes (1024 red, 1024 green, 1024 blue, each 32x32 row-major).
//
//===----------------------------------------------------------------------===//
#include "tools/driver/Dataset.h"

#include "ir/FileIO.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <ostream>
#include <random>
#include <sstream>
#include <zlib.h>

namespace cnnc {

//===----------------------------------------------------------------------===//
// Reading files
//===----------------------------------------------------------------------===//

/// The bytes of \p path, decompressed when it is gzip-compressed (gzread
/// passes other files through unchanged).
static Expected<std::vector<unsigned char>>
readMaybeGzip(const std::string &path) {
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file)
    return Status::error("cannot open '" + path + "': " +
                         (errno ? std::strerror(errno) : "out of memory"));
  gzbuffer(file, 1 << 20);
  constexpr unsigned kChunk = 1 << 20;
  std::vector<unsigned char> bytes;
  for (;;) {
    size_t old = bytes.size();
    bytes.resize(old + kChunk);
    int n = gzread(file, bytes.data() + old, kChunk);
    bytes.resize(old + std::max(n, 0));
    if (n <= 0)
      break;
  }
  int code;
  const char *message = gzerror(file, &code);
  std::string why = code == Z_ERRNO ? std::strerror(errno) : message;
  gzclose(file);
  if (code == Z_BUF_ERROR)
    return Status::error("cannot read '" + path +
                         "': the compressed data ends early (truncated .gz)");
  if (code != Z_OK)
    return Status::error("cannot read '" + path + "': " + why);
  return bytes;
}

static uint32_t bigEndian32(const unsigned char *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 |
         uint32_t(p[3]);
}

static std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

/// The bytes before the data of an IDX file with \p dims dimensions: the
/// magic number and one size per dimension.
static size_t idxHeaderSize(unsigned dims) { return 4 + 4 * size_t(dims); }

/// Checks that \p bytes, the contents of \p path, are an IDX file of
/// unsigned bytes with \p dims dimensions and exactly the data its header
/// promises; returns the dimension sizes. \p what names the file's kind in
/// errors ("image", "label").
static Expected<std::vector<int64_t>>
parseIdxHeader(const std::vector<unsigned char> &bytes, const std::string &path,
               unsigned dims, const std::string &what) {
  uint32_t expectedMagic = 0x0800 | dims;
  size_t headerSize = idxHeaderSize(dims);
  auto truncatedHeader = [&] {
    return Status::error("'" + path +
                         "' is truncated: " + countNoun(bytes.size(), "byte") +
                         ", less than the " + std::to_string(headerSize) +
                         "-byte IDX " + what + " file header");
  };
  if (bytes.size() < 4)
    return truncatedHeader();
  uint32_t magic = bigEndian32(bytes.data());
  if (magic != expectedMagic)
    return Status::error("'" + path + "' is not an IDX " + what +
                         " file: magic number " + hex32(magic) + ", expected " +
                         hex32(expectedMagic) + " (unsigned bytes, " +
                         countNoun(dims, "dimension") + ")");
  if (bytes.size() < headerSize)
    return truncatedHeader();
  std::vector<int64_t> sizes;
  uint64_t dataSize = 1;
  for (unsigned d = 0; d < dims; ++d) {
    uint32_t size = bigEndian32(bytes.data() + 4 + 4 * d);
    if (size != 0 && dataSize > UINT64_MAX / size)
      return Status::error("'" + path +
                           "' is not a valid IDX file: its sizes overflow");
    sizes.push_back(size);
    dataSize *= size;
  }
  uint64_t present = bytes.size() - headerSize;
  if (present < dataSize)
    return Status::error("'" + path + "' is truncated: its header promises " +
                         countNoun(dataSize, "byte") + " of " + what +
                         " data, but only " + std::to_string(present) +
                         " follow");
  if (present > dataSize)
    return Status::error("'" + path + "' has " +
                         countNoun(present - dataSize, "byte") + " after the " +
                         countNoun(dataSize, "byte") + " of " + what +
                         " data its header promises");
  return sizes;
}

/// Sets data.numClasses to \p numClasses, or to the largest label plus one
/// when it is 0; fails on a label outside [0, numClasses).
static Status checkLabels(Dataset &data, int64_t numClasses,
                          const std::string &path) {
  if (numClasses <= 0) {
    int64_t maxLabel = -1;
    for (int64_t label : data.labels)
      maxLabel = std::max(maxLabel, label);
    data.numClasses = maxLabel + 1;
    return Status::success();
  }
  for (size_t i = 0; i < data.labels.size(); ++i)
    if (data.labels[i] >= numClasses)
      return Status::error("'" + path + "': label " +
                           std::to_string(data.labels[i]) + " of example " +
                           std::to_string(i) + " is out of range for " +
                           std::to_string(numClasses) + " classes (0.." +
                           std::to_string(numClasses - 1) + ")");
  data.numClasses = numClasses;
  return Status::success();
}

Expected<Dataset> readIdx(const std::string &imagesPath,
                          const std::string &labelsPath, int64_t numClasses) {
  CNNC_ASSIGN_OR_RETURN(std::vector<unsigned char> imageBytes,
                        readMaybeGzip(imagesPath));
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> imageDims,
                        parseIdxHeader(imageBytes, imagesPath, 3, "image"));
  CNNC_ASSIGN_OR_RETURN(std::vector<unsigned char> labelBytes,
                        readMaybeGzip(labelsPath));
  CNNC_ASSIGN_OR_RETURN(std::vector<int64_t> labelDims,
                        parseIdxHeader(labelBytes, labelsPath, 1, "label"));
  if (imageDims[0] != labelDims[0])
    return Status::error(
        "'" + imagesPath + "' has " + countNoun(imageDims[0], "image") +
        " but '" + labelsPath + "' has " + countNoun(labelDims[0], "label"));
  Dataset data;
  data.count = imageDims[0];
  data.channels = 1;
  data.height = imageDims[1];
  data.width = imageDims[2];
  data.images.assign(imageBytes.begin() + idxHeaderSize(3), imageBytes.end());
  data.labels.assign(labelBytes.begin() + idxHeaderSize(1), labelBytes.end());
  CNNC_RETURN_IF_ERROR(checkLabels(data, numClasses, labelsPath));
  return data;
}

/// Fails unless \p dir names a directory.
static Status checkDirectory(const std::string &dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return Status::error("'" + dir + "' is not a directory");
  return Status::success();
}

/// dir/name, or dir/name.gz when only that exists.
static Expected<std::string> findIdxFile(const std::string &dir,
                                         const std::string &name) {
  for (const std::string &candidate : {name, name + ".gz"}) {
    std::string path = (std::filesystem::path(dir) / candidate).string();
    std::error_code ec;
    if (std::filesystem::exists(path, ec))
      return path;
  }
  return Status::error("no " + name + " or " + name + ".gz in '" + dir + "'");
}

Expected<Dataset> readIdxDir(const std::string &dir, bool train,
                             int64_t numClasses) {
  CNNC_RETURN_IF_ERROR(checkDirectory(dir));
  std::string prefix = train ? "train" : "t10k";
  CNNC_ASSIGN_OR_RETURN(std::string images,
                        findIdxFile(dir, prefix + "-images-idx3-ubyte"));
  CNNC_ASSIGN_OR_RETURN(std::string labels,
                        findIdxFile(dir, prefix + "-labels-idx1-ubyte"));
  return readIdx(images, labels, numClasses);
}

static constexpr int64_t kCifarSide = 32;
static constexpr int64_t kCifarImage = 3 * kCifarSide * kCifarSide;
static constexpr int64_t kCifarRecord = 1 + kCifarImage;

Expected<Dataset> readCifar10(const std::vector<std::string> &batchFiles) {
  if (batchFiles.empty())
    return Status::error("no CIFAR-10 batch files given");
  Dataset data;
  data.channels = 3;
  data.height = kCifarSide;
  data.width = kCifarSide;
  data.numClasses = 10;
  for (const std::string &path : batchFiles) {
    CNNC_ASSIGN_OR_RETURN(std::vector<unsigned char> bytes,
                          readMaybeGzip(path));
    int64_t size = int64_t(bytes.size());
    if (size == 0 || size % kCifarRecord != 0)
      return Status::error(
          "'" + path + "' is not a CIFAR-10 binary batch: its size, " +
          countNoun(size, "byte") + ", is not a positive multiple of the " +
          std::to_string(kCifarRecord) +
          "-byte record (1 label byte, 3x32x32 pixel bytes)");
    int64_t records = size / kCifarRecord;
    for (int64_t r = 0; r < records; ++r) {
      const unsigned char *record = bytes.data() + r * kCifarRecord;
      if (record[0] > 9)
        return Status::error("'" + path + "': record " + std::to_string(r) +
                             " has label " + std::to_string(record[0]) +
                             ", but CIFAR-10 labels are 0..9");
      data.labels.push_back(record[0]);
      data.images.insert(data.images.end(), record + 1, record + kCifarRecord);
    }
    data.count += records;
  }
  return data;
}

Expected<Dataset> readCifar10Dir(const std::string &dir, bool train) {
  CNNC_RETURN_IF_ERROR(checkDirectory(dir));
  std::vector<std::string> names;
  if (train) {
    for (int i = 1; i <= 5; ++i)
      names.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    names.push_back("test_batch.bin");
  }
  std::filesystem::path base(dir);
  std::filesystem::path unpacked = base / "cifar-10-batches-bin";
  std::error_code ec;
  if (!std::filesystem::exists(base / names[0], ec) &&
      std::filesystem::exists(unpacked / names[0], ec))
    base = unpacked;
  std::vector<std::string> paths;
  for (const std::string &name : names)
    paths.push_back((base / name).string());
  return readCifar10(paths);
}

//===----------------------------------------------------------------------===//
// Seeded randomness
//===----------------------------------------------------------------------===//

/// The SplitMix64 output function: a bijective 64-bit mixer.
static uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Independent random streams drawn from one user seed.
enum class Stream : uint64_t { Split = 1, Shuffle = 2, Augment = 3 };

/// A seed for \p stream of \p seed, keyed by \p a and \p b (an epoch, an
/// example index).
static uint64_t streamSeed(uint64_t seed, Stream stream, uint64_t a = 0,
                           uint64_t b = 0) {
  return mix64(mix64(mix64(seed ^ mix64(uint64_t(stream))) ^ a) ^ b);
}

/// A uniform integer in [0, n), n > 0, by rejection (unbiased, and unlike
/// std::uniform_int_distribution the same with every standard library).
static uint64_t uniformBelow(std::mt19937_64 &rng, uint64_t n) {
  uint64_t threshold = (0 - n) % n; // 2^64 mod n
  for (;;) {
    uint64_t r = rng();
    if (r >= threshold)
      return r % n;
  }
}

/// 0, 1, ..., n-1 in a random order determined by \p seed (Fisher-Yates).
static std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[uniformBelow(rng, uint64_t(i) + 1)]);
  return order;
}

//===----------------------------------------------------------------------===//
// Dataset
//===----------------------------------------------------------------------===//

/// The examples of \p data at \p indices, in that order.
static Dataset gather(const Dataset &data,
                      const std::vector<int64_t> &indices) {
  Dataset out;
  out.count = int64_t(indices.size());
  out.channels = data.channels;
  out.height = data.height;
  out.width = data.width;
  out.numClasses = data.numClasses;
  int64_t size = data.imageSize();
  out.images.reserve(indices.size() * size);
  out.labels.reserve(indices.size());
  for (int64_t i : indices) {
    auto first = data.images.begin() + i * size;
    out.images.insert(out.images.end(), first, first + size);
    out.labels.push_back(data.labels[i]);
  }
  return out;
}

Expected<std::pair<Dataset, Dataset>> Dataset::split(int64_t validationCount,
                                                     uint64_t seed) const {
  if (validationCount < 0 || validationCount > count)
    return Status::error("cannot hold out " + std::to_string(validationCount) +
                         " validation examples from a set of " +
                         std::to_string(count));
  std::vector<int64_t> order =
      permutation(count, streamSeed(seed, Stream::Split));
  std::vector<int64_t> validation(order.begin(),
                                  order.begin() + validationCount);
  std::vector<int64_t> train(order.begin() + validationCount, order.end());
  std::sort(validation.begin(), validation.end());
  std::sort(train.begin(), train.end());
  return std::make_pair(gather(*this, train), gather(*this, validation));
}

Expected<Dataset> Dataset::subset(int64_t n) const {
  if (n < 1 || n > count)
    return Status::error("cannot take " + std::to_string(n) +
                         " examples from a set of " + std::to_string(count) +
                         " (expected 1.." + std::to_string(count) + ")");
  std::vector<int64_t> first(n);
  std::iota(first.begin(), first.end(), 0);
  return gather(*this, first);
}

//===----------------------------------------------------------------------===//
// Normalisation and augmentation
//===----------------------------------------------------------------------===//

Normalizer fitNormalizer(const Dataset &data, Normalizer::Mode mode,
                         bool scaleStd) {
  Normalizer norm;
  norm.mode = mode;
  if (mode == Normalizer::None)
    return norm;
  bool perChannel = mode == Normalizer::PerChannel;
  int64_t groups = perChannel ? data.channels : data.imageSize();
  norm.planeSize = perChannel ? data.height * data.width : 1;
  int64_t size = data.imageSize();
  double samples = double(data.count) * double(norm.planeSize);

  // Two passes (mean, then squared deviations) for a stable variance.
  std::vector<double> sum(groups, 0.0);
  for (int64_t i = 0; i < data.count; ++i) {
    const float *image = data.images.data() + i * size;
    for (int64_t k = 0; k < groups; ++k)
      for (int64_t p = 0; p < norm.planeSize; ++p)
        sum[k] += image[k * norm.planeSize + p];
  }
  std::vector<double> mean(groups, 0.0);
  for (int64_t k = 0; k < groups; ++k)
    mean[k] = samples > 0 ? sum[k] / samples : 0.0;
  norm.mean.assign(mean.begin(), mean.end());
  norm.invStd.assign(groups, 1.0f);
  if (!scaleStd)
    return norm;

  std::vector<double> squares(groups, 0.0);
  for (int64_t i = 0; i < data.count; ++i) {
    const float *image = data.images.data() + i * size;
    for (int64_t k = 0; k < groups; ++k)
      for (int64_t p = 0; p < norm.planeSize; ++p) {
        double d = image[k * norm.planeSize + p] - mean[k];
        squares[k] += d * d;
      }
  }
  for (int64_t k = 0; k < groups; ++k) {
    double deviation = samples > 0 ? std::sqrt(squares[k] / samples) : 0.0;
    norm.invStd[k] = float(1.0 / std::max(deviation, 1e-8));
  }
  return norm;
}

void apply(const Normalizer &normalizer, float *image) {
  int64_t plane = normalizer.planeSize;
  for (size_t k = 0; k < normalizer.mean.size(); ++k) {
    float mean = normalizer.mean[k], invStd = normalizer.invStd[k];
    float *x = image + int64_t(k) * plane;
    for (int64_t p = 0; p < plane; ++p)
      x[p] = (x[p] - mean) * invStd;
  }
}

void cropAndFlip(const float *src, int64_t channels, int64_t height,
                 int64_t width, int64_t pad, int64_t offsetY, int64_t offsetX,
                 bool flip, float *dst) {
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < height; ++y) {
      float *row = dst + (c * height + y) * width;
      int64_t srcY = y + offsetY - pad;
      if (srcY < 0 || srcY >= height) {
        std::fill(row, row + width, 0.0f);
        continue;
      }
      const float *srcRow = src + (c * height + srcY) * width;
      for (int64_t x = 0; x < width; ++x) {
        int64_t srcX = (flip ? width - 1 - x : x) + offsetX - pad;
        row[x] = srcX >= 0 && srcX < width ? srcRow[srcX] : 0.0f;
      }
    }
}

//===----------------------------------------------------------------------===//
// BatchIterator
//===----------------------------------------------------------------------===//

BatchIterator::BatchIterator(const Dataset &data, int64_t batchSize,
                             bool shuffle, uint64_t seed,
                             const Augment &augment,
                             const Normalizer &normalizer, bool dropLast)
    : data_(data), batchSize_(batchSize), shuffle_(shuffle), seed_(seed),
      augment_(augment), normalizer_(normalizer), dropLast_(dropLast) {
  assert(batchSize > 0 && "batch size must be positive");
  startEpoch(0);
}

void BatchIterator::startEpoch(int64_t epoch) {
  epoch_ = epoch;
  cursor_ = 0;
  if (shuffle_) {
    order_ = permutation(data_.count,
                         streamSeed(seed_, Stream::Shuffle, uint64_t(epoch)));
  } else {
    order_.resize(data_.count);
    std::iota(order_.begin(), order_.end(), 0);
  }
}

int64_t BatchIterator::batchesPerEpoch() const {
  return dropLast_ ? data_.count / batchSize_
                   : (data_.count + batchSize_ - 1) / batchSize_;
}

bool BatchIterator::next(float *images, int64_t *labels, int64_t *valid) {
  int64_t real = std::min(batchSize_, data_.count - cursor_);
  if (real <= 0 || (dropLast_ && real < batchSize_))
    return false;
  int64_t size = data_.imageSize();
  for (int64_t i = 0; i < real; ++i) {
    int64_t index = order_[cursor_ + i];
    const float *src = data_.images.data() + index * size;
    float *dst = images + i * size;
    if (augment_.any()) {
      uint64_t bits =
          streamSeed(seed_, Stream::Augment, uint64_t(epoch_), uint64_t(index));
      int64_t pad = augment_.padCrop, offsetY = pad, offsetX = pad;
      if (pad > 0) {
        offsetY = int64_t(bits % uint64_t(2 * pad + 1));
        bits = mix64(bits);
        offsetX = int64_t(bits % uint64_t(2 * pad + 1));
        bits = mix64(bits);
      }
      bool flip = augment_.flip && (bits >> 63) != 0;
      cropAndFlip(src, data_.channels, data_.height, data_.width, pad, offsetY,
                  offsetX, flip, dst);
    } else {
      std::copy(src, src + size, dst);
    }
    apply(normalizer_, dst);
    labels[i] = data_.labels[index];
  }
  // Padding repeats the last real example, already augmented and normalised.
  for (int64_t i = real; i < batchSize_; ++i) {
    std::copy(images + (real - 1) * size, images + real * size,
              images + i * size);
    labels[i] = labels[real - 1];
  }
  cursor_ += real;
  if (valid)
    *valid = real;
  return true;
}

//===----------------------------------------------------------------------===//
// Learning curves
//===----------------------------------------------------------------------===//

/// \p value with up to 8 significant digits; "nan" for NaN.
static std::string formatNumber(double value) {
  if (std::isnan(value))
    return "nan";
  char text[32];
  std::snprintf(text, sizeof(text), "%.8g", value);
  return text;
}

Status writeCurvesCsv(const std::string &path,
                      const std::vector<EpochRecord> &records) {
  std::string text = "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,"
                     "images_per_sec\n";
  for (const EpochRecord &r : records) {
    text += std::to_string(r.epoch);
    for (double v : {r.trainLoss, r.trainAcc, r.valLoss, r.valAcc, r.lr,
                     r.seconds, r.imagesPerSec})
      text += "," + formatNumber(v);
    text += "\n";
  }
  return writeFile(path, text);
}

static std::string xmlEscape(const std::string &text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

/// A plot axis from lo to hi with ticks at lo + i*step, i = 0..ticks.
struct Axis {
  double lo, hi, step;
  int64_t ticks;
};

/// [\p lo, \p hi] widened to whole multiples of a 1-2-5 step (a whole
/// number with \p integral) giving about \p targetTicks intervals. A range
/// too narrow to tick (one value) is first widened by 10% of the value.
static Axis niceAxis(double lo, double hi, int targetTicks, bool integral) {
  double scale = std::max(std::abs(lo), std::abs(hi));
  if (hi - lo <= std::max(1e-12, 1e-9 * scale)) {
    double d = scale > 0 ? scale * 0.1 : 1.0;
    lo -= d;
    hi += d;
  }
  double rough = (hi - lo) / targetTicks;
  double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  double step = magnitude * 10;
  for (double m : {1.0, 2.0, 5.0})
    if (rough <= m * magnitude) {
      step = m * magnitude;
      break;
    }
  if (integral)
    step = std::max(1.0, std::round(step));
  double first = std::floor(lo / step + 1e-9) * step;
  double last = std::ceil(hi / step - 1e-9) * step;
  return {first, last, step, int64_t(std::llround((last - first) / step))};
}

/// A tick label for \p value with as many decimals as \p step needs.
static std::string tickLabel(double value, double step) {
  int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", decimals,
                std::abs(value) < step * 1e-9 ? 0.0 : value);
  return text;
}

/// One curve of a panel.
struct Series {
  const char *name;
  const char *color;
  std::vector<std::pair<double, double>> points; ///< (epoch, value), finite
};

/// Appends to \p svg a panel at (\p left, \p top) of \p width x \p height
/// with \p series plotted against the epoch, axes, ticks and a legend.
static void drawPanel(std::ostringstream &svg, double left, double top,
                      double width, double height, const std::string &label,
                      const std::vector<Series> &series) {
  constexpr double kMarginLeft = 60, kMarginRight = 16, kMarginTop = 30,
                   kMarginBottom = 44;
  double plotLeft = left + kMarginLeft, plotTop = top + kMarginTop;
  double plotWidth = width - kMarginLeft - kMarginRight;
  double plotHeight = height - kMarginTop - kMarginBottom;

  double xLo = INFINITY, xHi = -INFINITY, yLo = INFINITY, yHi = -INFINITY;
  for (const Series &s : series)
    for (auto [x, y] : s.points) {
      xLo = std::min(xLo, x);
      xHi = std::max(xHi, x);
      yLo = std::min(yLo, y);
      yHi = std::max(yHi, y);
    }
  if (xLo > xHi) { // nothing to plot
    xLo = yLo = 0;
    xHi = yHi = 1;
  }
  Axis xAxis = niceAxis(xLo, xHi, 8, /*integral=*/true);
  Axis yAxis = niceAxis(yLo, yHi, 6, /*integral=*/false);
  auto px = [&](double x) {
    return plotLeft + (x - xAxis.lo) / (xAxis.hi - xAxis.lo) * plotWidth;
  };
  auto py = [&](double y) {
    return plotTop + plotHeight -
           (y - yAxis.lo) / (yAxis.hi - yAxis.lo) * plotHeight;
  };

  svg << "<g>\n<text x=\"" << plotLeft << "\" y=\"" << top + 18
      << "\" font-weight=\"bold\">" << label << "</text>\n";
  // Grid lines and tick labels.
  for (int64_t i = 0; i <= yAxis.ticks; ++i) {
    double y = yAxis.lo + double(i) * yAxis.step;
    svg << "<line x1=\"" << plotLeft << "\" x2=\"" << plotLeft + plotWidth
        << "\" y1=\"" << py(y) << "\" y2=\"" << py(y)
        << "\" stroke=\"#e0e0e0\"/>\n"
        << "<text x=\"" << plotLeft - 6 << "\" y=\"" << py(y) + 4
        << "\" text-anchor=\"end\">" << tickLabel(y, yAxis.step) << "</text>\n";
  }
  for (int64_t i = 0; i <= xAxis.ticks; ++i) {
    double x = xAxis.lo + double(i) * xAxis.step;
    svg << "<line x1=\"" << px(x) << "\" x2=\"" << px(x) << "\" y1=\""
        << plotTop + plotHeight << "\" y2=\"" << plotTop + plotHeight + 5
        << "\" stroke=\"black\"/>\n"
        << "<text x=\"" << px(x) << "\" y=\"" << plotTop + plotHeight + 18
        << "\" text-anchor=\"middle\">" << tickLabel(x, xAxis.step)
        << "</text>\n";
  }
  svg << "<rect x=\"" << plotLeft << "\" y=\"" << plotTop << "\" width=\""
      << plotWidth << "\" height=\"" << plotHeight
      << "\" fill=\"none\" stroke=\"black\"/>\n"
      << "<text x=\"" << plotLeft + plotWidth / 2 << "\" y=\""
      << plotTop + plotHeight + 36
      << "\" text-anchor=\"middle\">epoch</text>\n";

  for (const Series &s : series) {
    if (s.points.empty())
      continue;
    svg << "<polyline fill=\"none\" stroke=\"" << s.color
        << "\" stroke-width=\"2\" points=\"";
    for (auto [x, y] : s.points)
      svg << px(x) << "," << py(y) << " ";
    svg << "\"/>\n";
    // Markers, while the epochs are few enough to tell apart.
    if (s.points.size() > 60)
      continue;
    for (auto [x, y] : s.points)
      svg << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y)
          << "\" r=\"2.5\" fill=\"" << s.color << "\"/>\n";
  }

  // Legend: a line sample and a name per drawn series, above the plot.
  double legendX = plotLeft + plotWidth - 190;
  for (const Series &s : series) {
    if (s.points.empty())
      continue;
    svg << "<line x1=\"" << legendX << "\" x2=\"" << legendX + 20 << "\" y1=\""
        << top + 14 << "\" y2=\"" << top + 14 << "\" stroke=\"" << s.color
        << "\" stroke-width=\"2\"/>\n"
        << "<text x=\"" << legendX + 25 << "\" y=\"" << top + 18 << "\">"
        << s.name << "</text>\n";
    legendX += 95;
  }
  svg << "</g>\n";
}

Status writeCurvesSvg(const std::string &path,
                      const std::vector<EpochRecord> &records,
                      const std::string &title) {
  constexpr double kWidth = 1000, kHeight = 420, kTitleHeight = 40;
  const char *trainColor = "#1f77b4", *valColor = "#ff7f0e";
  Series trainLoss{"train", trainColor, {}},
      valLoss{"validation", valColor, {}};
  Series trainAcc{"train", trainColor, {}}, valAcc{"validation", valColor, {}};
  auto add = [](Series &s, int64_t epoch, double value) {
    if (std::isfinite(value))
      s.points.emplace_back(double(epoch), value);
  };
  for (const EpochRecord &r : records) {
    add(trainLoss, r.epoch, r.trainLoss);
    add(valLoss, r.epoch, r.valLoss);
    add(trainAcc, r.epoch, r.trainAcc);
    add(valAcc, r.epoch, r.valAcc);
  }

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth
      << "\" height=\"" << kHeight << "\" viewBox=\"0 0 " << kWidth << " "
      << kHeight << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << kWidth / 2
      << "\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">"
      << xmlEscape(title) << "</text>\n";
  double panelHeight = kHeight - kTitleHeight;
  drawPanel(svg, 0, kTitleHeight, kWidth / 2, panelHeight, "loss",
            {trainLoss, valLoss});
  drawPanel(svg, kWidth / 2, kTitleHeight, kWidth / 2, panelHeight, "accuracy",
            {trainAcc, valAcc});
  svg << "</svg>\n";
  return writeFile(path, svg.str());
}

//===----------------------------------------------------------------------===//
// ProgressBar
//===----------------------------------------------------------------------===//

static double steadySeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

ProgressBar::ProgressBar(std::ostream &os, int64_t total, bool enabled)
    : os_(os), total_(total), enabled_(enabled) {}

void ProgressBar::update(int64_t done, double loss, double imagesPerSec) {
  if (!enabled_)
    return;
  done_ = done;
  loss_ = loss;
  imagesPerSec_ = imagesPerSec;
  drawn_ = false;
  double now = steadySeconds();
  if (!started_ || done >= total_ || now - lastDraw_ >= 0.1) {
    draw();
    lastDraw_ = now;
  }
}

void ProgressBar::finish() {
  if (!enabled_ || !started_)
    return;
  if (!drawn_)
    draw();
  os_ << '\n' << std::flush;
  started_ = false;
}

void ProgressBar::draw() {
  constexpr int64_t kBarWidth = 30;
  int64_t filled =
      total_ > 0 ? std::clamp<int64_t>(done_ * kBarWidth / total_, 0, kBarWidth)
                 : kBarWidth;
  char tail[96];
  std::snprintf(tail, sizeof(tail), "] %lld/%lld loss %.3f %.0f img/s",
                static_cast<long long>(done_), static_cast<long long>(total_),
                loss_, imagesPerSec_);
  std::string line = "[" + std::string(filled, '#') +
                     std::string(kBarWidth - filled, '.') + tail;
  size_t width = line.size();
  if (width < lastWidth_)
    line.append(lastWidth_ - width, ' ');
  os_ << '\r' << line << std::flush;
  lastWidth_ = width;
  drawn_ = true;
  started_ = true;
}

} // namespace cnnc
