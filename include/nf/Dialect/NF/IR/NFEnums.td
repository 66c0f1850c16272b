//===- NFEnums.td - Enumerations of the nf dialect ---------*- tablegen -*-===//

#ifndef NF_DIALECT_NF_IR_NFENUMS_TD
#define NF_DIALECT_NF_IR_NFENUMS_TD

include "mlir/IR/EnumAttr.td"
include "nf/Dialect/NF/IR/NFDialect.td"

/// SurVAE's four classes of transforms (Nielsen et al. 2020, Table 1).
def NF_LayerKind : I32Enum<"LayerKind", "SurVAE class of a flow layer", [
  I32EnumAttrCase<"Bijection", 0, "bijection">,
  I32EnumAttrCase<"InferenceSurjection", 1, "inference_surjection">,
  I32EnumAttrCase<"GenerativeSurjection", 2, "generative_surjection">,
  I32EnumAttrCase<"Stochastic", 3, "stochastic">
]> {
  let cppNamespace = "::mlir::nf";
  let description = [{
    - `bijection`: deterministic both ways, V = log|det J|.
    - `inference_surjection`: deterministic many-to-one x -> z, stochastic
      right inverse; V = log p(x|z), exact.
    - `generative_surjection`: stochastic x -> z, deterministic z -> x;
      V = -log q(z|x), a lower bound.
    - `stochastic`: stochastic both ways; V = log p(x|z) - log q(z|x), a
      lower bound.
  }];
}

/// Whether sum V gives log p(x) exactly or only a lower bound on it.
def NF_Exactness : I32Enum<"Exactness", "exactness of a layer's V", [
  I32EnumAttrCase<"Exact", 0, "exact">,
  I32EnumAttrCase<"Bound", 1, "bound">,
  I32EnumAttrCase<"Estimate", 2, "estimate">
]> {
  let cppNamespace = "::mlir::nf";
  let description = [{
    - `exact`: V is the exact log-likelihood contribution.
    - `bound`: V is a stochastic lower bound (surjections, stochastic layers).
    - `estimate`: V estimates log|det J| (e.g. a truncated, randomized power
      series); neither exact nor a bound.
  }];
}

/// How an affine coupling layer turns the conditioner's raw scale output h
/// into a positive scale.
def NF_ScaleFn : I32Enum<"ScaleFn", "positive scale of an affine coupling", [
  I32EnumAttrCase<"Exp", 0, "exp">,
  I32EnumAttrCase<"Sigmoid", 1, "sigmoid">,
  I32EnumAttrCase<"Softplus", 2, "softplus">
]> {
  let cppNamespace = "::mlir::nf";
  let description = [{
    - `exp`: scale = exp(h) (RealNVP).
    - `sigmoid`: scale = sigmoid(h + 2) + 1e-3 (nflows' default).
    - `softplus`: scale = softplus(h) + 1e-3.
  }];
}


/// Hidden-layer activation of `nf.mlp`.
def NF_Activation : I32Enum<"Activation", "activation of an MLP", [
  I32EnumAttrCase<"ReLU", 0, "relu">,
  I32EnumAttrCase<"LeakyReLU", 1, "leaky_relu">,
  I32EnumAttrCase<"ELU", 2, "elu">,
  I32EnumAttrCase<"Tanh", 3, "tanh">,
  I32EnumAttrCase<"Sigmoid", 4, "sigmoid">
]> {
  let cppNamespace = "::mlir::nf";
  let description = [{
    `leaky_relu` uses slope 0.01 and `elu` alpha 1, PyTorch's defaults.
  }];
}


/// Declared monotonicity of a user-defined elementwise bijection.
def NF_Monotonicity : I32Enum<"Monotonicity", "direction of a monotone map", [
  I32EnumAttrCase<"Increasing", 0, "increasing">,
  I32EnumAttrCase<"Decreasing", 1, "decreasing">
]> {
  let cppNamespace = "::mlir::nf";
}

#endif // NF_DIALECT_NF_IR_NFENUMS_TD
