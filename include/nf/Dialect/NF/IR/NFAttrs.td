//===- NFAttrs.td - Attributes of the nf dialect -----------*- tablegen -*-===//

#ifndef NF_DIALECT_NF_IR_NFATTRS_TD
#define NF_DIALECT_NF_IR_NFATTRS_TD

include "nf/Dialect/NF/IR/NFDialect.td"
include "nf/Dialect/NF/IR/NFEnums.td"
include "nf/Dialect/NF/IR/NFInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

def NF_StandardNormalAttr : NF_Attr<"StandardNormal", "std_normal",
    [DeclareAttrInterfaceMethods<NF_BaseDistributionAttrInterface>]> {
  let summary = "Standard normal base distribution N(0, I)";
  let description = [{
    log p_Z(z) = -1/2 sum_i z_i^2 - D/2 log(2 pi), D the event size.

    ```mlir
    nf.model @m(%x: tensor<?x2xf32>) base #nf.std_normal { ... }
    ```
  }];
}

def NF_DiagNormalAttr : NF_Attr<"DiagNormal", "diag_normal",
    [DeclareAttrInterfaceMethods<NF_BaseDistributionAttrInterface>]> {
  let summary = "Diagonal normal base distribution N(mean, diag(exp(log_std))^2)";
  let description = [{
    `mean` and `log_std` have the event shape of the latent and its element
    type.

    ```mlir
    #nf.diag_normal<mean = dense<[0.0, 1.0]> : tensor<2xf32>,
                    log_std = dense<[0.0, -0.5]> : tensor<2xf32>>
    ```
  }];
  let parameters = (ins "::mlir::DenseFPElementsAttr":$mean,
                        "::mlir::DenseFPElementsAttr":$log_std);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def NF_UniformAttr : NF_Attr<"Uniform", "uniform",
    [DeclareAttrInterfaceMethods<NF_BaseDistributionAttrInterface>]> {
  let summary = "Uniform base distribution on the box [low, high)";
  let description = [{
    log p_Z(z) = -sum_i log(high_i - low_i) inside the box, -inf outside.
    `low` and `high` have the event shape of the latent and its element
    type, with low < high elementwise.

    ```mlir
    #nf.uniform<low = dense<0.0> : tensor<2xf64>, high = dense<1.0> : tensor<2xf64>>
    ```
  }];
  let parameters = (ins "::mlir::DenseFPElementsAttr":$low,
                        "::mlir::DenseFPElementsAttr":$high);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Enum attributes
//===----------------------------------------------------------------------===//

def NF_ScaleFnAttr : EnumAttr<NF_Dialect, NF_ScaleFn, "scale_fn"> {
  let assemblyFormat = "$value";
}

def NF_ActivationAttr : EnumAttr<NF_Dialect, NF_Activation, "activation"> {
  let assemblyFormat = "$value";
}

def NF_MonotonicityAttr : EnumAttr<NF_Dialect, NF_Monotonicity, "monotonicity"> {
  let assemblyFormat = "$value";
}

#endif // NF_DIALECT_NF_IR_NFATTRS_TD
