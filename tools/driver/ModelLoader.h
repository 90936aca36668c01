//===- tools/driver/ModelLoader.h - dlopen a compiled model ----------------===//
#pragma once

#include "ir/Support.h"
#include "runtime/cnnc_runtime.h"

#include <string>

namespace cnnc {

/// A shared-library model loaded with dlopen; unloaded on destruction.
class LoadedModel {
public:
  LoadedModel() = default;
  LoadedModel(const LoadedModel &) = delete;
  LoadedModel &operator=(const LoadedModel &) = delete;
  LoadedModel(LoadedModel &&o) noexcept : handle_(o.handle_), api_(o.api_) {
    o.handle_ = nullptr;
  }
  ~LoadedModel();

  /// Loads \p path and finds its API: `cnnc_model_api`, or `<name>_api` when
  /// \p name is given. Checks the ABI version.
  static Expected<LoadedModel> load(const std::string &path,
                                    const std::string &name = "");
  const cnnc_model_api &api() const { return *api_; }

private:
  void *handle_ = nullptr;
  const cnnc_model_api *api_ = nullptr;
};

/// "f32[1,3,224,224]" for a descriptor.
std::string describeTensor(const cnnc_tensor_desc &d);

} // namespace cnnc
