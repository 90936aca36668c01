//===- codegen/Glue.cpp - the LLVM glue module -----------------------------===//
//
// The tables mirror runtime/cnnc_rt_model.h field by field; LLVM's struct
// layout follows the C ABI of the target, so the runtime reads them as its
// own structs. Keep the two in sync (the runtime checks abi_version).
//
//===----------------------------------------------------------------------===//
#include "codegen/Glue.h"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Linker/Linker.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/Transforms/IPO.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <set>

namespace cnnc {

static constexpr uint32_t kAbiVersion = 4; // CNNC_ABI_VERSION
static constexpr int kMaxRank = 8;         // CNNC_MAX_RANK

std::vector<std::string> exportedSymbols(const ModelPlan &plan,
                                         const GlueOptions &o) {
  std::vector<std::string> s = {
      o.name + "_api",         o.name + "_create",
      o.name + "_create_with_arena", o.name + "_arena_size",
      o.name + "_destroy",     o.name + "_infer",
      o.name + "_run",         o.name + "_set_num_threads",
      o.name + "_last_error",
  };
  if (o.exportGenericApi)
    s.push_back("cnnc_model_api");
  return s;
}

namespace {

class GlueBuilder {
public:
  GlueBuilder(llvm::LLVMContext &ctx, const ModelPlan &plan,
              const GlueOptions &opts)
      : ctx_(ctx), plan_(plan), opts_(opts),
        m_(std::make_unique<llvm::Module>(opts.name + "_glue", ctx)),
        b_(ctx) {
    i8_ = llvm::Type::getInt8Ty(ctx);
    i32_ = llvm::Type::getInt32Ty(ctx);
    i64_ = llvm::Type::getInt64Ty(ctx);
    ptr_ = llvm::Type::getInt8PtrTy(ctx);
  }

  std::unique_ptr<llvm::Module> build();

private:
  llvm::Constant *cstring(const std::string &s) {
    auto it = strings_.find(s);
    if (it != strings_.end())
      return it->second;
    llvm::Constant *c = b_.CreateGlobalStringPtr(s, ".str", 0, m_.get());
    strings_[s] = c;
    return c;
  }
  llvm::Constant *i32(int64_t v) { return llvm::ConstantInt::get(i32_, v); }
  llvm::Constant *i64(int64_t v) { return llvm::ConstantInt::get(i64_, v); }
  llvm::Constant *i32Array(const std::vector<int32_t> &v, const char *name);
  llvm::Constant *tensorTable();
  llvm::Constant *stepTable();
  llvm::Constant *functionTable();
  void emitEntryPoints(llvm::GlobalVariable *model);
  llvm::Function *declare(const char *name, llvm::Type *ret,
                          std::vector<llvm::Type *> params) {
    auto *fty = llvm::FunctionType::get(ret, params, false);
    return llvm::cast<llvm::Function>(
        m_->getOrInsertFunction(name, fty).getCallee());
  }
  llvm::Function *define(const std::string &name, llvm::Type *ret,
                         std::vector<llvm::Type *> params) {
    auto *fty = llvm::FunctionType::get(ret, params, false);
    auto *f = llvm::Function::Create(fty, llvm::Function::ExternalLinkage,
                                     name, m_.get());
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", f));
    return f;
  }

  llvm::LLVMContext &ctx_;
  const ModelPlan &plan_;
  const GlueOptions &opts_;
  std::unique_ptr<llvm::Module> m_;
  llvm::IRBuilder<> b_;
  llvm::Type *i8_, *i32_, *i64_;
  llvm::PointerType *ptr_;
  llvm::StructType *tensorTy_ = nullptr, *stepTy_ = nullptr,
                   *functionTy_ = nullptr, *modelTy_ = nullptr;
  std::map<std::string, llvm::Constant *> strings_;
};

llvm::Constant *GlueBuilder::i32Array(const std::vector<int32_t> &v,
                                      const char *name) {
  if (v.empty())
    return llvm::ConstantPointerNull::get(llvm::PointerType::get(i32_, 0));
  auto *ty = llvm::ArrayType::get(i32_, v.size());
  std::vector<llvm::Constant *> elems;
  for (int32_t x : v)
    elems.push_back(i32(x));
  auto *gv = new llvm::GlobalVariable(*m_, ty, true,
                                      llvm::GlobalValue::InternalLinkage,
                                      llvm::ConstantArray::get(ty, elems), name);
  return llvm::ConstantExpr::getBitCast(gv, llvm::PointerType::get(i32_, 0));
}

llvm::Constant *GlueBuilder::tensorTable() {
  // struct cnnc_rt_tensor { const char *name; int32_t dtype, rank;
  //   int64_t dims[8]; int32_t storage, index; int64_t offset, bytes; }
  auto *dimsTy = llvm::ArrayType::get(i64_, kMaxRank);
  tensorTy_ = llvm::StructType::create(
      ctx_, {ptr_, i32_, i32_, dimsTy, i32_, i32_, i64_, i64_},
      "cnnc_rt_tensor");
  std::vector<llvm::Constant *> rows;
  for (const PlanTensor &t : plan_.tensors) {
    std::vector<llvm::Constant *> dims;
    for (int d = 0; d < kMaxRank; ++d)
      dims.push_back(i64(d < t.type.rank() ? t.type.dim(d) : 0));
    rows.push_back(llvm::ConstantStruct::get(
        tensorTy_, {cstring(t.name), i32(int(t.type.dtype())),
                    i32(t.type.rank()), llvm::ConstantArray::get(dimsTy, dims),
                    i32(int(t.storage)), i32(t.index),
                    i64(t.storage == Storage::Const && !opts_.embedWeights
                            ? t.offset - plan_.paramBytes
                            : t.offset),
                    i64(t.bytes)}));
  }
  auto *ty = llvm::ArrayType::get(tensorTy_, rows.size());
  auto *gv = new llvm::GlobalVariable(*m_, ty, true,
                                      llvm::GlobalValue::InternalLinkage,
                                      llvm::ConstantArray::get(ty, rows),
                                      "cnnc_rt_tensors");
  return llvm::ConstantExpr::getBitCast(gv, llvm::PointerType::get(tensorTy_, 0));
}

llvm::Constant *GlueBuilder::stepTable() {
  // typedef int (*cnnc_rt_kernel)(void **args);
  // struct cnnc_rt_step { const char *name; cnnc_rt_kernel fn;
  //   int32_t num_args; const int32_t *args; int64_t flops;
  //   int32_t cached; }
  auto *kernelTy = llvm::FunctionType::get(
      i32_, {llvm::PointerType::get(ptr_, 0)}, false);
  auto *kernelPtrTy = llvm::PointerType::get(kernelTy, 0);
  stepTy_ = llvm::StructType::create(
      ctx_,
      {ptr_, kernelPtrTy, i32_, llvm::PointerType::get(i32_, 0), i64_, i32_},
      "cnnc_rt_step");
  std::vector<llvm::Constant *> rows;
  for (const PlanStep &s : plan_.steps) {
    // A copy step (assign) has no kernel: the runtime copies.
    llvm::Constant *fn =
        s.kernel.empty()
            ? llvm::cast<llvm::Constant>(
                  llvm::ConstantPointerNull::get(kernelPtrTy))
            : llvm::cast<llvm::Constant>(
                  m_->getOrInsertFunction(s.kernel + "_argv", kernelTy)
                      .getCallee());
    rows.push_back(llvm::ConstantStruct::get(
        stepTy_, {cstring(s.name), fn, i32(int64_t(s.args.size())),
                  i32Array(s.args, "cnnc_rt_step_args"), i64(s.flops),
                  i32(s.cached ? 1 : 0)}));
  }
  auto *ty = llvm::ArrayType::get(stepTy_, rows.size());
  auto *gv = new llvm::GlobalVariable(*m_, ty, true,
                                      llvm::GlobalValue::InternalLinkage,
                                      llvm::ConstantArray::get(ty, rows),
                                      "cnnc_rt_steps");
  return llvm::ConstantExpr::getBitCast(gv, llvm::PointerType::get(stepTy_, 0));
}

llvm::Constant *GlueBuilder::functionTable() {
  // struct cnnc_rt_function { const char *name; int32_t num_inputs,
  //   num_outputs; const int32_t *input_tensors, *output_tensors;
  //   int32_t first_step, num_steps; }
  auto *i32p = llvm::PointerType::get(i32_, 0);
  functionTy_ = llvm::StructType::create(
      ctx_, {ptr_, i32_, i32_, i32p, i32p, i32_, i32_}, "cnnc_rt_function");
  std::vector<llvm::Constant *> rows;
  for (const PlanFunction &f : plan_.functions)
    rows.push_back(llvm::ConstantStruct::get(
        functionTy_,
        {cstring(f.name), i32(int64_t(f.inputs.size())),
         i32(int64_t(f.outputs.size())),
         i32Array(f.inputs, "cnnc_rt_fn_inputs"),
         i32Array(f.outputs, "cnnc_rt_fn_outputs"), i32(f.firstStep),
         i32(f.numSteps)}));
  auto *ty = llvm::ArrayType::get(functionTy_, rows.size());
  auto *gv = new llvm::GlobalVariable(*m_, ty, true,
                                      llvm::GlobalValue::InternalLinkage,
                                      llvm::ConstantArray::get(ty, rows),
                                      "cnnc_rt_functions");
  return llvm::ConstantExpr::getBitCast(gv,
                                        llvm::PointerType::get(functionTy_, 0));
}

std::unique_ptr<llvm::Module> GlueBuilder::build() {
  m_->setTargetTriple(opts_.triple);
  llvm::Constant *tensors = tensorTable();
  llvm::Constant *steps = stepTable();
  llvm::Constant *functions = functionTable();

  std::vector<int32_t> trainable;
  for (int32_t p : plan_.params)
    trainable.push_back(plan_.tensors[p].trainable ? 1 : 0);

  // The blob: the initial parameter block, then the constants. With
  // external weights the parameters come from the weights file, and only the
  // constants are embedded (their offsets rebased in tensorTable()).
  size_t blobBegin = opts_.embedWeights ? 0 : size_t(plan_.paramBytes);
  llvm::Constant *weights =
      llvm::ConstantPointerNull::get(llvm::PointerType::get(i8_, 0));
  if (plan_.weights.size() > blobBegin) {
    auto *data = llvm::ConstantDataArray::get(
        ctx_, llvm::ArrayRef<uint8_t>(plan_.weights.data() + blobBegin,
                                      plan_.weights.size() - blobBegin));
    auto *gv = new llvm::GlobalVariable(*m_, data->getType(), true,
                                        llvm::GlobalValue::InternalLinkage,
                                        data, "cnnc_rt_weights");
    gv->setAlignment(llvm::Align(64));
    weights = llvm::ConstantExpr::getBitCast(gv, ptr_);
  }

  // struct cnnc_rt_model, field by field (runtime/cnnc_rt_model.h).
  auto *i32p = llvm::PointerType::get(i32_, 0);
  modelTy_ = llvm::StructType::create(
      ctx_,
      {i32_, ptr_, ptr_, i32_, llvm::PointerType::get(tensorTy_, 0), i32_,
       llvm::PointerType::get(stepTy_, 0), i32_, i32_, i32_, i32p, i32p, i32p,
       i64_, i64_, ptr_, i64_, ptr_, i32p, i32_,
       llvm::PointerType::get(functionTy_, 0), ptr_, ptr_},
      "cnnc_rt_model");
  llvm::Constant *model = llvm::ConstantStruct::get(
      modelTy_,
      {i32(kAbiVersion), cstring(opts_.name), cstring(opts_.halideTarget),
       i32(int64_t(plan_.tensors.size())), tensors,
       i32(int64_t(plan_.steps.size())), steps,
       i32(int64_t(plan_.inputs.size())), i32(int64_t(plan_.outputs.size())),
       i32(int64_t(plan_.params.size())),
       i32Array(plan_.inputs, "cnnc_rt_inputs"),
       i32Array(plan_.outputs, "cnnc_rt_outputs"),
       i32Array(plan_.params, "cnnc_rt_params"), i64(plan_.arenaBytes),
       i64(plan_.paramBytes), weights,
       i64(int64_t(plan_.weights.size() - std::min(blobBegin, plan_.weights.size()))),
       opts_.embedWeights
           ? llvm::cast<llvm::Constant>(
                 llvm::ConstantPointerNull::get(ptr_))
           : cstring(opts_.weightsFile),
       i32Array(trainable, "cnnc_rt_param_trainable"),
       i32(int64_t(plan_.functions.size())), functions,
       cstring(opts_.optimizer), cstring(opts_.device)});
  auto *gv = new llvm::GlobalVariable(*m_, modelTy_, true,
                                      llvm::GlobalValue::ExternalLinkage, model,
                                      "cnnc_rt_this_model");
  emitEntryPoints(gv);
  return std::move(m_);
}

void GlueBuilder::emitEntryPoints(llvm::GlobalVariable *model) {
  const std::string &n = opts_.name;
  auto *modelPtr = llvm::ConstantExpr::getBitCast(model, ptr_);
  auto *ptrptr = llvm::PointerType::get(ptr_, 0);
  llvm::Type *sizeTy = i64_;
  llvm::Type *voidTy = llvm::Type::getVoidTy(ctx_);

  llvm::Function *getApi = declare("cnnc_rt_get_api", ptr_, {});
  llvm::Function *create =
      declare("cnnc_rt_create", i32_, {ptr_, ptrptr, ptr_, sizeTy});
  llvm::Function *destroy = declare("cnnc_rt_destroy", voidTy, {ptr_});
  llvm::Function *run =
      declare("cnnc_rt_run", i32_, {ptr_, ptr_, sizeTy, ptr_, sizeTy});
  llvm::Function *inferPtrs =
      declare("cnnc_rt_infer_ptrs", i32_, {ptr_, ptrptr});
  llvm::Function *threads =
      declare("cnnc_rt_set_num_threads", i32_, {ptr_, i32_});
  llvm::Function *lastError = declare("cnnc_rt_last_error", ptr_, {ptr_});

  auto args = [](llvm::Function *f) {
    std::vector<llvm::Value *> v;
    for (auto &a : f->args())
      v.push_back(&a);
    return v;
  };

  for (const std::string &apiName :
       {n + "_api", std::string(opts_.exportGenericApi ? "cnnc_model_api" : "")}) {
    if (apiName.empty())
      continue;
    define(apiName, ptr_, {});
    b_.CreateRet(b_.CreateCall(getApi, {}));
  }

  llvm::Function *f = define(n + "_create", i32_, {ptrptr});
  b_.CreateRet(b_.CreateCall(
      create, {modelPtr, args(f)[0], llvm::ConstantPointerNull::get(ptr_),
               llvm::ConstantInt::get(sizeTy, 0)}));

  f = define(n + "_create_with_arena", i32_, {ptrptr, ptr_, sizeTy});
  auto a = args(f);
  b_.CreateRet(b_.CreateCall(create, {modelPtr, a[0], a[1], a[2]}));

  define(n + "_arena_size", sizeTy, {});
  b_.CreateRet(llvm::ConstantInt::get(
      sizeTy, alignTo64(plan_.arenaBytes) + alignTo64(plan_.paramBytes)));

  f = define(n + "_destroy", voidTy, {ptr_});
  b_.CreateCall(destroy, args(f));
  b_.CreateRetVoid();

  f = define(n + "_run", i32_, {ptr_, ptr_, sizeTy, ptr_, sizeTy});
  b_.CreateRet(b_.CreateCall(run, args(f)));

  f = define(n + "_set_num_threads", i32_, {ptr_, i32_});
  b_.CreateRet(b_.CreateCall(threads, args(f)));

  f = define(n + "_last_error", ptr_, {ptr_});
  b_.CreateRet(b_.CreateCall(lastError, args(f)));

  // NAME_infer(ctx, in0, ..., out0, ...): collect the pointers in an array.
  size_t numPtrs = plan_.inputs.size() + plan_.outputs.size();
  std::vector<llvm::Type *> params(numPtrs + 1, ptr_);
  f = define(n + "_infer", i32_, params);
  a = args(f);
  auto *arrTy = llvm::ArrayType::get(ptr_, std::max<size_t>(numPtrs, 1));
  llvm::Value *arr = b_.CreateAlloca(arrTy);
  for (size_t i = 0; i < numPtrs; ++i)
    b_.CreateStore(a[i + 1], b_.CreateConstGEP2_32(arrTy, arr, 0, unsigned(i)));
  b_.CreateRet(b_.CreateCall(
      inferPtrs, {a[0], b_.CreateConstGEP2_32(arrTy, arr, 0, 0)}));
}

} // namespace

static void initLLVMTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
  });
}

Status emitGlueObject(const ModelPlan &plan, const GlueOptions &opts,
                      const std::string &objectPath) {
  initLLVMTargets();
  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> m = GlueBuilder(ctx, plan, opts).build();

  std::string err;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(opts.triple, err);
  if (!target)
    return Status::error("no LLVM target for '" + opts.triple + "': " + err);
  llvm::TargetOptions to;
  // The runtime's destructor (the thread pool's shutdown) in .fini_array,
  // which the dynamic loader runs at dlclose and exit; .dtors it ignores.
  to.UseInitArray = true;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      opts.triple, opts.cpu, "", to, llvm::Reloc::PIC_));
  m->setDataLayout(tm->createDataLayout());

  // Link the C runtime (bitcode built with cnnc) into the glue.
  auto buf = llvm::MemoryBuffer::getMemBuffer(
      llvm::StringRef(opts.runtimeBitcode), "cnnc_runtime", false);
  auto rt = llvm::parseBitcodeFile(buf->getMemBufferRef(), ctx);
  if (!rt)
    return Status::error("cannot read the runtime bitcode: " +
                         llvm::toString(rt.takeError()));
  (*rt)->setTargetTriple(opts.triple);
  (*rt)->setDataLayout(m->getDataLayout());
  if (llvm::Linker::linkModules(*m, std::move(*rt)))
    return Status::error("cannot link the runtime into the glue module");

  // Everything but the API and the symbols Halide's runtime or kernels
  // need from us becomes internal, so two models never clash.
  std::vector<std::string> keep = exportedSymbols(plan, opts);
  std::set<std::string> keepSet(keep.begin(), keep.end());
  for (llvm::GlobalValue &gv : m->global_values()) {
    if (gv.isDeclaration() || keepSet.count(gv.getName().str()) ||
        gv.getName().startswith("llvm."))
      continue;
    if (gv.getName().startswith("halide_")) {
      // The runtime's halide_error must beat Halide's weak default in the
      // link; in static archives it is weak too, so that two models (whose
      // definitions are identical) can be linked into one program.
      if (!opts.exportGenericApi)
        gv.setLinkage(llvm::GlobalValue::WeakAnyLinkage);
      continue;
    }
    gv.setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  if (llvm::verifyModule(*m, &llvm::errs()))
    return Status::error("the glue module is invalid (a compiler bug)");

  std::error_code ec;
  llvm::raw_fd_ostream out(objectPath, ec);
  if (ec)
    return Status::error("cannot write '" + objectPath + "': " + ec.message());
  llvm::legacy::PassManager pm;
  pm.add(llvm::createGlobalDCEPass());
  if (tm->addPassesToEmitFile(pm, out, nullptr, llvm::CGFT_ObjectFile))
    return Status::error("LLVM cannot emit objects for '" + opts.triple + "'");
  pm.run(*m);
  out.flush();
  return Status::success();
}

} // namespace cnnc
