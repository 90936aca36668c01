//===- tools/driver/CnncMain.cpp - the cnnc compiler driver, as a library --===//
#include "tools/driver/CnncMain.h"

#include "codegen/Compiler.h"
#include "frontend/dsl/NetworkParser.h"
#include "frontend/onnx/OnnxExporter.h"
#include "frontend/onnx/OnnxImporter.h"
#include "ir/Lexer.h"
#include "ir/OpDef.h"
#include "ir/Schedule.h"
#include "ir/TextIR.h"
#include "ir/Verifier.h"
#include "codegen/Link.h"
#include "passes/Summary.h"
#include "passes/Training.h"
#include "tools/driver/InputFile.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <sys/stat.h>

namespace cnnc {

namespace {
struct CnncOptions {
  std::string input, output;
  bool summary = false, emitIr = false, emitOnnx = false;
  std::optional<int64_t> batch;
  std::map<std::string, std::vector<int64_t>> shapes; // --shape, ONNX only
  std::string target = "host", name, header;
  int cudaCapability = 0; // --cuda-capability; 0: the default
  bool externalWeights = false;
  uint64_t seed = 0;
  bool train = false;
  TrainOptions trainOpts;
  std::optional<int64_t> numClasses; // --num-classes: a new head
  std::string paramsFile;            // --params: initial values
  bool fuse = true;                  // --fuse=off: one kernel per node
  std::string schedule = "manual";   // --schedule
  std::string convLayout = "auto";   // --conv-layout
};
} // namespace

static void printHelp() {
  std::cout
      << "OVERVIEW: cnnc, an ahead-of-time compiler for convolutional neural "
         "networks\n\n"
         "USAGE: cnnc <input> [options]\n\n"
         "The input is a network in cnnc's network language (a file whose "
         "first word is\n'network', usually .cnn), a graph in the IR text "
         "form (.cnnir), or an ONNX\nmodel (.onnx; .onnxtxt is a ModelProto in "
         "protobuf text format); '-' reads\nstandard input.\n\n"
         "OPTIONS:\n"
         "  --summary        print each layer's output shape, parameter count "
         "and FLOPs,\n"
         "                   then the totals and the memory plan: each "
         "function's arena\n"
         "                   against the sum of its temporaries, the "
         "parameter block and\n"
         "                   the bytes create_with_arena needs (with "
         "--train: the training\n"
         "                   artifact's functions)\n"
         "  --batch <N>      batch size: dimension 0 of the input (default: 1 "
         "for a network;\n"
         "                   an IR graph keeps its own unless given; an "
         "ONNX model's symbolic\n"
         "                   dimension 0)\n"
         "  --shape <name>=<dims>\n"
         "                   the shape of ONNX input <name>, e.g. "
         "x=1x3x224x224 (repeatable)\n"
         "  --emit=ir        print the graph in the IR text form\n"
         "  --emit=onnx      write the graph as an ONNX model (opset 13) to "
         "the -o file\n"
         "  -o <file>        without --emit: compile into <file>, a shared "
         "library (.so)\n"
         "                   or a static one (.a), and write the C header "
         "next to it (.h);\n"
         "                   with --emit: write that output to <file> "
         "instead of stdout\n"
         "  --target=<t>     a Halide target string: host (default), "
         "x86-64-linux-avx2,\n"
         "                   arm-64-linux, ... (x86-64 and arm-64 Linux); "
         "add -cuda or\n"
         "                   -opencl to run the kernels on a GPU, e.g. "
         "host-cuda, host-opencl\n"
         "  --cuda-capability=<N>\n"
         "                   the CUDA compute capability of the PTX: 30, 32, "
         "35, 50, 61,\n"
         "                   70 (default; newer GPUs run it), 75, 80, 86\n"
         "  --name=<prefix>  prefix of the library's exported functions "
         "(default: the\n"
         "                   output's file name, made a C identifier)\n"
         "  --header=<file>  where to write the C header (default: -o with "
         ".h)\n"
         "  --weights=<w>    embedded (default): weights inside the library; "
         "external:\n"
         "                   in <name>.weights next to it, loaded at create\n"
         "  --seed=<n>       seed of random parameter initialisers (default "
         "0)\n"
         "  --params=<file>  initial parameter values from a checkpoint or "
         "weights file\n"
         "                   (by name; optimizer state in it is ignored)\n"
         "  --fuse=<on|off>  on (default): the fuse pass groups a conv, gemm "
         "or other op\n"
         "                   with the element-wise ops after it (bias, "
         "ReLU, residual add,\n"
         "                   ReLU's mask in a backward graph) and a "
         "following pool into one\n"
         "                   kernel; off: one kernel per node\n"
         "  --schedule=<s>   manual (default): each kernel's CPU schedule "
         "from cnnc's\n"
         "                   schedule pass and the ops' own rules; "
         "mullapudi2016,\n"
         "                   adams2019, li2018: Halide's autoscheduler of "
         "that name\n"
         "                   schedules every kernel instead (CPU targets "
         "only)\n"
         "  --conv-layout=<l> auto (default): the schedule pass chooses "
         "each conv's\n"
         "                   layout by its cost model; nchw: vectorized "
         "across output\n"
         "                   columns; nchwc: across filters, in blocks "
         "(convs of one\n"
         "                   group); winograd: F(2x2,3x3) for 3x3 stride-1 "
         "convs of one\n"
         "                   group (the others: auto); CPU targets with "
         "--schedule=manual\n\n"
         "TRAINING:\n"
         "  --train          also compile the training functions: eval, "
         "train_step,\n"
         "                   forward_backward, apply_gradients (with "
         "--emit=ir: print them)\n"
         "  --optimizer=<o>  sgd (default), momentum, nesterov, adam, "
         "adagrad, rmsprop,\n"
         "                   adadelta; hyperparameters are runtime "
         "arguments\n"
         "  --loss=<l>       softmax_cross_entropy or hinge (default: the "
         "network's `loss`)\n"
         "  --freeze=<pat>   do not train the parameters matching <pat> "
         "('*', '?'),\n"
         "                   e.g. --freeze='c*' (repeatable)\n"
         "  --num-classes=<C>\n"
         "                   transfer learning: replace the classifier head "
         "(the last fc)\n"
         "                   by a fresh one with C outputs\n"
         "  --help           this text\n\n"
         "Without --summary or --emit, -o is required and cnnc compiles the "
         "model.\n\n"
         "NETWORK LANGUAGE: one layer per line, 'kind [name] key=value ...'; "
         "each layer\nreads the previous one unless from=NAME or "
         "from=[a, b] says otherwise.\n"
      << describeLayerKinds();
}

static bool argError(const std::string &msg) {
  std::cerr << "cnnc: error: " << msg << "\n";
  return false;
}

/// A positive integer, or nullopt.
static std::optional<int64_t> parsePositive(const std::string &s) {
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE || v < 1)
    return std::nullopt;
  return v;
}

/// --shape NAME=D0xD1x...: adds NAME's dims to \p shapes.
static bool parseShapeFlag(const std::string &v,
                           std::map<std::string, std::vector<int64_t>> &shapes) {
  size_t eq = v.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
    return argError("--shape expects <input>=<dims> such as x=1x3x224x224, "
                    "got '" + v + "'");
  std::vector<int64_t> dims;
  std::string rest = v.substr(eq + 1);
  size_t pos = 0;
  while (true) {
    size_t x = rest.find('x', pos);
    std::optional<int64_t> d = parsePositive(rest.substr(pos, x - pos));
    if (!d)
      return argError("--shape " + v + ": dims must be positive integers "
                      "joined by 'x', such as 1x3x224x224");
    dims.push_back(*d);
    if (x == std::string::npos)
      break;
    pos = x + 1;
  }
  if (!shapes.emplace(v.substr(0, eq), dims).second)
    return argError("--shape names '" + v.substr(0, eq) + "' twice");
  return true;
}

static bool parseArgs(int argc, char **argv, CnncOptions &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    // "--flag value" or "--flag=value".
    auto value = [&](const std::string &flag, std::string &out) {
      if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0) {
        out = a.substr(flag.size() + 1);
        return true;
      }
      if (i + 1 >= argc)
        return argError(flag + " needs a value");
      out = argv[++i];
      return true;
    };
    auto isFlag = [&](const std::string &flag) {
      return a == flag || a.compare(0, flag.size() + 1, flag + "=") == 0;
    };
    std::string v;
    if (a == "--summary") {
      o.summary = true;
    } else if (isFlag("--emit")) {
      if (!value("--emit", v))
        return false;
      if (v != "ir" && v != "onnx")
        return argError("unknown --emit kind '" + v +
                        "' (expected ir or onnx)");
      (v == "ir" ? o.emitIr : o.emitOnnx) = true;
    } else if (isFlag("--shape")) {
      if (!value("--shape", v))
        return false;
      if (!parseShapeFlag(v, o.shapes))
        return false;
    } else if (isFlag("--batch")) {
      if (!value("--batch", v))
        return false;
      o.batch = parsePositive(v);
      if (!o.batch)
        return argError("--batch expects a positive integer, got '" + v + "'");
    } else if (isFlag("--target")) {
      if (!value("--target", v))
        return false;
      o.target = v;
    } else if (isFlag("--cuda-capability")) {
      if (!value("--cuda-capability", v))
        return false;
      std::optional<int64_t> cap = parsePositive(v);
      if (!cap || *cap > 1000)
        return argError("--cuda-capability expects a number like 80, got '" +
                        v + "'");
      o.cudaCapability = int(*cap);
    } else if (isFlag("--name")) {
      if (!value("--name", v))
        return false;
      if (!isCIdentifier(v))
        return argError("--name '" + v + "' is not a C identifier");
      o.name = v;
    } else if (isFlag("--header")) {
      if (!value("--header", v))
        return false;
      o.header = v;
    } else if (isFlag("--weights")) {
      if (!value("--weights", v))
        return false;
      if (v != "embedded" && v != "external")
        return argError("--weights expects embedded or external, got '" + v +
                        "'");
      o.externalWeights = v == "external";
    } else if (isFlag("--seed")) {
      if (!value("--seed", v))
        return false;
      char *end = nullptr;
      o.seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end)
        return argError("--seed expects a non-negative integer, got '" + v +
                        "'");
    } else if (isFlag("--fuse")) {
      if (!value("--fuse", v))
        return false;
      if (v != "on" && v != "off")
        return argError("--fuse expects on or off, got '" + v + "'");
      o.fuse = v == "on";
    } else if (isFlag("--schedule")) {
      if (!value("--schedule", v))
        return false;
      o.schedule = v;
    } else if (isFlag("--conv-layout")) {
      if (!value("--conv-layout", v))
        return false;
      if (!isConvLayoutChoice(v))
        return argError(std::string("--conv-layout expects ") +
                        kConvLayoutChoices + ", got '" + v + "'");
      o.convLayout = v;
    } else if (a == "--train") {
      o.train = true;
    } else if (isFlag("--optimizer")) {
      if (!value("--optimizer", v))
        return false;
      o.trainOpts.optimizer = v;
    } else if (isFlag("--loss")) {
      if (!value("--loss", v))
        return false;
      if (v != "softmax_cross_entropy" && v != "hinge")
        return argError("--loss expects softmax_cross_entropy or hinge, got '" +
                        v + "'");
      o.trainOpts.loss = v;
    } else if (isFlag("--freeze")) {
      if (!value("--freeze", v))
        return false;
      o.trainOpts.freeze.push_back(v);
    } else if (isFlag("--num-classes")) {
      if (!value("--num-classes", v))
        return false;
      o.numClasses = parsePositive(v);
      if (!o.numClasses || *o.numClasses < 2)
        return argError("--num-classes expects an integer >= 2, got '" + v +
                        "'");
    } else if (isFlag("--params")) {
      if (!value("--params", v))
        return false;
      o.paramsFile = v;
    } else if (isFlag("-o")) {
      if (!value("-o", v))
        return false;
      o.output = v;
    } else if (a == "-" || a.empty() || a[0] != '-') {
      if (!o.input.empty())
        return argError("more than one input file ('" + o.input + "' and '" +
                        a + "')");
      o.input = a;
    } else {
      return argError("unknown option '" + a + "' (see --help)");
    }
  }
  if (o.input.empty())
    return argError("no input file (see --help)");
  if (o.emitIr && o.emitOnnx)
    return argError("--emit=ir and --emit=onnx cannot both be given");
  if (o.emitOnnx && o.output.empty())
    return argError("--emit=onnx needs -o <file>");
  if (!o.train && (!o.trainOpts.freeze.empty() || !o.trainOpts.loss.empty() ||
                   o.trainOpts.optimizer != "sgd"))
    return argError("--optimizer, --loss and --freeze need --train");
  return true;
}

/// "models/LeNet-5.so" -> "LeNet_5": the file name as a C identifier.
static std::string defaultModelName(const std::string &output) {
  std::string stem = output.substr(output.find_last_of('/') + 1);
  stem = stem.substr(0, stem.find('.'));
  std::string id;
  for (unsigned char c : stem)
    id += std::isalnum(c) ? char(c) : '_';
  if (id.empty() || std::isdigit(static_cast<unsigned char>(id[0])))
    id = "model_" + id;
  return id;
}

static bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// True if the first word of \p text is `graph` (the IR text form).
static bool startsWithGraph(const std::string &text) {
  return Lexer(text, /*buffer=*/0).next().isIdent("graph");
}

/// Sets dimension 0 of every input to \p batch.
static void setBatch(Graph &g, int64_t batch) {
  for (Value *in : g.inputs()) {
    std::vector<int64_t> dims = in->type().dims();
    if (dims.empty())
      continue;
    dims[0] = batch;
    in->setType(TensorType(in->type().dtype(), dims));
  }
}

/// Recomputes every result type from the op shape rules (fills '?' and
/// follows a new batch size); reports failures at the node.
static bool inferShapes(Graph &g, DiagEngine &diag) {
  bool ok = true;
  for (Node *n : g.nodes()) {
    auto types = computeNodeShape(*n);
    if (!types.ok()) {
      diag.error(n->loc(), types.status());
      ok = false;
      continue;
    }
    for (size_t i = 0; i < n->numResults(); ++i)
      n->result(i)->setType((*types)[i]);
  }
  return ok;
}

/// The graphs of the input, checked and with every type inferred; empty
/// after an error.
static std::vector<std::unique_ptr<Graph>>
loadGraphs(const CnncOptions &o, SourceMgr &sm, DiagEngine &diag) {
  std::vector<std::unique_ptr<Graph>> graphs;
  bool onnx = endsWith(o.input, ".onnx"), onnxText = endsWith(o.input, ".onnxtxt");
  if (!o.shapes.empty() && !onnx && !onnxText) {
    argError("--shape applies to ONNX models (.onnx, .onnxtxt) only");
    return graphs;
  }
  if (onnx || onnxText) {
    OnnxImportOptions opts;
    opts.shapes = o.shapes;
    opts.batch = o.batch;
    auto g = onnx ? importOnnx(o.input, opts, sm, diag)
                  : importOnnxTextFile(o.input, opts, sm, diag);
    if (g.ok())
      graphs.push_back(std::move(*g));
    return graphs;
  }
  // A directory opens as a stream but fails when read.
  struct stat st;
  if (o.input != "-" && stat(o.input.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    argError("cannot read '" + o.input + "': it is a directory");
    return graphs;
  }
  auto text = readFile(o.input);
  if (!text.ok()) {
    argError(text.status().message());
    return graphs;
  }
  uint32_t buffer = sm.addBuffer(o.input == "-" ? "<stdin>" : o.input, *text);
  // By content; a .cnn file that starts with neither `network` nor `graph`
  // is a network with a mistake in its first line.
  bool network = isNetworkSource(*text) ||
                 (endsWith(o.input, ".cnn") && !startsWithGraph(*text));
  if (network) {
    NetworkOptions opts;
    opts.batch = o.batch.value_or(1);
    if (auto g = parseNetwork(sm, buffer, diag, opts))
      graphs.push_back(std::move(g));
  } else {
    graphs = parseGraphs(sm, buffer, diag);
  }
  for (auto &g : graphs) {
    if (!verifyGraph(*g, diag))
      return {};
    if (o.batch)
      setBatch(*g, *o.batch);
    if (!inferShapes(*g, diag))
      return {};
  }
  return graphs;
}

int cnncMain(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-help" || a == "-h") {
      printHelp();
      return 0;
    }
  }
  CnncOptions o;
  if (!parseArgs(argc, argv, o))
    return 1;
  SourceMgr sm;
  DiagEngine diag(sm);
  std::vector<std::unique_ptr<Graph>> graphs = loadGraphs(o, sm, diag);
  if (graphs.empty())
    return 1;

  if (!o.paramsFile.empty() || o.numClasses || o.train) {
    if (graphs.size() != 1)
      return argError("--params, --num-classes and --train need one graph; "
                      "the input has " + std::to_string(graphs.size())), 1;
    Graph &g = *graphs.front();
    if (!o.paramsFile.empty()) {
      auto values = readWeightsFile(o.paramsFile);
      Status s = values.ok() ? setParamValues(g, *values, o.paramsFile)
                             : values.status();
      if (!s.ok())
        return argError(s.message()), 1;
    }
    if (o.numClasses) {
      Status s = replaceClassifierHead(g, *o.numClasses);
      if (!s.ok())
        return argError(s.message()), 1;
    }
  }
  std::vector<std::unique_ptr<Graph>> functions;
  if (o.train) {
    auto fns = buildTrainingFunctions(*graphs.front(), o.trainOpts);
    if (!fns.ok())
      return argError(fns.status().message()), 1;
    functions = std::move(*fns);
    functions.front()->setName(graphs.front()->name());
  }

  if (o.summary) {
    for (const auto &g : graphs) {
      if (graphs.size() > 1)
        std::cout << (&g == &graphs.front() ? "" : "\n") << "graph @"
                  << g->name() << "\n";
      std::cout << formatSummary(*g) << "\n";
      // The memory plan of what -o would compile: this graph, or with
      // --train the training artifact's functions.
      std::vector<const Graph *> fns;
      for (const auto &f : functions.empty() ? graphs : functions)
        if (!functions.empty() || &f == &g)
          fns.push_back(f.get());
      auto planned = planGraphs(fns, "model", o.seed, o.fuse, o.convLayout);
      std::cout << (planned.ok() ? formatMemorySummary(memorySummary(planned->plan))
                                 : "memory plan: none (" +
                                       planned.status().message() + ")\n");
    }
    std::cout.flush();
  }
  if (o.emitIr) {
    std::string text;
    for (const auto &g : functions.empty() ? graphs : functions)
      text += (text.empty() ? "" : "// -----\n") + printGraph(*g);
    Status s = writeFile(o.output.empty() ? "-" : o.output, text);
    if (!s.ok())
      return argError(s.message()), 1;
  }
  if (o.emitOnnx) {
    if (graphs.size() != 1)
      return argError("--emit=onnx writes one graph; the input has " +
                      std::to_string(graphs.size())), 1;
    // The same initial values as a library compiled with this --seed.
    Status s = exportOnnx(*graphs.front(), o.output, o.seed);
    if (!s.ok())
      return argError(s.message()), 1;
  }
  if (o.summary || o.emitIr || o.emitOnnx)
    return 0;
  if (o.output.empty()) {
    argError("nothing to do: give -o <model.so> to compile, or --summary, "
             "--emit=ir or --emit=onnx");
    return 1;
  }
  if (graphs.size() != 1)
    return argError("-o compiles one graph; the input has " +
                    std::to_string(graphs.size())), 1;
  CompileOptions co;
  co.output = o.output;
  co.header = o.header;
  co.target = o.target;
  co.cudaCapability = o.cudaCapability;
  co.externalWeights = o.externalWeights;
  co.seed = o.seed;
  co.fuse = o.fuse;
  co.schedule = o.schedule;
  co.convLayout = o.convLayout;
  co.name = o.name.empty() ? defaultModelName(o.output) : o.name;
  std::vector<Graph *> fns;
  for (auto &f : functions.empty() ? graphs : functions)
    fns.push_back(f.get());
  if (o.train)
    co.optimizer = o.trainOpts.optimizer;
  Status s = compileModel(fns, co);
  if (!s.ok())
    return argError(s.message()), 1;
  return 0;
}

} // namespace cnnc
