//===- test/onnx-node/ConformanceRunner.cpp - the ONNX conformance suite ---===//
//
// For each test listed in a list file (enabled.txt), as a path relative to
// Debian's libonnx-testdata data directory (node/test_conv_with_strides_...):
// imports model.onnx, compiles it with cnnc into a shared library, loads it,
// runs it on every test_data_set_*/input_*.pb and compares the outputs with
// output_*.pb (ONNX backend tolerances: rtol 1e-3, atol 1e-7, with atol
// 1e-5 for float32 results of accumulating ops). Every listed test must
// exist. Integer inputs (shapes, axes, pads, indices) are bound as constants,
// since cnnc compiles static shapes.
//
// Prints one line per failure and `N passed, N failed` at the end; exits 1
// if any failed.
//
// --target compiles for another Halide target (host-opencl runs on PoCL).
// --export DIR compiles each test data set and, instead of running it,
// writes DIR/<test>.<set>/: model.so, in_<i>.bin (raw, in the model's input
// order), want_<i>.bin (the expected outputs, raw) and case.txt (one line
// per output: `output <i> <dtype> <elements>`), for
// scripts/gpu_check/check.py to run on a machine without the compiler.
//
//===----------------------------------------------------------------------===//
#include "codegen/Compiler.h"
#include "frontend/onnx/OnnxImporter.h"
#include "frontend/onnx/OnnxProto.h"
#include "tools/driver/ModelLoader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace cnnc;

namespace {

struct Options {
  std::string data = "/usr/share/libonnx-testdata/data";
  std::string list;
  std::string filter;
  int shard = 0, numShards = 1;
  bool verbose = false;
  std::string target = "host";
  std::string exportDir;
  double rtol = 1e-3, atol = 1e-5;
};

Expected<Tensor> readPb(const fs::path &path, std::string *name) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot open " + path.string());
  onnx::TensorProto t;
  if (!t.ParseFromIstream(&in))
    return Status::error("cannot parse " + path.string());
  if (name)
    *name = t.name();
  return onnxproto::tensorFromProto(t, path.parent_path().string());
}

std::vector<fs::path> sortedFiles(const fs::path &dir, const std::string &prefix) {
  std::vector<fs::path> out;
  for (auto &e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0)
      out.push_back(e.path());
  // input_10 after input_9.
  std::sort(out.begin(), out.end(), [](const fs::path &a, const fs::path &b) {
    auto num = [](const fs::path &p) {
      std::string s = p.stem().string();
      return std::stoi(s.substr(s.rfind('_') + 1));
    };
    return num(a) < num(b);
  });
  return out;
}

/// Integer tensors (shapes, axes, pads, indices) and float scalars (Clip's
/// bounds) are operands that cnnc needs at compile time.
bool isConstantLike(const Tensor &t) {
  return !isFloat(t.dtype()) || t.type().rank() == 0;
}

/// Compares \p got with \p want; a description of the first mismatch.
std::string compare(const Tensor &got, const Tensor &want, double rtol,
                    double atol) {
  if (got.type() != want.type())
    return "type " + got.type().str() + ", expected " + want.type().str();
  for (int64_t i = 0; i < got.numElements(); ++i) {
    double g = got.getDouble(i), w = want.getDouble(i);
    if (std::isnan(w) && std::isnan(g))
      continue;
    if (std::isinf(w) && g == w)
      continue;
    if (std::fabs(g - w) <= atol + rtol * std::fabs(w))
      continue;
    std::ostringstream os;
    os << "element " << i << " is " << g << ", expected " << w;
    return os.str();
  }
  return "";
}

/// Runs one test directory; "" on success, else why it failed.
/// Writes \p n bytes at \p data to \p path.
bool writeRaw(const fs::path &path, const void *data, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char *>(data), std::streamsize(n));
  return bool(f);
}

std::string runTest(const fs::path &dir, const Options &o, int serial) {
  std::vector<fs::path> sets = sortedFiles(dir, "test_data_set_");
  if (sets.empty())
    return "no test_data_set_*";
  for (const fs::path &set : sets) {
    fs::path exportTo;
    if (!o.exportDir.empty()) {
      exportTo = fs::path(o.exportDir) /
                 (dir.filename().string() + "." + set.filename().string());
      fs::create_directories(exportTo);
    }
    // Inputs in the model's order (the .pb names say which is which).
    std::vector<std::pair<std::string, Tensor>> inputs;
    for (const fs::path &p : sortedFiles(set, "input_")) {
      std::string name;
      auto t = readPb(p, &name);
      if (!t.ok())
        return t.status().message();
      inputs.emplace_back(name, std::move(*t));
    }
    OnnxImportOptions io;
    for (auto &[name, t] : inputs)
      if (isConstantLike(t))
        io.inputValues[name] = t;
    SourceMgr sm;
    std::ostringstream diagOut;
    DiagEngine diag(sm, &diagOut);
    auto g = importOnnx((dir / "model.onnx").string(), io, sm, diag);
    if (!g.ok())
      return "import: " + diagOut.str() + g.status().message();
    fs::path lib = !exportTo.empty()
                       ? exportTo / "model.so"
                       : fs::temp_directory_path() /
                             ("cnnc-conf-" + std::to_string(getpid()) + "-" +
                              std::to_string(serial) + ".so");
    CompileOptions co;
    co.output = lib.string();
    co.header = lib.string() + ".h";
    co.name = "conformance";
    co.target = o.target;
    Status s = compileModel(**g, co);
    if (!s.ok())
      return "compile: " + s.message();
    struct Cleanup {
      fs::path a, b;
      ~Cleanup() {
        std::error_code ec;
        if (!a.empty())
          fs::remove(a, ec);
        fs::remove(b, ec);
      }
    } cleanup{exportTo.empty() ? lib : fs::path(), co.header};
    auto m = LoadedModel::load(lib.string());
    if (!m.ok())
      return "load: " + m.status().message();
    const cnnc_model_api &api = m->api();
    // By name; the pytorch-* suites' files have no names, and then the
    // order of the (non-constant) inputs decides.
    std::vector<Tensor> in, floatInputs;
    for (auto &[name, t] : inputs)
      if (!isConstantLike(t))
        floatInputs.push_back(t);
    for (size_t i = 0; i < api.num_inputs; ++i) {
      auto it = std::find_if(inputs.begin(), inputs.end(), [&](auto &p) {
        return p.first == api.inputs[i].name;
      });
      if (it != inputs.end()) {
        in.push_back(it->second);
      } else if (floatInputs.size() == api.num_inputs) {
        in.push_back(floatInputs[i]);
      } else {
        return std::string("no data for input '") + api.inputs[i].name + "'";
      }
    }
    auto view = [](Tensor &t) {
      cnnc_tensor v{};
      v.data = t.rawData();
      v.dtype = cnnc_dtype(t.dtype());
      v.rank = int32_t(t.type().rank());
      for (int64_t d = 0; d < v.rank; ++d)
        v.dims[d] = t.dims()[size_t(d)];
      return v;
    };
    std::vector<fs::path> outFiles = sortedFiles(set, "output_");
    if (outFiles.size() != api.num_outputs)
      return "model has " + std::to_string(api.num_outputs) +
             " outputs, test data " + std::to_string(outFiles.size());
    std::vector<Tensor> out;
    for (size_t i = 0; i < api.num_outputs; ++i) {
      const cnnc_tensor_desc &d = api.outputs[i];
      out.emplace_back(TensorType(DType(d.dtype),
                                  std::vector<int64_t>(d.dims, d.dims + d.rank)));
    }
    if (!exportTo.empty()) {
      std::ofstream c(exportTo / "case.txt");
      for (size_t i = 0; i < in.size(); ++i)
        if (!writeRaw(exportTo / ("in_" + std::to_string(i) + ".bin"),
                      in[i].rawData(), in[i].numBytes()))
          return "cannot write to " + exportTo.string();
      for (size_t i = 0; i < outFiles.size(); ++i) {
        auto want = readPb(outFiles[i], nullptr);
        if (!want.ok())
          return want.status().message();
        if (!writeRaw(exportTo / ("want_" + std::to_string(i) + ".bin"),
                      want->rawData(), want->numBytes()))
          return "cannot write to " + exportTo.string();
        c << "output " << i << " " << dtypeName(want->dtype()) << " "
          << want->numElements() << "\n";
      }
      continue;
    }
    std::vector<cnnc_tensor> inV, outV;
    for (Tensor &t : in)
      inV.push_back(view(t));
    for (Tensor &t : out)
      outV.push_back(view(t));
    cnnc_ctx *ctx = nullptr;
    if (api.create(&ctx) != CNNC_OK)
      return std::string("create: ") + api.last_error(nullptr);
    cnnc_status rs = api.run(ctx, inV.data(), inV.size(), outV.data(), outV.size());
    std::string err = rs == CNNC_OK ? "" : api.last_error(ctx);
    api.destroy(ctx);
    if (rs != CNNC_OK)
      return "run: " + err;
    for (size_t i = 0; i < out.size(); ++i) {
      auto want = readPb(outFiles[i], nullptr);
      if (!want.ok())
        return want.status().message();
      std::string why = compare(out[i], *want, o.rtol, o.atol);
      if (!why.empty())
        return set.filename().string() + " output " + std::to_string(i) +
               ": " + why;
    }
  }
  return "";
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() { return i + 1 < argc ? std::string(argv[++i]) : ""; };
    if (a == "--data")
      o.data = value();
    else if (a == "--list")
      o.list = value();
    else if (a == "--filter")
      o.filter = value();
    else if (a == "--shard") {
      std::string v = value();
      size_t slash = v.find('/');
      o.shard = std::stoi(v.substr(0, slash));
      o.numShards = std::stoi(v.substr(slash + 1));
    } else if (a == "-v")
      o.verbose = true;
    else if (a == "--target")
      o.target = value();
    else if (a == "--export")
      o.exportDir = value();
    else {
      std::cerr << "usage: cnnc-conformance --list enabled.txt [--data DIR] "
                   "[--filter S] [--shard I/N] [--target T] [--export DIR] "
                   "[-v]\n";
      return 2;
    }
  }
  bool gpu = o.target.find("-cuda") != std::string::npos ||
             o.target.find("-opencl") != std::string::npos;
  if (gpu && o.exportDir.empty()) {
    // This process holds Halide's LLVM; an OpenCL driver may load another
    // (PoCL: LLVM 15), and two in one process crash.
    std::cerr << "cnnc-conformance: --target " << o.target
              << " needs --export DIR: run the exported cases with "
                 "scripts/gpu_check/check.py\n";
    return 2;
  }
  std::ifstream list(o.list);
  if (!list) {
    std::cerr << "cnnc-conformance: cannot open list '" << o.list << "'\n";
    return 2;
  }
  std::vector<std::string> tests;
  for (std::string line; std::getline(list, line);) {
    line = line.substr(0, line.find('#'));
    line.erase(0, line.find_first_not_of(" \t"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty())
      tests.push_back(line);
  }
  int passed = 0, failed = 0, index = 0;
  for (const std::string &t : tests) {
    if (index++ % o.numShards != o.shard)
      continue;
    if (!o.filter.empty() && t.find(o.filter) == std::string::npos)
      continue;
    fs::path dir = fs::path(o.data) / t;
    std::string why;
    if (!fs::exists(dir / "model.onnx"))
      why = "listed test does not exist: " + dir.string();
    else
      why = runTest(dir, o, index);
    if (why.empty()) {
      ++passed;
      if (o.verbose)
        std::cout << "PASS " << t << "\n";
    } else {
      ++failed;
      std::replace(why.begin(), why.end(), '\n', ' ');
      std::cout << "FAIL " << t << ": " << why << "\n";
    }
    std::cout.flush();
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
