//===- tools/driver/ModelLoader.cpp - dlopen a compiled model --------------===//
#include "tools/driver/ModelLoader.h"

#include "ir/Type.h"

#include <dlfcn.h>
#include <filesystem>

namespace cnnc {

LoadedModel::~LoadedModel() {
  if (handle_)
    dlclose(handle_);
}

Expected<LoadedModel> LoadedModel::load(const std::string &path,
                                        const std::string &name) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return Status::error("cannot open '" + path + "': no such file");
  // dlopen searches the library path for names without a slash.
  std::string abs = std::filesystem::absolute(path, ec).string();
  void *h = dlopen(abs.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return Status::error("cannot load '" + path + "': " + dlerror());
  LoadedModel m;
  m.handle_ = h;
  std::string sym = name.empty() ? "cnnc_model_api" : name + "_api";
  auto fn = reinterpret_cast<cnnc_model_api_fn>(dlsym(h, sym.c_str()));
  if (!fn)
    return Status::error("'" + path + "' is not a cnnc model (no symbol '" +
                         sym + "')");
  m.api_ = fn();
  if (!m.api_ || m.api_->abi_version != CNNC_ABI_VERSION)
    return Status::error("'" + path + "' was built for cnnc ABI version " +
                         std::to_string(m.api_ ? m.api_->abi_version : 0) +
                         ", this tool speaks version " +
                         std::to_string(CNNC_ABI_VERSION) + " (recompile it)");
  return m;
}

std::string describeTensor(const cnnc_tensor_desc &d) {
  std::vector<int64_t> dims(d.dims, d.dims + d.rank);
  return TensorType(DType(d.dtype), dims).str();
}

} // namespace cnnc
