//===- NFDialect.td - The nf dialect and its base classes --*- tablegen -*-===//
//
// The `nf` dialect models normalizing flows: bijective, surjective and
// stochastic layers over batch-first tensors, grouped into models.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_NFDIALECT_TD
#define NF_DIALECT_NF_IR_NFDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def NF_Dialect : Dialect {
  let name = "nf";
  let cppNamespace = "::mlir::nf";
  let summary = "Normalizing flows: bijective, surjective and stochastic layers";
  let description = [{
    The `nf` dialect describes a normalizing-flow model as an ordered chain of
    layers inside an `nf.model`. Every layer op denotes the **normalizing map**
    x -> z (data to latent) and contributes a per-sample log-likelihood term V
    (log|det J| for bijections), so that

    ```
    log p(x) = log p_Z(z) + sum_l V_l
    ```

    Layers report their SurVAE class (bijection, inference surjection,
    generative surjection, stochastic) and exactness through
    `FlowLayerOpInterface`; the same interface builds each layer's normalizing
    map, its inverse (the generative map z -> x) and V as upstream
    linalg/tensor/arith/math IR, so passes derive inverses and
    log-determinants instead of asking users to write them.

    Tensors are batch-first: `tensor<?xDxT>` (or `tensor<?xCxHxWxT>`), with T
    = f32 or f64 and static event dimensions.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

/// Base class of every nf op.
class NF_Op<string mnemonic, list<Trait> traits = []>
    : Op<NF_Dialect, mnemonic, traits>;

/// Base class of every nf attribute.
class NF_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<NF_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

#endif // NF_DIALECT_NF_IR_NFDIALECT_TD
