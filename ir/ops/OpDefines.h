//===- ir/ops/OpDefines.h - declarations of every defineXxx() --------------===//
#pragma once

#include "ir/OpDef.h"

namespace cnnc::ops {
#define CNNC_OP(Name) OpDef define##Name();
#include "ir/ops/Ops.def"
} // namespace cnnc::ops
