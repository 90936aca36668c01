//===- ir/ParamInit.cpp - parameter initialisers ---------------------------===//
#include "ir/ParamInit.h"

#include <cmath>
#include <random>

namespace cnnc {

namespace {
struct InitKind {
  const char *name;
  std::vector<const char *> required, optional;
};
} // namespace

static const std::vector<InitKind> &initKinds() {
  static const std::vector<InitKind> kinds = {
      {"zeros", {}, {}},          {"fill", {"value"}, {}},
      {"gaussian", {"std"}, {"mean"}}, {"uniform", {"low", "high"}, {}},
      {"he", {}, {}},             {"xavier", {}, {}},
      {"dense", {}, {}},
  };
  return kinds;
}

static double arg(const ParamInit &p, const char *name, double dflt) {
  auto it = p.args.find(name);
  if (it == p.args.end())
    return dflt;
  Attribute a = it->second;
  a.coerceTo(AttrKind::Float);
  return a.getFloat();
}

Status validateParamInit(const ParamInit &init, const TensorType &type) {
  const InitKind *kind = nullptr;
  for (const InitKind &k : initKinds())
    if (init.kind == k.name)
      kind = &k;
  if (!kind)
    return Status::error("unknown initializer '" + init.kind +
                         "' (expected zeros, fill, gaussian, uniform, he, "
                         "xavier or dense)");
  for (const auto &[name, value] : init.args) {
    bool known = false;
    for (const char *r : kind->required)
      known |= name == r;
    for (const char *o : kind->optional)
      known |= name == o;
    if (!known)
      return Status::error("initializer '" + init.kind +
                           "' has no argument '" + name + "'");
    Attribute a = value;
    if (!a.coerceTo(AttrKind::Float))
      return Status::error("initializer argument '" + name +
                           "' must be a number");
  }
  for (const char *r : kind->required)
    if (!init.args.count(r))
      return Status::error("initializer '" + init.kind +
                           "' needs argument '" + r + "'");
  if (init.kind == "gaussian" && arg(init, "std", 0) < 0)
    return Status::error("gaussian std must not be negative");
  // std::uniform_real_distribution needs low <= high.
  if (init.kind == "uniform" && arg(init, "low", 0) > arg(init, "high", 1))
    return Status::error("uniform low " + formatDouble(arg(init, "low", 0)) +
                         " is greater than high " +
                         formatDouble(arg(init, "high", 1)));
  if (init.kind == "dense") {
    if (!init.data)
      return Status::error("dense initializer without data");
    if (init.data->type() != type)
      return Status::error("dense data of type " + init.data->type().str() +
                           " for a parameter of type " + type.str());
  }
  if ((init.kind == "he" || init.kind == "xavier") && type.rank() < 2)
    return Status::error("initializer '" + init.kind +
                         "' needs a weight of rank 2 or more, got " +
                         type.str());
  if (!type.isStatic())
    return Status::error("parameter type " + type.str() + " is not static");
  return Status::success();
}

Tensor materializeParam(const ParamInit &init, const TensorType &type,
                        uint64_t seed) {
  if (init.kind == "dense")
    return *init.data;
  Tensor t(type);
  int64_t n = t.numElements();
  int64_t receptive = 1;
  for (int64_t i = 2; i < type.rank(); ++i)
    receptive *= type.dim(i);
  int64_t fanIn = type.rank() >= 2 ? type.dim(1) * receptive : 1;
  int64_t fanOut = type.rank() >= 2 ? type.dim(0) * receptive : 1;
  std::mt19937_64 rng(seed);
  if (init.kind == "fill") {
    for (int64_t i = 0; i < n; ++i)
      t.setDouble(i, arg(init, "value", 0));
  } else if (init.kind == "gaussian" || init.kind == "he") {
    double stddev = init.kind == "he" ? std::sqrt(2.0 / double(fanIn))
                                      : arg(init, "std", 1);
    std::normal_distribution<double> dist(arg(init, "mean", 0), stddev);
    for (int64_t i = 0; i < n; ++i)
      t.setDouble(i, dist(rng));
  } else if (init.kind == "uniform" || init.kind == "xavier") {
    double limit = std::sqrt(6.0 / double(fanIn + fanOut));
    double lo = init.kind == "xavier" ? -limit : arg(init, "low", 0);
    double hi = init.kind == "xavier" ? limit : arg(init, "high", 1);
    std::uniform_real_distribution<double> dist(lo, hi);
    for (int64_t i = 0; i < n; ++i)
      t.setDouble(i, dist(rng));
  }
  return t;
}

} // namespace cnnc
