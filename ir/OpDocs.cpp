//===- ir/OpDocs.cpp - docs/ops.md, generated from the op registry ---------===//
#include "ir/OpDef.h"

namespace cnnc {

std::string opDocsMarkdown() {
  const OpRegistry &r = OpRegistry::get();
  std::string s =
      "# cnnc ops\n\n"
      "Generated from the op registry (`ir/ops/*.cpp`) by `cnnc-opt "
      "--print-op-docs`;\ndo not edit. A test checks that this file is up "
      "to date.\n\n"
      "| op | ONNX (since opset) | operands | attributes (default) | "
      "summary |\n|---|---|---|---|---|\n";
  for (const OpDef &d : r.ops()) {
    std::string onnx, operands, attrs;
    for (const auto &[name, opset] : d.onnxNames())
      onnx += (onnx.empty() ? "" : ", ") + name + " (" +
              std::to_string(opset) + ")";
    for (const OperandSpec &o : d.operandSpecs())
      operands += (operands.empty() ? "" : ", ") + o.name +
                  (o.optional ? "?" : o.variadic ? "..." : "");
    for (const AttrSpec &a : d.attrSpecs())
      attrs += (attrs.empty() ? "" : ", ") + a.name + " (" +
               (a.defaultValue ? a.defaultValue->str() : "required") + ")";
    std::string summary = d.summaryText();
    for (char &c : summary)
      if (c == '|')
        c = '/';
    s += "| `" + d.name() + "` | " + (onnx.empty() ? "-" : onnx) + " | " +
         operands + " | " + (attrs.empty() ? "-" : attrs) + " | " + summary +
         " |\n";
  }
  s += "\n" + std::to_string(r.ops().size()) + " ops.\n";
  return s;
}

} // namespace cnnc
