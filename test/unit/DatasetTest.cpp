//===- test/unit/DatasetTest.cpp - data pipeline of cnnc-train ------------===//
#include "tools/driver/Dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <zlib.h>

using namespace cnnc;

namespace {

/// A fresh directory under the gtest temporary directory.
std::string makeTempDir() {
  std::string pattern = testing::TempDir() + "cnnc-dataset-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  const char *dir = mkdtemp(buffer.data());
  EXPECT_NE(dir, nullptr);
  return dir ? dir : "";
}

using Bytes = std::vector<unsigned char>;

void writeBytes(const std::string &path, const Bytes &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void writeGzip(const std::string &path, const Bytes &bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(gzwrite(file, bytes.data(), unsigned(bytes.size())),
            int(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

Bytes readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void appendBigEndian32(Bytes &bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<unsigned char>(value >> shift));
}

/// An IDX image file of \p n images of rows x cols holding \p pixels.
Bytes idxImages(uint32_t n, uint32_t rows, uint32_t cols, const Bytes &pixels) {
  Bytes bytes;
  appendBigEndian32(bytes, 0x803);
  appendBigEndian32(bytes, n);
  appendBigEndian32(bytes, rows);
  appendBigEndian32(bytes, cols);
  bytes.insert(bytes.end(), pixels.begin(), pixels.end());
  return bytes;
}

Bytes idxLabels(const Bytes &labels) {
  Bytes bytes;
  appendBigEndian32(bytes, 0x801);
  appendBigEndian32(bytes, uint32_t(labels.size()));
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  return bytes;
}

/// Pixels i*37+11 mod 256, distinct enough to catch misplaced bytes.
Bytes testPixels(size_t n) {
  Bytes pixels(n);
  for (size_t i = 0; i < n; ++i)
    pixels[i] = static_cast<unsigned char>(i * 37 + 11);
  return pixels;
}

/// Expects \p result to have failed with a message containing each of
/// \p parts.
template <typename T>
void expectError(const Expected<T> &result,
                 const std::vector<std::string> &parts) {
  ASSERT_FALSE(result.ok());
  for (const std::string &part : parts)
    EXPECT_NE(result.status().message().find(part), std::string::npos)
        << "'" << part << "' not in: " << result.status().message();
}

/// \p count single-channel 1x1 images whose pixel is the example index, and
/// labels index % 3: the pixel identifies an example after shuffling.
Dataset indexedDataset(int64_t count) {
  Dataset data;
  data.count = count;
  data.channels = data.height = data.width = 1;
  data.numClasses = 3;
  for (int64_t i = 0; i < count; ++i) {
    data.images.push_back(float(i));
    data.labels.push_back(i % 3);
  }
  return data;
}

/// The example indices (pixel values) of one epoch's batches of
/// \p iterator, and the valid count of each batch.
std::vector<int64_t> epochIndices(BatchIterator &iterator, int64_t batchSize,
                                  std::vector<int64_t> *valids = nullptr) {
  std::vector<int64_t> indices;
  std::vector<float> images(batchSize);
  std::vector<int64_t> labels(batchSize);
  int64_t valid = 0;
  while (iterator.next(images.data(), labels.data(), &valid)) {
    for (int64_t i = 0; i < batchSize; ++i) {
      EXPECT_EQ(labels[i], int64_t(images[i]) % 3);
      if (i < valid)
        indices.push_back(int64_t(images[i]));
    }
    if (valids)
      valids->push_back(valid);
  }
  return indices;
}

std::string readText(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t countOf(const std::string &text, const std::string &needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

} // namespace

//===----------------------------------------------------------------------===//
// IDX
//===----------------------------------------------------------------------===//

/// Plain IDX files read back to the bytes written, in NCHW with one channel.
TEST(Dataset, ReadsPlainIdx) {
  std::string dir = makeTempDir();
  Bytes pixels = testPixels(3 * 2 * 4);
  writeBytes(dir + "/images", idxImages(3, 2, 4, pixels));
  writeBytes(dir + "/labels", idxLabels({0, 4, 1}));
  Expected<Dataset> data = readIdx(dir + "/images", dir + "/labels");
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->count, 3);
  EXPECT_EQ(data->channels, 1);
  EXPECT_EQ(data->height, 2);
  EXPECT_EQ(data->width, 4);
  EXPECT_EQ(data->numClasses, 5);
  EXPECT_EQ(data->labels, (std::vector<int64_t>{0, 4, 1}));
  ASSERT_EQ(data->images.size(), pixels.size());
  for (size_t i = 0; i < pixels.size(); ++i)
    EXPECT_EQ(data->images[i], float(pixels[i])) << i;
}

/// Gzip-compressed files read the same, with or without a .gz suffix.
TEST(Dataset, ReadsGzipIdx) {
  std::string dir = makeTempDir();
  Bytes pixels = testPixels(2 * 3 * 3);
  writeGzip(dir + "/images.gz", idxImages(2, 3, 3, pixels));
  writeGzip(dir + "/labels-no-suffix", idxLabels({9, 2}));
  Expected<Dataset> data =
      readIdx(dir + "/images.gz", dir + "/labels-no-suffix", 10);
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->count, 2);
  EXPECT_EQ(data->numClasses, 10);
  EXPECT_EQ(data->labels, (std::vector<int64_t>{9, 2}));
  for (size_t i = 0; i < pixels.size(); ++i)
    EXPECT_EQ(data->images[i], float(pixels[i])) << i;
}

TEST(Dataset, IdxMissingFile) {
  std::string dir = makeTempDir();
  writeBytes(dir + "/labels", idxLabels({0}));
  expectError(readIdx(dir + "/nope", dir + "/labels"),
              {dir + "/nope", "cannot open", "No such file"});
}

/// Swapped files: the magic number says which is which.
TEST(Dataset, IdxBadMagic) {
  std::string dir = makeTempDir();
  writeBytes(dir + "/images", idxImages(1, 1, 1, {7}));
  writeBytes(dir + "/labels", idxLabels({0}));
  expectError(readIdx(dir + "/labels", dir + "/images"),
              {dir + "/labels", "not an IDX image file", "0x00000801",
               "expected 0x00000803"});
  writeBytes(dir + "/images2", idxImages(1, 1, 1, {7}));
  expectError(readIdx(dir + "/images", dir + "/images2"),
              {dir + "/images2", "not an IDX label file", "0x00000803",
               "expected 0x00000801"});
}

TEST(Dataset, IdxTruncated) {
  std::string dir = makeTempDir();
  writeBytes(dir + "/labels", idxLabels({0, 1, 2}));
  // Data shorter than the header promises.
  writeBytes(dir + "/short", idxImages(3, 2, 2, testPixels(11)));
  expectError(readIdx(dir + "/short", dir + "/labels"),
              {dir + "/short", "truncated", "12 bytes", "only 11"});
  // Not even a whole header.
  writeBytes(dir + "/stub", {0, 0, 8, 3, 0});
  expectError(readIdx(dir + "/stub", dir + "/labels"),
              {dir + "/stub", "truncated", "16-byte"});
  // Extra bytes after the data.
  writeBytes(dir + "/long", idxImages(3, 2, 2, testPixels(13)));
  expectError(readIdx(dir + "/long", dir + "/labels"),
              {dir + "/long", "1 byte after the 12 bytes of image data"});
  // Sizes whose product overflows 64 bits.
  writeBytes(dir + "/huge", idxImages(0xffffffff, 0xffffffff, 0xffffffff, {}));
  expectError(readIdx(dir + "/huge", dir + "/labels"),
              {dir + "/huge", "sizes overflow"});
  // A .gz file cut in the middle of its compressed stream.
  writeGzip(dir + "/full.gz", idxImages(3, 2, 2, testPixels(12)));
  Bytes gz = readBytes(dir + "/full.gz");
  gz.resize(gz.size() / 2);
  writeBytes(dir + "/cut.gz", gz);
  expectError(readIdx(dir + "/cut.gz", dir + "/labels"),
              {dir + "/cut.gz", "truncated"});
}

TEST(Dataset, IdxCountMismatch) {
  std::string dir = makeTempDir();
  writeBytes(dir + "/images", idxImages(3, 1, 2, testPixels(6)));
  writeBytes(dir + "/labels", idxLabels({0, 1}));
  expectError(readIdx(dir + "/images", dir + "/labels"),
              {dir + "/images", "3 images", dir + "/labels", "2 labels"});
}

TEST(Dataset, IdxLabelOutOfRange) {
  std::string dir = makeTempDir();
  writeBytes(dir + "/images", idxImages(3, 1, 1, testPixels(3)));
  writeBytes(dir + "/labels", idxLabels({0, 1, 10}));
  expectError(
      readIdx(dir + "/images", dir + "/labels", 10),
      {dir + "/labels", "label 10 of example 2", "out of range", "10 classes"});
}

/// readIdxDir picks the train or t10k pair, plain or .gz.
TEST(Dataset, ReadIdxDir) {
  std::string dir = makeTempDir();
  writeGzip(dir + "/train-images-idx3-ubyte.gz",
            idxImages(2, 1, 2, testPixels(4)));
  writeBytes(dir + "/train-labels-idx1-ubyte", idxLabels({3, 1}));
  Expected<Dataset> train = readIdxDir(dir, /*train=*/true);
  ASSERT_TRUE(train.ok()) << train.status().message();
  EXPECT_EQ(train->count, 2);
  EXPECT_EQ(train->numClasses, 4);
  expectError(readIdxDir(dir, /*train=*/false),
              {"t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz", dir});
  expectError(readIdxDir(dir + "/missing", true),
              {dir + "/missing", "not a directory"});
}

//===----------------------------------------------------------------------===//
// CIFAR-10
//===----------------------------------------------------------------------===//

namespace {

/// A CIFAR-10 record: \p label, then pixels that start at \p seed.
Bytes cifarRecord(unsigned char label, size_t seed) {
  Bytes record{label};
  Bytes pixels = testPixels(3072 + seed);
  record.insert(record.end(), pixels.begin() + long(seed), pixels.end());
  return record;
}

} // namespace

/// Records of several files concatenate; pixels stay in CHW order.
TEST(Dataset, ReadsCifar10) {
  std::string dir = makeTempDir();
  Bytes first = cifarRecord(3, 0), second = cifarRecord(9, 5);
  Bytes both = first;
  both.insert(both.end(), second.begin(), second.end());
  writeBytes(dir + "/a.bin", both);
  Bytes third = cifarRecord(0, 17);
  writeBytes(dir + "/b.bin", third);
  Expected<Dataset> data = readCifar10({dir + "/a.bin", dir + "/b.bin"});
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->count, 3);
  EXPECT_EQ(data->channels, 3);
  EXPECT_EQ(data->height, 32);
  EXPECT_EQ(data->width, 32);
  EXPECT_EQ(data->numClasses, 10);
  EXPECT_EQ(data->labels, (std::vector<int64_t>{3, 9, 0}));
  const Bytes *records[] = {&first, &second, &third};
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 3072; ++i)
      ASSERT_EQ(data->images[r * 3072 + i], float((*records[r])[i + 1]))
          << "record " << r << " byte " << i;
}

TEST(Dataset, Cifar10Errors) {
  std::string dir = makeTempDir();
  Bytes record = cifarRecord(1, 0);
  Bytes ragged = record;
  ragged.pop_back();
  writeBytes(dir + "/ragged.bin", ragged);
  expectError(readCifar10({dir + "/ragged.bin"}),
              {dir + "/ragged.bin", "3072 bytes", "3073-byte record"});
  Bytes badLabel = record;
  badLabel.insert(badLabel.end(), record.begin(), record.end());
  badLabel[3073] = 10;
  writeBytes(dir + "/label.bin", badLabel);
  expectError(readCifar10({dir + "/label.bin"}),
              {dir + "/label.bin", "record 1 has label 10", "0..9"});
  expectError(readCifar10({}), {"no CIFAR-10 batch files"});
}

/// readCifar10Dir also looks in cifar-10-batches-bin, where the archive
/// unpacks.
TEST(Dataset, ReadCifar10Dir) {
  std::string dir = makeTempDir();
  std::string sub = dir + "/cifar-10-batches-bin";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  writeBytes(sub + "/test_batch.bin", cifarRecord(7, 2));
  Expected<Dataset> test = readCifar10Dir(dir, /*train=*/false);
  ASSERT_TRUE(test.ok()) << test.status().message();
  EXPECT_EQ(test->count, 1);
  EXPECT_EQ(test->labels[0], 7);
  expectError(readCifar10Dir(dir, /*train=*/true),
              {dir + "/data_batch_1.bin", "cannot open"});
}

//===----------------------------------------------------------------------===//
// Split and subset
//===----------------------------------------------------------------------===//

TEST(Dataset, SplitSizesAndDeterminism) {
  Dataset data = indexedDataset(100);
  auto split = data.split(20, /*seed=*/7);
  ASSERT_TRUE(split.ok()) << split.status().message();
  const Dataset &train = split->first, &validation = split->second;
  EXPECT_EQ(train.count, 80);
  EXPECT_EQ(validation.count, 20);
  EXPECT_EQ(train.images.size(), 80u);
  EXPECT_EQ(validation.labels.size(), 20u);
  EXPECT_EQ(validation.numClasses, 3);
  // Disjoint, together all examples, labels travel with their images.
  std::set<int64_t> seen;
  for (const Dataset *part : {&train, &validation})
    for (int64_t i = 0; i < part->count; ++i) {
      int64_t index = int64_t(part->images[i]);
      EXPECT_EQ(part->labels[i], index % 3);
      EXPECT_TRUE(seen.insert(index).second) << index;
    }
  EXPECT_EQ(seen.size(), 100u);
  // The validation set is a random choice, not the tail.
  EXPECT_NE(validation.images.front(), 80.0f);

  auto again = data.split(20, 7);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->second.images, validation.images);
  EXPECT_EQ(again->first.images, train.images);
  auto other = data.split(20, 8);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->second.images, validation.images);

  auto none = data.split(0, 7);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->first.count, 100);
  EXPECT_EQ(none->second.count, 0);
  expectError(data.split(101, 7), {"101", "100"});
}

TEST(Dataset, Subset) {
  Dataset data = indexedDataset(10);
  Expected<Dataset> first = data.subset(4);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->count, 4);
  EXPECT_EQ(first->images, (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(first->labels, (std::vector<int64_t>{0, 1, 2, 0}));
  expectError(data.subset(0), {"1..10"});
  expectError(data.subset(11), {"11", "1..10"});
}

//===----------------------------------------------------------------------===//
// BatchIterator
//===----------------------------------------------------------------------===//

/// Shuffled without dropping: every example once per epoch, the last batch
/// padded with its last example.
TEST(Dataset, BatchIteratorShuffleCoversEpoch) {
  Dataset data = indexedDataset(10);
  BatchIterator it(data, 4, /*shuffle=*/true, /*seed=*/1, Augment{},
                   Normalizer{}, /*dropLast=*/false);
  EXPECT_EQ(it.batchesPerEpoch(), 3);
  std::vector<int64_t> valids;
  std::vector<int64_t> order = epochIndices(it, 4, &valids);
  EXPECT_EQ(valids, (std::vector<int64_t>{4, 4, 2}));
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  std::vector<int64_t> identity = sorted;
  EXPECT_NE(order, identity);

  // Another epoch, another order; epoch 0 again gives the same one.
  it.startEpoch(1);
  std::vector<int64_t> epoch1 = epochIndices(it, 4);
  EXPECT_NE(epoch1, order);
  it.startEpoch(0);
  EXPECT_EQ(epochIndices(it, 4), order);

  // A fresh iterator with the same seed, resumed at epoch 1, matches.
  BatchIterator resumed(data, 4, true, 1, Augment{}, Normalizer{}, false);
  resumed.startEpoch(1);
  EXPECT_EQ(epochIndices(resumed, 4), epoch1);
  // Another seed, another order.
  BatchIterator other(data, 4, true, 2, Augment{}, Normalizer{}, false);
  EXPECT_NE(epochIndices(other, 4), order);
}

/// The padding of the last batch repeats the last real example.
TEST(Dataset, BatchIteratorPadsLastEvalBatch) {
  Dataset data = indexedDataset(10);
  BatchIterator it(data, 4, /*shuffle=*/false, 0, Augment{}, Normalizer{},
                   /*dropLast=*/false);
  std::vector<float> images(4);
  std::vector<int64_t> labels(4);
  int64_t valid = 0;
  for (int b = 0; b < 2; ++b)
    ASSERT_TRUE(it.next(images.data(), labels.data(), &valid));
  ASSERT_TRUE(it.next(images.data(), labels.data(), &valid));
  EXPECT_EQ(valid, 2);
  EXPECT_EQ(images, (std::vector<float>{8, 9, 9, 9}));
  EXPECT_EQ(labels, (std::vector<int64_t>{2, 0, 0, 0}));
  EXPECT_FALSE(it.next(images.data(), labels.data(), &valid));
}

/// With dropLast only full batches are served.
TEST(Dataset, BatchIteratorDropsPartialBatch) {
  Dataset data = indexedDataset(10);
  BatchIterator it(data, 4, /*shuffle=*/true, 3, Augment{}, Normalizer{},
                   /*dropLast=*/true);
  EXPECT_EQ(it.batchesPerEpoch(), 2);
  std::vector<int64_t> valids;
  std::vector<int64_t> order = epochIndices(it, 4, &valids);
  EXPECT_EQ(valids, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 8u);
  // Over epochs the dropped examples differ.
  std::set<int64_t> seen(order.begin(), order.end());
  for (int64_t epoch = 1; epoch < 10; ++epoch) {
    it.startEpoch(epoch);
    for (int64_t i : epochIndices(it, 4))
      seen.insert(i);
  }
  EXPECT_EQ(seen.size(), 10u);
}

/// Batches are normalised with the given Normalizer.
TEST(Dataset, BatchIteratorNormalizes) {
  Dataset data = indexedDataset(6);
  Normalizer norm = fitNormalizer(data, Normalizer::PerChannel, true);
  BatchIterator it(data, 6, false, 0, Augment{}, norm, false);
  std::vector<float> images(6);
  std::vector<int64_t> labels(6);
  ASSERT_TRUE(it.next(images.data(), labels.data(), nullptr));
  for (int i = 0; i < 6; ++i) {
    float expected = float(i);
    apply(norm, &expected);
    EXPECT_FLOAT_EQ(images[i], expected);
  }
}

//===----------------------------------------------------------------------===//
// Augmentation
//===----------------------------------------------------------------------===//

TEST(Dataset, CropAndFlipExact) {
  // Two channels of 2x3.
  const float src[] = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60};
  float dst[12];
  cropAndFlip(src, 2, 2, 3, /*pad=*/0, 0, 0, /*flip=*/true, dst);
  EXPECT_EQ(std::vector<float>(dst, dst + 12),
            (std::vector<float>{3, 2, 1, 6, 5, 4, 30, 20, 10, 60, 50, 40}));
  cropAndFlip(src, 2, 2, 3, /*pad=*/1, 1, 1, /*flip=*/false, dst);
  EXPECT_EQ(std::vector<float>(dst, dst + 12),
            std::vector<float>(src, src + 12));
  // Offset (0, 0): the window's top-left is the padding corner.
  cropAndFlip(src, 2, 2, 3, /*pad=*/1, 0, 0, /*flip=*/false, dst);
  EXPECT_EQ(std::vector<float>(dst, dst + 12),
            (std::vector<float>{0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 10, 20}));
  // Offset (2, 1) flipped: rows shift up, then the row is mirrored.
  cropAndFlip(src, 2, 2, 3, /*pad=*/1, 2, 1, /*flip=*/true, dst);
  EXPECT_EQ(std::vector<float>(dst, dst + 12),
            (std::vector<float>{6, 5, 4, 0, 0, 0, 60, 50, 40, 0, 0, 0}));
}

namespace {

/// A row-asymmetric 1x2x3 image, repeated \p count times.
Dataset asymmetricDataset(int64_t count) {
  Dataset data;
  data.count = count;
  data.channels = 1;
  data.height = 2;
  data.width = 3;
  data.numClasses = 1;
  for (int64_t i = 0; i < count; ++i) {
    data.images.insert(data.images.end(), {1, 2, 3, 4, 5, 6});
    data.labels.push_back(0);
  }
  return data;
}

} // namespace

/// Flip augmentation gives the image or its exact mirror, about half each,
/// the same draws for the same (seed, epoch).
TEST(Dataset, FlipAugmentation) {
  Dataset data = asymmetricDataset(200);
  Augment flip;
  flip.flip = true;
  auto run = [&](int64_t epoch) {
    BatchIterator it(data, 200, false, 5, flip, Normalizer{}, false);
    it.startEpoch(epoch);
    std::vector<float> images(200 * 6);
    std::vector<int64_t> labels(200);
    EXPECT_TRUE(it.next(images.data(), labels.data(), nullptr));
    return images;
  };
  std::vector<float> images = run(0);
  const std::vector<float> plain{1, 2, 3, 4, 5, 6}, mirror{3, 2, 1, 6, 5, 4};
  int flipped = 0;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> image(images.begin() + i * 6,
                             images.begin() + (i + 1) * 6);
    ASSERT_TRUE(image == plain || image == mirror) << i;
    flipped += image == mirror;
  }
  EXPECT_GT(flipped, 60);
  EXPECT_LT(flipped, 140);
  EXPECT_EQ(run(0), images);
  EXPECT_NE(run(1), images);
}

/// Pad-and-crop gives one of the (2*pad+1)^2 windows, and several of them.
TEST(Dataset, PadCropAugmentation) {
  Dataset data = asymmetricDataset(100);
  Augment crop;
  crop.padCrop = 1;
  BatchIterator it(data, 100, true, 9, crop, Normalizer{}, true);
  std::vector<float> images(100 * 6);
  std::vector<int64_t> labels(100);
  ASSERT_TRUE(it.next(images.data(), labels.data(), nullptr));
  std::set<std::pair<int, int>> offsets;
  for (int i = 0; i < 100; ++i) {
    std::vector<float> image(images.begin() + i * 6,
                             images.begin() + (i + 1) * 6);
    bool found = false;
    for (int y = 0; y <= 2 && !found; ++y)
      for (int x = 0; x <= 2 && !found; ++x) {
        float window[6];
        cropAndFlip(data.images.data(), 1, 2, 3, 1, y, x, false, window);
        if (image == std::vector<float>(window, window + 6)) {
          offsets.insert({y, x});
          found = true;
        }
      }
    EXPECT_TRUE(found) << i;
  }
  EXPECT_GE(offsets.size(), 6u);
}

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

namespace {

/// Per-channel statistics after normalising \p data with \p norm.
void expectStandardized(const Dataset &data, const Normalizer &norm,
                        double wantStd) {
  int64_t plane = data.height * data.width;
  for (int64_t c = 0; c < data.channels; ++c) {
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < data.count; ++i) {
      std::vector<float> image(data.images.begin() + i * data.imageSize(),
                               data.images.begin() +
                                   (i + 1) * data.imageSize());
      apply(norm, image.data());
      for (int64_t p = 0; p < plane; ++p) {
        sum += image[c * plane + p];
        squares += double(image[c * plane + p]) * image[c * plane + p];
      }
    }
    double n = double(data.count * plane);
    double mean = sum / n;
    EXPECT_NEAR(mean, 0.0, 1e-4) << "channel " << c;
    EXPECT_NEAR(std::sqrt(squares / n - mean * mean), wantStd,
                1e-3 * std::max(wantStd, 1.0))
        << "channel " << c;
  }
}

} // namespace

TEST(Dataset, NormalizerPerChannel) {
  // Three channels of different mean and spread.
  Dataset data;
  data.count = 50;
  data.channels = 3;
  data.height = 4;
  data.width = 4;
  for (int64_t i = 0; i < data.count; ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < 16; ++p)
        data.images.push_back(
            float(c * 80 + ((i * 31 + p * 7) % 17) * (c + 1)));
  data.labels.assign(50, 0);
  Normalizer norm = fitNormalizer(data, Normalizer::PerChannel, true);
  EXPECT_EQ(norm.mean.size(), 3u);
  EXPECT_EQ(norm.planeSize, 16);
  expectStandardized(data, norm, 1.0);

  Normalizer perPixel = fitNormalizer(data, Normalizer::PerPixel, true);
  EXPECT_EQ(perPixel.mean.size(), 48u);
  EXPECT_EQ(perPixel.planeSize, 1);
  expectStandardized(data, perPixel, 1.0);

  // Mean subtraction only keeps the spread of channel 0 (values 0..16).
  Normalizer centered = fitNormalizer(data, Normalizer::PerChannel, false);
  EXPECT_EQ(centered.invStd, (std::vector<float>{1, 1, 1}));
  float pixel[48] = {};
  apply(centered, pixel);
  EXPECT_FLOAT_EQ(pixel[0], -centered.mean[0]);

  Normalizer none = fitNormalizer(data, Normalizer::None, true);
  pixel[0] = 42;
  apply(none, pixel);
  EXPECT_EQ(pixel[0], 42);
}

/// A constant channel has std 0: the 1e-8 floor keeps values finite.
TEST(Dataset, NormalizerConstantChannel) {
  Dataset data = asymmetricDataset(4);
  std::fill(data.images.begin(), data.images.end(), 7.0f);
  Normalizer norm = fitNormalizer(data, Normalizer::PerChannel, true);
  EXPECT_FLOAT_EQ(norm.invStd[0], 1e8f);
  float image[6] = {7, 7, 7, 7, 7, 7};
  apply(norm, image);
  for (float v : image)
    EXPECT_EQ(v, 0.0f);
}

//===----------------------------------------------------------------------===//
// Curves and progress
//===----------------------------------------------------------------------===//

namespace {

std::vector<EpochRecord> sampleRecords(bool validation) {
  std::vector<EpochRecord> records;
  for (int64_t e = 0; e < 3; ++e) {
    EpochRecord r;
    r.epoch = e;
    r.trainLoss = 2.0 / (e + 1);
    r.trainAcc = 0.5 + 0.1 * e;
    r.valLoss = validation ? 2.2 / (e + 1) : NAN;
    r.valAcc = validation ? 0.45 + 0.1 * e : NAN;
    r.lr = 0.01;
    r.seconds = 1.5;
    r.imagesPerSec = 40000;
    records.push_back(r);
  }
  return records;
}

} // namespace

TEST(Dataset, CurvesCsv) {
  std::string path = makeTempDir() + "/curves.csv";
  ASSERT_TRUE(writeCurvesCsv(path, sampleRecords(false)).ok());
  std::string text = readText(path);
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line))
    rows.push_back(line);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,"
                     "images_per_sec");
  EXPECT_EQ(rows[2], "1,1,0.6,nan,nan,0.01,1.5,40000");
  Status failed = writeCurvesCsv("/nonexistent/dir/c.csv", {});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("/nonexistent/dir/c.csv"), std::string::npos);
}

TEST(Dataset, CurvesSvg) {
  std::string dir = makeTempDir();
  ASSERT_TRUE(
      writeCurvesSvg(dir + "/full.svg", sampleRecords(true), "a <b> & c").ok());
  std::string svg = readText(dir + "/full.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(countOf(svg, "<polyline"), 4u);
  EXPECT_EQ(countOf(svg, "<g>"), countOf(svg, "</g>"));
  EXPECT_NE(svg.find("a &lt;b&gt; &amp; c"), std::string::npos);
  EXPECT_NE(svg.find(">validation<"), std::string::npos);
  EXPECT_NE(svg.find(">accuracy<"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);

  // Without validation only the training curves are drawn.
  ASSERT_TRUE(
      writeCurvesSvg(dir + "/train.svg", sampleRecords(false), "t").ok());
  EXPECT_EQ(countOf(readText(dir + "/train.svg"), "<polyline"), 2u);
  // A single epoch and no epochs still make a picture.
  std::vector<EpochRecord> one = sampleRecords(true);
  one.resize(1);
  ASSERT_TRUE(writeCurvesSvg(dir + "/one.svg", one, "t").ok());
  EXPECT_EQ(readText(dir + "/one.svg").find("nan"), std::string::npos);
  ASSERT_TRUE(writeCurvesSvg(dir + "/none.svg", {}, "t").ok());
  EXPECT_EQ(countOf(readText(dir + "/none.svg"), "<polyline"), 0u);
}

TEST(Dataset, ProgressBar) {
  std::ostringstream os;
  ProgressBar bar(os, 937, /*enabled=*/true);
  bar.update(120, 0.5321, 1234.4);
  EXPECT_EQ(os.str(), "\r[###...........................] 120/937 loss 0.532 "
                      "1234 img/s");
  bar.update(937, 0.4, 1300);
  bar.finish();
  std::string text = os.str();
  EXPECT_NE(text.find("\r[##############################] 937/937 loss 0.400"),
            std::string::npos);
  EXPECT_EQ(text.back(), '\n');

  std::ostringstream quiet;
  ProgressBar off(quiet, 10, /*enabled=*/false);
  off.update(5, 1, 1);
  off.finish();
  EXPECT_EQ(quiet.str(), "");
}

//===----------------------------------------------------------------------===//
// The real data set
//===----------------------------------------------------------------------===//

TEST(Dataset, RealFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::ifstream(dir + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << dir << " not present";
  Expected<Dataset> data = readIdxDir(dir, /*train=*/true, 10);
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->count, 60000);
  EXPECT_EQ(data->channels, 1);
  EXPECT_EQ(data->height, 28);
  EXPECT_EQ(data->width, 28);
  EXPECT_EQ(data->numClasses, 10);
  std::vector<int64_t> histogram(10);
  for (int64_t label : data->labels)
    ++histogram[label];
  EXPECT_EQ(histogram, std::vector<int64_t>(10, 6000));
  float lo = *std::min_element(data->images.begin(), data->images.end());
  float hi = *std::max_element(data->images.begin(), data->images.end());
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 255.0f);
}
