//===- Passes.td - Passes of the nf dialect ----------------*- tablegen -*-===//

#ifndef NF_DIALECT_NF_TRANSFORMS_PASSES_TD
#define NF_DIALECT_NF_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NFModelSummaryPass : Pass<"nf-model-summary", "ModuleOp"> {
  let summary = "Print each model's layers, their kinds and parameter counts";
  let description = [{
    Prints, for every `nf.model`, its data and latent types, base
    distribution, whether its density is exact, and one line per layer:
    op name, SurVAE class, exactness, whether it is volume preserving, and
    the number of parameter values it reads (its tensor operands other than
    data and context, plus those its conditioner function holds as
    constants). The IR is left unchanged.

    ```
    nf-opt --nf-model-summary model.mlir -o /dev/null
    ```
  }];
  let options = [
    Option<"outputFile", "output", "std::string", "\"-\"",
           "Where to write the summary ('-' is stderr)">
  ];
}

#endif // NF_DIALECT_NF_TRANSFORMS_PASSES_TD
