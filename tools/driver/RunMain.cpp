//===- tools/driver/RunMain.cpp - the cnnc-run driver, as a library --------===//
#include "tools/driver/RunMain.h"

#include "tools/driver/ModelLoader.h"
#include "tools/driver/Npy.h"
#include "tools/driver/TensorFiles.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <numeric>

namespace cnnc {

static void printHelp() {
  std::cout <<
      "OVERVIEW: run a model compiled by cnnc\n"
      "USAGE: cnnc-run <model.so> [options]\n\n"
      "OPTIONS:\n"
      "  --input [NAME=]FILE    an input as .npy or ONNX TensorProto .pb; in\n"
      "                         model order when NAME is left out; repeatable\n"
      "  --output [NAME=]FILE   write an output as .npy; repeatable\n"
      "  --output-dir DIR       write every output as DIR/<name>.npy\n"
      "  --threads N            threads for the model (default: the runtime's)\n"
      "  --name PREFIX          the model's --name, for a library that exports\n"
      "                         no cnnc_model_api (normally not needed)\n"
      "  --quiet                print nothing on success\n"
      "  --help                 this text\n\n"
      "Prints each output's shape, value range and, for a [1, K] output, the\n"
      "top-5 classes.\n";
}

namespace {
struct Binding {
  std::string name, file;
};
} // namespace

static Binding splitBinding(const std::string &s) {
  size_t eq = s.find('=');
  if (eq == std::string::npos)
    return {"", s};
  return {s.substr(0, eq), s.substr(eq + 1)};
}

static int fail(const std::string &msg) {
  std::cerr << "cnnc-run: error: " << msg << "\n";
  return 1;
}

/// Index of the descriptor named \p name, or -1.
static int findDesc(const cnnc_tensor_desc *descs, size_t n,
                    const std::string &name) {
  for (size_t i = 0; i < n; ++i)
    if (name == descs[i].name)
      return int(i);
  return -1;
}

static void printSummary(const cnnc_tensor_desc &d, const Tensor &t) {
  std::cout << "output '" << d.name << "': " << describeTensor(d);
  int64_t n = t.numElements();
  if (n == 0) {
    std::cout << "\n";
    return;
  }
  double lo = t.getDouble(0), hi = lo, sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = t.getDouble(i);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  std::cout << "  min " << lo << "  max " << hi << "  mean " << sum / double(n)
            << "\n";
  if (d.rank == 2 && d.dims[0] == 1 && d.dims[1] > 1) {
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    size_t k = std::min<size_t>(5, idx.size());
    std::partial_sort(idx.begin(), idx.begin() + long(k), idx.end(),
                      [&](int64_t a, int64_t b) {
                        return t.getDouble(a) > t.getDouble(b);
                      });
    std::cout << "  top-" << k << ":";
    for (size_t i = 0; i < k; ++i)
      std::cout << " " << idx[i] << " (" << t.getDouble(idx[i]) << ")";
    std::cout << "\n";
  }
}

int runMain(int argc, char **argv) {
  std::string modelPath, name, outputDir;
  std::vector<Binding> inputs, outputs;
  int threads = 0;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    if (a == "--help" || a == "-h") {
      printHelp();
      return 0;
    }
    if (a == "--input" || a == "--output" || a == "--output-dir" ||
        a == "--threads" || a == "--name") {
      const char *v = value();
      if (!v)
        return fail(a + " needs a value");
      if (a == "--input")
        inputs.push_back(splitBinding(v));
      else if (a == "--output")
        outputs.push_back(splitBinding(v));
      else if (a == "--output-dir")
        outputDir = v;
      else if (a == "--name")
        name = v;
      else {
        char *end = nullptr;
        long n = std::strtol(v, &end, 10);
        if (*end || n < 1)
          return fail("--threads needs a positive integer, got '" +
                      std::string(v) + "'");
        threads = int(n);
      }
    } else if (a == "--quiet") {
      quiet = true;
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option '" + a + "' (see --help)");
    } else if (modelPath.empty()) {
      modelPath = a;
    } else {
      return fail("more than one model ('" + modelPath + "' and '" + a + "')");
    }
  }
  if (modelPath.empty())
    return fail("no model given (usage: cnnc-run model.so --input x.npy)");

  auto loaded = LoadedModel::load(modelPath, name);
  if (!loaded.ok())
    return fail(loaded.status().message());
  const cnnc_model_api &api = loaded->api();

  // Inputs: by name, or in model order.
  std::vector<Tensor> inTensors(api.num_inputs);
  std::vector<bool> have(api.num_inputs, false);
  size_t nextPositional = 0;
  for (const Binding &b : inputs) {
    int idx;
    if (b.name.empty()) {
      while (nextPositional < api.num_inputs && have[nextPositional])
        ++nextPositional;
      if (nextPositional >= api.num_inputs)
        return fail("too many inputs: the model has " +
                    std::to_string(api.num_inputs));
      idx = int(nextPositional);
    } else {
      idx = findDesc(api.inputs, api.num_inputs, b.name);
      if (idx < 0) {
        std::string known;
        for (size_t i = 0; i < api.num_inputs; ++i)
          known += std::string(i ? ", " : "") + api.inputs[i].name;
        return fail("the model has no input '" + b.name + "' (inputs: " +
                    known + ")");
      }
    }
    auto t = readTensorFile(b.file);
    if (!t.ok())
      return fail(t.status().message());
    inTensors[size_t(idx)] = std::move(*t);
    have[size_t(idx)] = true;
  }
  for (size_t i = 0; i < api.num_inputs; ++i)
    if (!have[i])
      return fail("missing input '" + std::string(api.inputs[i].name) + "' " +
                  describeTensor(api.inputs[i]) + " (give --input " +
                  api.inputs[i].name + "=FILE.npy)");

  cnnc_ctx *ctx = nullptr;
  if (api.create(&ctx) != CNNC_OK)
    return fail(std::string("cannot create the model: ") +
                api.last_error(nullptr));
  struct Guard {
    const cnnc_model_api &api;
    cnnc_ctx *ctx;
    ~Guard() { api.destroy(ctx); }
  } guard{api, ctx};
  if (threads && api.set_num_threads(ctx, threads) != CNNC_OK)
    return fail(api.last_error(ctx));

  auto toView = [](Tensor &t) {
    cnnc_tensor v{};
    v.data = t.rawData();
    v.dtype = cnnc_dtype(t.dtype());
    v.rank = int32_t(t.type().rank());
    for (int64_t d = 0; d < t.type().rank() && d < CNNC_MAX_RANK; ++d)
      v.dims[d] = t.dims()[size_t(d)];
    return v;
  };
  std::vector<cnnc_tensor> inViews, outViews;
  for (Tensor &t : inTensors)
    inViews.push_back(toView(t));
  std::vector<Tensor> outTensors;
  for (size_t i = 0; i < api.num_outputs; ++i) {
    const cnnc_tensor_desc &d = api.outputs[i];
    outTensors.emplace_back(TensorType(
        DType(d.dtype), std::vector<int64_t>(d.dims, d.dims + d.rank)));
  }
  for (Tensor &t : outTensors)
    outViews.push_back(toView(t));
  if (api.run(ctx, inViews.data(), inViews.size(), outViews.data(),
              outViews.size()) != CNNC_OK)
    return fail(api.last_error(ctx));

  std::map<std::string, std::string> outFiles;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Binding &b = outputs[i];
    std::string n = b.name;
    if (n.empty()) {
      if (i >= api.num_outputs)
        return fail("too many --output files: the model has " +
                    std::to_string(api.num_outputs) + " outputs");
      n = api.outputs[i].name;
    } else if (findDesc(api.outputs, api.num_outputs, n) < 0) {
      return fail("the model has no output '" + n + "'");
    }
    outFiles[n] = b.file;
  }
  for (size_t i = 0; i < api.num_outputs; ++i) {
    std::string n = api.outputs[i].name;
    std::string file = outFiles.count(n) ? outFiles[n]
                       : outputDir.empty() ? ""
                                           : outputDir + "/" + n + ".npy";
    if (!file.empty()) {
      Status s = writeNpy(file, outTensors[i]);
      if (!s.ok())
        return fail(s.message());
    }
    if (!quiet)
      printSummary(api.outputs[i], outTensors[i]);
  }
  return 0;
}

} // namespace cnnc
