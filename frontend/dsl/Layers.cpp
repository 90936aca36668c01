//===- frontend/dsl/Layers.cpp - every layer kind and how it lowers -------===//
//
// One table entry per layer kind: its options and its builder. A builder
// reads type-checked options and adds parameters and nodes through the
// LayerBuilder, which infers each node's result type as it goes.
//
//===----------------------------------------------------------------------===//
#include "frontend/dsl/Layers.h"

#include "ir/Type.h"

namespace cnnc::dsl {

//===----------------------------------------------------------------------===//
// Shared pieces
//===----------------------------------------------------------------------===//

/// Error unless \p v is an image batch N x C x H x W.
static bool expectImage(LayerBuilder &b, size_t i = 0) {
  const TensorType &t = b.inputs()[i]->type();
  if (t.rank() == 4)
    return true;
  return b.error("expects an image input C x H x W, but '" + b.inputName(i) +
                 "' is " + formatShapeX(t.dims()));
}

/// Per axis (height, width): padding at the begin and at the end.
struct Padding {
  std::array<int64_t, 2> begin{0, 0}, end{0, 0};
};

/// The padding from pad= for a window of \p extent (dilated kernel) and
/// \p stride over the spatial sizes \p in. `pad=same` keeps ceil(in/stride)
/// outputs, the extra padding at the end (ONNX SAME_UPPER).
static Padding resolvePadding(const LayerBuilder &b,
                              const std::array<int64_t, 2> &in,
                              const std::array<int64_t, 2> &extent,
                              const std::array<int64_t, 2> &stride) {
  Padding p;
  if (b.getIdent("pad", "") != "same") {
    p.begin = p.end = b.getPair("pad", {0, 0});
    return p;
  }
  for (size_t a = 0; a < 2; ++a) {
    int64_t out = (in[a] + stride[a] - 1) / stride[a];
    int64_t total = std::max<int64_t>((out - 1) * stride[a] + extent[a] - in[a],
                                      0);
    p.begin[a] = total / 2;
    p.end[a] = total - total / 2;
  }
  return p;
}

/// Checks the window over both axes (height first) and fills the
/// kernel_shape-independent attributes: strides, pads and dilations,
/// leaving out the defaults.
static bool windowAttrs(LayerBuilder &b, const std::array<int64_t, 2> &kernel,
                        const std::array<int64_t, 2> &stride,
                        const std::array<int64_t, 2> &dilation,
                        AttrMap &attrs) {
  const TensorType &t = b.input()->type();
  std::array<int64_t, 2> in{t.dim(2), t.dim(3)}, extent;
  for (size_t a = 0; a < 2; ++a)
    extent[a] = dilation[a] * (kernel[a] - 1) + 1;
  Padding pad = resolvePadding(b, in, extent, stride);
  static const char *const kAxis[2] = {"height", "width"};
  for (size_t a = 0; a < 2; ++a)
    if (!b.checkWindow(kAxis[a], in[a], extent[a], stride[a], pad.begin[a],
                       pad.end[a]))
      return false;
  if (stride != std::array<int64_t, 2>{1, 1})
    attrs["strides"] = std::vector<int64_t>{stride[0], stride[1]};
  if (dilation != std::array<int64_t, 2>{1, 1})
    attrs["dilations"] = std::vector<int64_t>{dilation[0], dilation[1]};
  if (pad.begin != std::array<int64_t, 2>{0, 0} ||
      pad.end != std::array<int64_t, 2>{0, 0})
    attrs["pads"] =
        std::vector<int64_t>{pad.begin[0], pad.begin[1], pad.end[0], pad.end[1]};
  return true;
}

/// Finishes a layer whose node result is \p y.
static bool done(LayerBuilder &b, Value *y) {
  if (!y)
    return false;
  b.setOutput(y);
  return true;
}

//===----------------------------------------------------------------------===//
// Builders
//===----------------------------------------------------------------------===//

static bool buildInput(LayerBuilder &b) {
  std::vector<int64_t> sizes;
  parseSizes(b.decl().positional.at(0), sizes);
  std::vector<int64_t> dims{b.batch()};
  dims.insert(dims.end(), sizes.begin(), sizes.end());
  Value *v = b.graph().addInput(b.name(), TensorType(DType::F32, dims));
  v->setLoc(b.loc());
  b.setOutput(v);
  return true;
}

static bool buildConv(LayerBuilder &b) {
  if (!b.expectOneInput() || !expectImage(b))
    return false;
  int64_t channels = b.input()->type().dim(1);
  int64_t filters = b.getInt("filters", 1), groups = b.getInt("groups", 1);
  if (channels % groups != 0)
    return b.error("the input's " + std::to_string(channels) +
                   " channels are not divisible by groups = " +
                   std::to_string(groups));
  if (filters % groups != 0)
    return b.error(std::to_string(filters) +
                   " filters are not divisible by groups = " +
                   std::to_string(groups));
  std::array<int64_t, 2> kernel = b.getPair("size", {1, 1});
  AttrMap attrs;
  if (!windowAttrs(b, kernel, b.getPair("stride", {1, 1}),
                   b.getPair("dilation", {1, 1}), attrs))
    return false;
  if (groups != 1)
    attrs["group"] = groups;
  ParamInit wInit, bInit;
  if (!b.weightInit(wInit))
    return false;
  std::vector<Value *> operands{
      b.input(), b.addParam("w", {filters, channels / groups, kernel[0],
                                  kernel[1]},
                            wInit)};
  if (b.biasInit(bInit))
    operands.push_back(b.addParam("b", {filters}, bInit));
  return done(b, b.addNode("conv", operands, attrs));
}

static bool buildPool(LayerBuilder &b, const char *op) {
  if (!b.expectOneInput() || !expectImage(b))
    return false;
  std::array<int64_t, 2> kernel = b.getPair("size", {1, 1});
  AttrMap attrs;
  if (!windowAttrs(b, kernel, b.getPair("stride", kernel), {1, 1}, attrs))
    return false;
  attrs["kernel_shape"] = std::vector<int64_t>{kernel[0], kernel[1]};
  return done(b, b.addNode(op, {b.input()}, attrs));
}

static bool buildMaxPool(LayerBuilder &b) { return buildPool(b, "max_pool"); }
static bool buildAvgPool(LayerBuilder &b) { return buildPool(b, "avg_pool"); }

static bool buildGlobalAvgPool(LayerBuilder &b) {
  if (!b.expectOneInput() || !expectImage(b))
    return false;
  return done(b, b.addNode("global_avg_pool", {b.input()}));
}

/// y = x w^T + b with w [units, in]; an input of rank > 2 is flattened to
/// [N, C*H*W] first.
static bool buildFc(LayerBuilder &b) {
  if (!b.expectOneInput())
    return false;
  Value *x = b.input();
  if (x->type().rank() > 2) {
    x = b.addNode("flatten", {x}, {}, b.name() + ".flatten");
    if (!x)
      return false;
  }
  int64_t units = b.getInt("units", 1), in = x->type().dim(1);
  ParamInit wInit, bInit;
  if (!b.weightInit(wInit))
    return false;
  std::vector<Value *> operands{x, b.addParam("w", {units, in}, wInit)};
  if (b.biasInit(bInit))
    operands.push_back(b.addParam("b", {units}, bInit));
  return done(b, b.addNode("gemm", operands, {{"trans_b", int64_t(1)}}));
}

/// An op of one input whose attributes come straight from options:
/// \p keys maps option names to attribute names.
static bool buildUnary(
    LayerBuilder &b, const char *op,
    std::initializer_list<std::pair<const char *, const char *>> keys = {}) {
  if (!b.expectOneInput())
    return false;
  AttrMap attrs;
  for (const auto &[key, attr] : keys)
    if (b.has(key))
      attrs[attr] = b.getFloat(key, 0);
  return done(b, b.addNode(op, {b.input()}, attrs));
}

static bool buildRelu(LayerBuilder &b) { return buildUnary(b, "relu"); }
static bool buildSigmoid(LayerBuilder &b) { return buildUnary(b, "sigmoid"); }
static bool buildTanh(LayerBuilder &b) { return buildUnary(b, "tanh"); }
static bool buildLeakyRelu(LayerBuilder &b) {
  return buildUnary(b, "leaky_relu", {{"alpha", "alpha"}});
}
static bool buildDropout(LayerBuilder &b) {
  return buildUnary(b, "dropout", {{"p", "ratio"}});
}

static bool buildLrn(LayerBuilder &b) {
  if (!b.expectOneInput())
    return false;
  AttrMap attrs{{"size", b.getInt("size", 1)}};
  for (const auto &[key, attr] : {std::pair{"alpha", "alpha"},
                                  std::pair{"beta", "beta"},
                                  std::pair{"k", "bias"}})
    if (b.has(key))
      attrs[attr] = b.getFloat(key, 0);
  return done(b, b.addNode("lrn", {b.input()}, attrs));
}

static bool buildSoftmax(LayerBuilder &b) {
  if (!b.expectOneInput())
    return false;
  // Over the classes (channels), whatever the rank.
  return done(b, b.addNode("softmax", {b.input()}, {{"axis", int64_t(1)}}));
}

static bool buildFlatten(LayerBuilder &b) {
  if (!b.expectOneInput())
    return false;
  AttrMap attrs;
  if (b.has("axis"))
    attrs["axis"] = b.getInt("axis", 1);
  return done(b, b.addNode("flatten", {b.input()}, attrs));
}

/// Batch normalisation over the channels (axis 1). The running mean and
/// variance are state, not trained.
static bool buildBatchNorm(LayerBuilder &b) {
  if (!b.expectOneInput())
    return false;
  const TensorType &t = b.input()->type();
  if (t.rank() < 2)
    return b.error("expects an input with channels, but '" + b.inputName(0) +
                   "' is " + formatShapeX(t.dims()));
  int64_t channels = t.dim(1);
  AttrMap attrs;
  if (b.has("eps"))
    attrs["epsilon"] = b.getFloat("eps", 0);
  if (b.has("momentum"))
    attrs["momentum"] = b.getFloat("momentum", 0);
  std::vector<Value *> operands{
      b.input(), b.addParam("scale", {channels}, ParamInit::fill(1.0)),
      b.addParam("bias", {channels}, ParamInit::zeros()),
      b.addParam("mean", {channels}, ParamInit::zeros(), /*trainable=*/false),
      b.addParam("var", {channels}, ParamInit::fill(1.0), /*trainable=*/false)};
  return done(b, b.addNode("batch_norm", operands, attrs));
}

/// "'a' is 1x8x4x4" for shape messages.
static std::string describeInput(const LayerBuilder &b, size_t i,
                                 const Value *v) {
  return "'" + b.inputName(i) + "' is " + formatShapeX(v->type().dims());
}

/// Residual add of two layers: from=[a, b], or from=a with the previous
/// layer. The shapes must be equal (no broadcasting in the network language).
static bool buildAdd(LayerBuilder &b) {
  std::vector<Value *> in = b.inputs();
  std::vector<std::string> names;
  for (size_t i = 0; i < in.size(); ++i)
    names.push_back(b.inputName(i));
  if (in.size() == 1) {
    in.insert(in.begin(), b.net().last);
    names.insert(names.begin(), b.net().lastName);
  }
  if (in.size() != 2)
    return b.errorAt(b.valueLoc("from"),
                     "add: from= names " + std::to_string(in.size()) +
                         " layers; add takes two (or one, added to the "
                         "previous layer)");
  if (in[0]->type() != in[1]->type())
    return b.error("shapes differ: '" + names[0] + "' is " +
                   formatShapeX(in[0]->type().dims()) + " but '" + names[1] +
                   "' is " + formatShapeX(in[1]->type().dims()));
  return done(b, b.addNode("add", in));
}

static bool buildConcat(LayerBuilder &b) {
  const std::vector<Value *> &in = b.inputs();
  if (in.size() < 2)
    return b.errorAt(b.valueLoc("from"),
                     "concat: from= needs at least two layers");
  int64_t rank = in[0]->type().rank(), axis = b.getInt("axis", 1);
  if (axis < -rank || axis >= rank)
    return b.errorAt(b.valueLoc("axis"),
                     "concat: axis " + std::to_string(axis) +
                         " is out of range for rank " + std::to_string(rank) +
                         " (" + describeInput(b, 0, in[0]) + ")");
  if (axis < 0)
    axis += rank;
  for (size_t i = 1; i < in.size(); ++i) {
    const TensorType &t = in[i]->type();
    bool same = t.rank() == rank;
    for (int64_t d = 0; same && d < rank; ++d)
      same = d == axis || t.dim(d) == in[0]->type().dim(d);
    if (!same)
      return b.error("shapes differ outside axis " + std::to_string(axis) +
                     ": " + describeInput(b, 0, in[0]) + " but " +
                     describeInput(b, i, in[i]));
  }
  return done(b, b.addNode("concat", in, {{"axis", axis}}));
}

/// The loss adds no node: it is recorded for training (--train).
static bool buildLoss(LayerBuilder &b) {
  b.graph().attrs()["loss"] = b.decl().positional.at(0).text;
  return true;
}

//===----------------------------------------------------------------------===//
// The table
//===----------------------------------------------------------------------===//

const std::vector<LayerSpec> &layerTable() {
  using V = ValueType;
  const KeySpec init{"init", V::Init}, stddev{"std", V::Float},
      bias{"bias", V::Bias};
  static const std::vector<LayerSpec> table = {
      {"input", Positional::Input, {}, buildInput,
       "the network input: input NAME CxHxW (or a size like 784)"},
      {"conv", Positional::Name,
       {{"filters", V::PositiveInt, true}, {"size", V::Window, true},
        {"stride", V::Window}, {"pad", V::Pad}, {"dilation", V::Window},
        {"groups", V::PositiveInt}, init, stddev, bias},
       buildConv, "2-D convolution; init=he|xavier|gaussian std=S, bias=B|none"},
      {"maxpool", Positional::Name,
       {{"size", V::Window, true}, {"stride", V::Window}, {"pad", V::Pad}},
       buildMaxPool, "max pooling; stride defaults to size"},
      {"avgpool", Positional::Name,
       {{"size", V::Window, true}, {"stride", V::Window}, {"pad", V::Pad}},
       buildAvgPool, "average pooling; stride defaults to size"},
      {"globalavgpool", Positional::Name, {}, buildGlobalAvgPool,
       "average over each channel's H x W"},
      {"fc", Positional::Name,
       {{"units", V::PositiveInt, true}, init, stddev, bias}, buildFc,
       "fully connected; flattens an image input"},
      {"relu", Positional::Name, {}, buildRelu, "max(x, 0)"},
      {"leakyrelu", Positional::Name, {{"alpha", V::Float}}, buildLeakyRelu,
       "x < 0 ? alpha * x : x (alpha defaults to 0.01)"},
      {"sigmoid", Positional::Name, {}, buildSigmoid, "1 / (1 + exp(-x))"},
      {"tanh", Positional::Name, {}, buildTanh, "hyperbolic tangent"},
      {"dropout", Positional::Name, {{"p", V::Probability}}, buildDropout,
       "drops each value with probability p (default 0.5) while training"},
      {"batchnorm", Positional::Name,
       {{"eps", V::Float}, {"momentum", V::Float}}, buildBatchNorm,
       "batch normalisation over the channels"},
      {"lrn", Positional::Name,
       {{"size", V::PositiveInt, true}, {"alpha", V::Float},
        {"beta", V::Float}, {"k", V::Float}},
       buildLrn, "local response normalisation across channels (AlexNet)"},
      {"softmax", Positional::Name, {}, buildSoftmax,
       "softmax over the channels"},
      {"add", Positional::Name, {{"from", V::Layers, true}}, buildAdd,
       "residual add: from=[a, b], or from=a plus the previous layer"},
      {"concat", Positional::Name,
       {{"from", V::Layers, true}, {"axis", V::Int}}, buildConcat,
       "joins layers along axis (default 1, the channels)"},
      {"flatten", Positional::Name, {{"axis", V::Int}}, buildFlatten,
       "reshapes to 2-D, [N, C*H*W] by default"},
      {"loss", Positional::Loss, {}, buildLoss,
       "the training loss: loss softmax_cross_entropy | hinge"},
  };
  return table;
}

const LayerSpec *findLayerSpec(const std::string &kind) {
  for (const LayerSpec &spec : layerTable())
    if (kind == spec.kind)
      return &spec;
  return nullptr;
}

} // namespace cnnc::dsl
