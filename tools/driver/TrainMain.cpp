//===- tools/driver/TrainMain.cpp - cnnc-train ----------------------------===//
//
// The training loop of the lecture, around a model compiled with
// `cnnc --train`: shuffled minibatches (tools/driver/Dataset.h), one
// train_step per batch, per-epoch train and validation loss and accuracy,
// a learning-rate schedule, checkpoints each epoch (the runtime writes them
// atomically) and resume, and the test accuracy at the end.
//
//===----------------------------------------------------------------------===//
#include "tools/driver/TrainMain.h"

#include "tools/driver/Dataset.h"
#include "tools/driver/ModelLoader.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <unistd.h>
#include <vector>

namespace cnnc {

namespace {

struct TrainArgs {
  std::string model, data, format = "idx", name;
  int64_t epochs = 10, validation = 5000, overfit = 0, threads = 0;
  uint64_t seed = 0;
  std::optional<double> lr, momentum, beta2, eps, weightDecay, decay, minLr;
  std::string schedule = "constant";
  std::optional<int64_t> decaySteps;
  std::string normalize = "channel";
  bool scaleStd = true;
  Augment augment;
  std::string checkpoint, curves;
  bool resume = false, quiet = false, reportParams = false;
  bool progress = true;
};

bool argError(const std::string &msg) {
  std::cerr << "cnnc-train: error: " << msg << "\n";
  return false;
}

void printHelp() {
  std::cout <<
      R"(OVERVIEW: cnnc-train, the training loop for models compiled with cnnc --train

USAGE: cnnc-train <model.so> --data=<dir> [options]

DATA:
  --data=<dir>         the data set directory
  --format=<f>         idx (default: MNIST / Fashion-MNIST train-*/t10k-* files,
                       plain or .gz) or cifar10 (data_batch_*.bin, test_batch.bin)
  --validation=<n>     hold out n training examples for validation (default
                       5000; 0: none)
  --overfit=<n>        train on the first n examples only, no validation (a
                       sanity check: expect ~100% training accuracy)
  --normalize=<m>      none, pixel or channel (default): subtract the training
                       set's mean per pixel or per channel
  --no-std             do not also divide by the standard deviation
  --crop=<p>           augmentation: random crops after zero padding of p pixels
  --flip               augmentation: random horizontal flips

OPTIMIZATION (defaults: the model's optimizer's):
  --epochs=<n>         epochs (default 10)
  --lr=<x>             learning rate
  --momentum=<x>       momentum / nesterov mu, adam beta1
  --beta2=<x>          adam beta2, rmsprop / adadelta rho
  --eps=<x>            epsilon of adam, adagrad, rmsprop, adadelta
  --weight-decay=<x>   L2 weight decay (on parameters of rank >= 2)
  --schedule=<s>       constant (default), step, exp, inv_t, sqrt, cosine
  --decay=<x>          step/exp: factor per --decay-steps; inv_t: k in lr/(1+kt)
  --decay-steps=<n>    step/exp (default: one epoch)
  --min-lr=<x>         cosine: the final rate
  --seed=<n>           shuffling, augmentation and dropout (default 0)
  --threads=<n>        threads for the model

OUTPUT:
  --checkpoint=<file>  save the parameters and optimizer state after each epoch
  --resume             continue from --checkpoint (its step count gives the epoch)
  --curves=<prefix>    write <prefix>.csv and <prefix>.svg (loss and accuracy)
  --report-params      after training, the largest change of every parameter
  --no-progress        no progress bar (it is drawn only on a terminal anyway)
  --quiet              only errors and the final accuracies
  --name=<prefix>      the model's --name, when the library holds several

Stops with a clear message when the loss becomes NaN or infinite.
)";
}

bool parseArgs(int argc, char **argv, TrainArgs &a) {
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    std::string key = s, val;
    size_t eq = s.find('=');
    bool hasVal = eq != std::string::npos && s.rfind("--", 0) == 0;
    if (hasVal) {
      key = s.substr(0, eq);
      val = s.substr(eq + 1);
    }
    auto need = [&]() {
      if (hasVal)
        return true;
      if (i + 1 >= argc)
        return argError(key + " needs a value");
      val = argv[++i];
      return true;
    };
    auto num = [&](std::optional<double> &out) {
      if (!need())
        return false;
      char *end = nullptr;
      double v = std::strtod(val.c_str(), &end);
      if (val.empty() || *end || !std::isfinite(v) || v < 0)
        return argError(key + " expects a non-negative number, got '" + val +
                        "'");
      out = v;
      return true;
    };
    auto integer = [&](int64_t &out, int64_t min) {
      if (!need())
        return false;
      char *end = nullptr;
      long long v = std::strtoll(val.c_str(), &end, 10);
      if (val.empty() || *end || v < min)
        return argError(key + " expects an integer >= " +
                        std::to_string(min) + ", got '" + val + "'");
      out = v;
      return true;
    };
    bool ok = true;
    int64_t tmp = 0;
    if (key == "--data")
      ok = need() && (a.data = val, true);
    else if (key == "--format") {
      ok = need();
      if (ok && val != "idx" && val != "cifar10")
        return argError("--format expects idx or cifar10, got '" + val + "'");
      a.format = val;
    } else if (key == "--epochs")
      ok = integer(a.epochs, 1);
    else if (key == "--validation")
      ok = integer(a.validation, 0);
    else if (key == "--overfit")
      ok = integer(a.overfit, 1);
    else if (key == "--threads")
      ok = integer(a.threads, 1);
    else if (key == "--seed")
      ok = integer(tmp, 0) && (a.seed = uint64_t(tmp), true);
    else if (key == "--lr")
      ok = num(a.lr);
    else if (key == "--momentum")
      ok = num(a.momentum);
    else if (key == "--beta2")
      ok = num(a.beta2);
    else if (key == "--eps")
      ok = num(a.eps);
    else if (key == "--weight-decay")
      ok = num(a.weightDecay);
    else if (key == "--decay")
      ok = num(a.decay);
    else if (key == "--min-lr")
      ok = num(a.minLr);
    else if (key == "--decay-steps")
      ok = integer(tmp, 1) && (a.decaySteps = tmp, true);
    else if (key == "--schedule")
      ok = need() && (a.schedule = val, true);
    else if (key == "--normalize") {
      ok = need();
      if (ok && val != "none" && val != "pixel" && val != "channel")
        return argError("--normalize expects none, pixel or channel, got '" +
                        val + "'");
      a.normalize = val;
    } else if (s == "--no-std")
      a.scaleStd = false;
    else if (key == "--crop")
      ok = integer(a.augment.padCrop, 1);
    else if (s == "--flip")
      a.augment.flip = true;
    else if (key == "--checkpoint")
      ok = need() && (a.checkpoint = val, true);
    else if (key == "--curves")
      ok = need() && (a.curves = val, true);
    else if (key == "--name")
      ok = need() && (a.name = val, true);
    else if (s == "--resume")
      a.resume = true;
    else if (s == "--quiet")
      a.quiet = true;
    else if (s == "--report-params")
      a.reportParams = true;
    else if (s == "--no-progress")
      a.progress = false;
    else if (s.rfind("-", 0) == 0 && s != "-")
      return argError("unknown option '" + s + "' (see --help)");
    else if (a.model.empty())
      a.model = s;
    else
      return argError("more than one model ('" + a.model + "' and '" + s +
                      "')");
    if (!ok)
      return false;
  }
  if (a.model.empty())
    return argError("no model library (see --help)");
  if (a.data.empty())
    return argError("no data set: give --data=<dir>");
  if (a.resume && a.checkpoint.empty())
    return argError("--resume needs --checkpoint=<file>");
  return true;
}

std::optional<cnnc_lr_schedule> parseSchedule(const std::string &s) {
  if (s == "constant") return CNNC_LR_CONSTANT;
  if (s == "step") return CNNC_LR_STEP;
  if (s == "exp") return CNNC_LR_EXPONENTIAL;
  if (s == "inv_t") return CNNC_LR_INV_T;
  if (s == "sqrt") return CNNC_LR_SQRT;
  if (s == "cosine") return CNNC_LR_COSINE;
  return std::nullopt;
}

/// Running sums of one pass over a data set.
struct Meter {
  double lossSum = 0;
  int64_t lossCount = 0, correct = 0, seen = 0;
  double loss() const { return lossCount ? lossSum / double(lossCount) : NAN; }
  double accuracy() const { return seen ? double(correct) / double(seen) : NAN; }
};

/// Counts the rows of \p scores [N, C] whose argmax is the label (the first
/// \p valid rows).
void countCorrect(const std::vector<float> &scores, int64_t classes,
                  const std::vector<int64_t> &labels, int64_t valid,
                  Meter &m) {
  for (int64_t i = 0; i < valid; ++i) {
    const float *row = scores.data() + i * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (row[c] > row[best])
        best = c;
    m.correct += best == labels[size_t(i)];
    ++m.seen;
  }
}

class Trainer {
public:
  Trainer(const cnnc_model_api &api, cnnc_ctx *ctx) : api_(api), ctx_(ctx) {}

  Status check() {
    if (!api_.optimizer || !*api_.optimizer)
      return Status::error("model '" + std::string(api_.name) +
                           "' was compiled without --train (compile it "
                           "with cnnc --train)");
    if (api_.num_inputs != 1 || api_.num_outputs != 1)
      return Status::error("cnnc-train needs a model with one input and one "
                           "output");
    const cnnc_tensor_desc &in = api_.inputs[0], &out = api_.outputs[0];
    if (in.dtype != CNNC_F32 || in.rank != 4 || out.rank != 2 ||
        out.dtype != CNNC_F32)
      return Status::error("cnnc-train needs an f32 image input [N, C, H, W] "
                           "and f32 scores [N, classes]; the model has " +
                           describeTensor(in) + " and " + describeTensor(out));
    batch_ = in.dims[0];
    classes_ = out.dims[1];
    return Status::success();
  }

  int64_t batch() const { return batch_; }
  int64_t classes() const { return classes_; }

  /// One pass; trains when \p train (else eval). False with a message in
  /// \p err on a failure or a non-finite loss.
  bool pass(BatchIterator &it, bool train, Meter &m, ProgressBar *bar,
            std::string &err, double *seconds) {
    const cnnc_tensor_desc &in = api_.inputs[0];
    std::vector<float> x(size_t(in.num_elements));
    std::vector<int64_t> labels(static_cast<size_t>(batch_));
    std::vector<float> scores(size_t(batch_ * classes_));
    cnnc_tensor tx{}, tl{}, ts{};
    tx.data = x.data();
    tx.dtype = CNNC_F32;
    tx.rank = 4;
    std::memcpy(tx.dims, in.dims, 4 * sizeof(int64_t));
    tl.data = labels.data();
    tl.dtype = CNNC_I64;
    tl.rank = 1;
    tl.dims[0] = batch_;
    ts.data = scores.data();
    ts.dtype = CNNC_F32;
    ts.rank = 2;
    ts.dims[0] = batch_;
    ts.dims[1] = classes_;
    auto t0 = std::chrono::steady_clock::now();
    int64_t valid = 0, done = 0;
    while (it.next(x.data(), labels.data(), &valid)) {
      double loss = 0;
      cnnc_status st = train ? api_.train_step(ctx_, &tx, &tl, &loss, &ts)
                             : api_.eval(ctx_, &tx, &tl, &loss, &ts);
      if (st != CNNC_OK) {
        err = api_.last_error(ctx_);
        return false;
      }
      if (!std::isfinite(loss)) {
        std::ostringstream os;
        os << "the loss became " << loss << " at "
           << (train ? "training" : "evaluation") << " batch " << done + 1
           << " (step " << api_.train_steps_done(ctx_)
           << "): the learning rate (" << api_.learning_rate(ctx_)
           << ") is probably too high; try a smaller --lr";
        err = os.str();
        return false;
      }
      // The last evaluation batch is padded: its mean loss is weighted by
      // its real examples.
      m.lossSum += loss * double(valid);
      m.lossCount += valid;
      countCorrect(scores, classes_, labels, valid, m);
      ++done;
      double secs = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
      if (bar)
        bar->update(done, m.loss(), secs > 0 ? double(m.seen) / secs : 0);
    }
    if (bar)
      bar->finish();
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                             t0)
                   .count();
    return true;
  }

private:
  const cnnc_model_api &api_;
  cnnc_ctx *ctx_;
  int64_t batch_ = 0, classes_ = 0;
};

/// Every parameter's values (for --report-params).
std::vector<std::vector<uint8_t>> snapshotParams(const cnnc_model_api &api,
                                                 cnnc_ctx *ctx) {
  std::vector<std::vector<uint8_t>> all;
  for (size_t i = 0; i < api.num_params; ++i) {
    const cnnc_tensor_desc &d = api.params[i];
    size_t bytes = size_t(d.num_elements) * (d.dtype == CNNC_F64 ? 8 : 4);
    std::vector<uint8_t> v(bytes);
    if (d.dtype == CNNC_F32 || d.dtype == CNNC_F64)
      (void)api.get_param(ctx, d.name, v.data(), bytes);
    all.push_back(std::move(v));
  }
  return all;
}

double maxChange(const cnnc_tensor_desc &d, const std::vector<uint8_t> &a,
                 const std::vector<uint8_t> &b) {
  double m = 0;
  for (int64_t i = 0; i < d.num_elements; ++i) {
    double x, y;
    if (d.dtype == CNNC_F64) {
      x = reinterpret_cast<const double *>(a.data())[i];
      y = reinterpret_cast<const double *>(b.data())[i];
    } else {
      x = reinterpret_cast<const float *>(a.data())[i];
      y = reinterpret_cast<const float *>(b.data())[i];
    }
    m = std::max(m, std::fabs(x - y));
  }
  return m;
}

} // namespace

int trainMain(int argc, char **argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      printHelp();
      return 0;
    }
  TrainArgs a;
  if (!parseArgs(argc, argv, a))
    return 1;
  std::optional<cnnc_lr_schedule> sched = parseSchedule(a.schedule);
  if (!sched)
    return argError("unknown --schedule '" + a.schedule +
                    "' (constant, step, exp, inv_t, sqrt, cosine)"),
           1;

  auto model = LoadedModel::load(a.model, a.name);
  if (!model.ok())
    return argError(model.status().message()), 1;
  const cnnc_model_api &api = model->api();
  cnnc_ctx *ctx = nullptr;
  if (api.create(&ctx) != CNNC_OK)
    return argError(api.last_error(nullptr)), 1;
  struct CtxGuard {
    const cnnc_model_api &api;
    cnnc_ctx *ctx;
    ~CtxGuard() { api.destroy(ctx); }
  } guard{api, ctx};
  Trainer trainer(api, ctx);
  Status st = trainer.check();
  if (!st.ok())
    return argError(st.message()), 1;
  if (a.threads && api.set_num_threads(ctx, int(a.threads)) != CNNC_OK)
    return argError(api.last_error(ctx)), 1;

  // Data.
  auto load = [&](bool train) {
    return a.format == "idx" ? readIdxDir(a.data, train, trainer.classes())
                             : readCifar10Dir(a.data, train);
  };
  auto full = load(true);
  if (!full.ok())
    return argError(full.status().message()), 1;
  const cnnc_tensor_desc &in = api.inputs[0];
  if (full->channels != in.dims[1] || full->height != in.dims[2] ||
      full->width != in.dims[3])
    return argError("the data set's images are " +
                    std::to_string(full->channels) + "x" +
                    std::to_string(full->height) + "x" +
                    std::to_string(full->width) + " but the model takes " +
                    describeTensor(in)),
           1;
  Dataset train, val;
  if (a.overfit) {
    auto sub = full->subset(a.overfit);
    if (!sub.ok())
      return argError("--overfit: " + sub.status().message()), 1;
    train = std::move(*sub);
  } else if (a.validation > 0) {
    auto parts = full->split(a.validation, a.seed);
    if (!parts.ok())
      return argError("--validation: " + parts.status().message()), 1;
    train = std::move(parts->first);
    val = std::move(parts->second);
  } else {
    train = std::move(*full);
  }
  if (train.count < trainer.batch())
    return argError("the training set has " + std::to_string(train.count) +
                    " examples, fewer than one batch of " +
                    std::to_string(trainer.batch())),
           1;
  Normalizer::Mode mode = a.normalize == "none"    ? Normalizer::None
                          : a.normalize == "pixel" ? Normalizer::PerPixel
                                                   : Normalizer::PerChannel;
  Normalizer norm = fitNormalizer(train, mode, a.scaleStd);
  BatchIterator trainIt(train, trainer.batch(), /*shuffle=*/true, a.seed,
                        a.augment, norm, /*dropLast=*/true);

  // Hyperparameters: the model's defaults, overridden by flags.
  cnnc_train_config cfg;
  api.get_train_config(ctx, &cfg);
  if (a.lr) cfg.learning_rate = *a.lr;
  if (a.momentum) cfg.momentum = *a.momentum;
  if (a.beta2) cfg.beta2 = *a.beta2;
  if (a.eps) cfg.eps = *a.eps;
  if (a.weightDecay) cfg.weight_decay = *a.weightDecay;
  if (a.decay) cfg.decay = *a.decay;
  if (a.minLr) cfg.min_lr = *a.minLr;
  cfg.schedule = *sched;
  cfg.decay_steps = a.decaySteps.value_or(trainIt.batchesPerEpoch());
  cfg.total_steps = a.epochs * trainIt.batchesPerEpoch();
  cfg.seed = a.seed;
  if (api.set_train_config(ctx, &cfg) != CNNC_OK)
    return argError(api.last_error(ctx)), 1;

  int64_t firstEpoch = 0;
  if (a.resume) {
    if (api.load_params(ctx, a.checkpoint.c_str()) != CNNC_OK)
      return argError(std::string("--resume: ") + api.last_error(ctx)), 1;
    firstEpoch = api.train_steps_done(ctx) / trainIt.batchesPerEpoch();
  }
  bool tty = a.progress && !a.quiet && isatty(2);
  if (!a.quiet)
    std::cout << "training " << api.name << " (" << api.optimizer << ", lr "
              << cfg.learning_rate << ", batch " << trainer.batch() << ") on "
              << train.count << " examples"
              << (val.count ? ", validating on " + std::to_string(val.count)
                            : std::string())
              << (firstEpoch ? ", resuming at epoch " +
                                   std::to_string(firstEpoch + 1)
                             : std::string())
              << "\n";

  auto before = a.reportParams ? snapshotParams(api, ctx)
                               : std::vector<std::vector<uint8_t>>{};
  std::vector<EpochRecord> records;
  for (int64_t e = firstEpoch; e < a.epochs; ++e) {
    EpochRecord r;
    r.epoch = e + 1;
    r.lr = api.learning_rate(ctx);
    trainIt.startEpoch(e);
    Meter m;
    ProgressBar bar(std::cerr, trainIt.batchesPerEpoch(), tty);
    std::string err;
    double secs = 0;
    if (!trainer.pass(trainIt, true, m, &bar, err, &secs))
      return argError("epoch " + std::to_string(e + 1) + ": " + err), 1;
    r.trainLoss = m.loss();
    r.trainAcc = m.accuracy();
    r.seconds = secs;
    r.imagesPerSec = secs > 0 ? double(m.seen) / secs : 0;
    r.valLoss = r.valAcc = NAN;
    if (val.count) {
      BatchIterator vit(val, trainer.batch(), false, a.seed, Augment(), norm,
                        /*dropLast=*/false);
      vit.startEpoch(0);
      Meter vm;
      double vs = 0;
      if (!trainer.pass(vit, false, vm, nullptr, err, &vs))
        return argError("validation: " + err), 1;
      r.valLoss = vm.loss();
      r.valAcc = vm.accuracy();
    }
    records.push_back(r);
    if (!a.quiet) {
      std::cout << std::fixed << std::setprecision(4) << "epoch " << r.epoch
                << "/" << a.epochs << "  train loss " << r.trainLoss
                << " acc " << std::setprecision(2) << 100 * r.trainAcc << "%";
      if (val.count)
        std::cout << std::setprecision(4) << "  val loss " << r.valLoss
                  << " acc " << std::setprecision(2) << 100 * r.valAcc << "%";
      std::cout << std::setprecision(0) << "  " << r.imagesPerSec
                << " img/s  " << std::setprecision(1) << r.seconds << " s"
                << std::defaultfloat << std::setprecision(6) << "  lr "
                << r.lr << "\n";
      std::cout.flush();
    }
    if (!a.checkpoint.empty() &&
        api.save_params(ctx, a.checkpoint.c_str()) != CNNC_OK)
      return argError(api.last_error(ctx)), 1;
    if (!a.curves.empty()) {
      Status cs = writeCurvesCsv(a.curves + ".csv", records);
      if (cs.ok())
        cs = writeCurvesSvg(a.curves + ".svg", records,
                            std::string(api.name) + " (" + api.optimizer + ")");
      if (!cs.ok())
        return argError(cs.message()), 1;
    }
  }

  if (a.reportParams) {
    auto after = snapshotParams(api, ctx);
    for (size_t i = 0; i < api.num_params; ++i) {
      const cnnc_tensor_desc &d = api.params[i];
      std::string n = d.name;
      if (n.rfind("grad.", 0) == 0 || n.rfind("opt.", 0) == 0 ||
          n == "train.step")
        continue;
      std::cout << "param " << n << " "
                << (d.trainable ? "trained" : "frozen") << " max-change "
                << maxChange(d, before[i], after[i]) << "\n";
    }
  }

  // The test set, when the format has one.
  if (!a.overfit) {
    auto test = load(false);
    if (test.ok()) {
      BatchIterator tit(*test, trainer.batch(), false, a.seed, Augment(), norm,
                        false);
      tit.startEpoch(0);
      Meter tm;
      std::string err;
      double secs = 0;
      if (!trainer.pass(tit, false, tm, nullptr, err, &secs))
        return argError("test: " + err), 1;
      std::cout << std::fixed << std::setprecision(2) << "test accuracy "
                << 100 * tm.accuracy() << "% (" << tm.correct << "/"
                << tm.seen << "), test loss " << std::setprecision(4)
                << tm.loss() << "\n";
    } else if (!a.quiet) {
      std::cout << "no test set: " << test.status().message() << "\n";
    }
  } else if (!records.empty()) {
    std::cout << std::fixed << std::setprecision(2)
              << "overfit: training accuracy " << 100 * records.back().trainAcc
              << "% on " << train.count << " examples\n";
  }
  return 0;
}

} // namespace cnnc
