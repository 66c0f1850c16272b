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

def NFDeriveEnergyGradientsPass : Pass<"nf-derive-energy-gradients", "ModuleOp"> {
  let summary = "Derive the energy gradients of Langevin blocks by reverse-mode AD";
  let description = [{
    For every `nf.langevin` without a `gradient`, adds `@<energy>_grad`, the
    gradient of its energy function with respect to the state, and sets the
    op's `gradient` to it (one function per energy, shared by the blocks
    that use it). The energy `(tensor<?xDxT>, params...) -> tensor<?xT>` is
    differentiated in reverse mode over its linalg ops (generic and named;
    each payload by the forward-mode scalar rules of arith/math), tensor
    slices, reshapes and casts, and `nf.mlp`; an op outside these gets a
    located error. A hand-written `gradient` is kept as given.

    ```
    nf-opt --nf-derive-energy-gradients model.mlir
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def NFDeriveLogDetPass : Pass<"nf-derive-logdet", "ModuleOp"> {
  let summary = "Derive each model's normalizing map x -> (z, V)";
  let description = [{
    For every `nf.model @M`, adds

    ```mlir
    func.func @M_forward(%x: tensor<?xDxT> [, %c: tensor<?xCxT>])
        -> (tensor<?xDxT>, tensor<?xT>)
    ```

    returning the latent z and the per-sample sum V of the layers'
    log-likelihood contributions (log|det J| for bijections). Each layer is
    built through `FlowLayerOpInterface::buildForward`; parameter
    computations of the model are cloned into the function. Volume-preserving
    layers contribute nothing (their V folds to 0), and sample-independent
    terms (e.g. sum log|scale| of an elementwise affine) are summed once per
    call and added to the per-sample sum at the end.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def NFDeriveInversePass : Pass<"nf-derive-inverse", "ModuleOp"> {
  let summary = "Derive each model's generative map z -> x";
  let description = [{
    For every `nf.model @M`, adds

    ```mlir
    func.func @M_inverse(%z: tensor<?xDxT> [, %c: tensor<?xCxT>])
        -> tensor<?xDxT>
    ```

    applying the layers in reverse order, each inverted through
    `FlowLayerOpInterface::buildInverse`. Coupling layers re-evaluate their
    conditioner on the untouched half and invert only the elementwise
    transform, so no conditioner is ever inverted.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def NFExpandModelPass : Pass<"nf-expand-model", "ModuleOp"> {
  let summary = "Build each model's kernel entry points and erase the model";
  let description = [{
    For every `nf.model @M` adds one function `nfk_M_<kernel>` per row of
    the ABI's kernel table (`abi::kKernels` in `nf/Target/EntryPoints.h`),
    with `llvm.emit_c_interface`. A kernel takes flat row-major memrefs in
    destination-passing style, so the C glue owns every buffer: its input
    rows (`?xN`: the data, the latents, or base-distribution noise), the
    context rows for conditional models, the layer noise (`?xK` uniforms)
    when its direction draws any, then its outputs in the table's order:
    rows of the mapped value (z of the normalizing map, x of the generative
    one), V per row, or log p = log p_Z(z) + V per row.

    Noise inputs are turned into z by the base distribution (standard normal
    or uniform, as it asks) before the generative map runs; the
    log-probability of such a sample is log p_Z(z) + V(x), with V(x) built
    during the inverse. The models are erased once all kernels are built
    (their conditioner functions stay).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // NF_DIALECT_NF_TRANSFORMS_PASSES_TD
