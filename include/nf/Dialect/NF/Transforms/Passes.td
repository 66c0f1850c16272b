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

def NFCheckConditioningPass : Pass<"nf-check-conditioning", "ModuleOp"> {
  let summary = "Warn about (or refuse) near-singular constant linear layers";
  let description = [{
    For every `nf.linear` and every `nf.lu_linear` with constant parameters,
    computes the 1-norm condition number kappa = ||W||_1 ||W^-1||_1 of its
    matrix (in double precision) and reports the layer when kappa exceeds
    0.01 / epsilon of the data type: 8.4e4 for f32, 4.5e13 for f64. Beyond
    that bound the inverse loses more than about 1% relative accuracy to
    rounding (the round-trip error grows like kappa * epsilon), and
    log|det W| is dominated by the smallest pivots. A warning by default;
    with `error`, a located error and the pass fails (nf-compile
    `--ill-conditioned=error`). Exactly singular weights are refused by
    the ops' verifiers.
  }];
  let options = [
    Option<"error", "error", "bool", "false",
           "Refuse near-singular layers instead of warning">
  ];
}

def NFFuseLayersPass : Pass<"nf-fuse-layers", "ModuleOp"> {
  let summary = "Fuse each model's layers: permutation absorption, affine "
                "folding, elementwise chains";
  let description = [{
    Rewrites every `nf.model`'s layer chain, keeping its density, maps and
    samples (up to floating-point rounding):

    1. Permutations (`nf.permute`, `nf.reverse`) move towards the latent
       through the layers after them, which take them into their index maps:
       couplings relabel their identity and transformed sets and permute
       their MLP conditioner's first-layer rows and last-layer columns,
       autoregressive layers their conditioner's inputs and outputs (their
       order becomes the permutation's), per-feature parameters are
       permuted, parameter-free elementwise maps commute, and `nf.linear`
       absorbs it into its columns. Consecutive permutations compose. One
       reaching a layer it cannot pass is applied there; one reaching the
       latent stays as the last layer, which density kernels skip.
    2. Runs of affine-type layers with constant parameters (`nf.affine`,
       `nf.actnorm`, `nf.batch_norm`, `nf.linear`, constant `nf.lu_linear`)
       compose, in double precision, into one `nf.linear` (channel mixing),
       `nf.actnorm` (per channel) or `nf.affine` (per element); a lone
       batch norm becomes an ActNorm and a lone constant LU linear a dense
       `nf.linear`, so their constant work is done at compile time.
    3. Consecutive elementwise bijections become one
       `nf.elementwise_chain` (one pass over the data; inverse and log|f'|
       still derived from the members).

    `nf-opt --nf-model-summary --nf-fuse-layers --nf-model-summary` shows
    the model before and after; `report` prints the counts.
  }];
  let options = [
    Option<"report", "report", "bool", "false",
           "Print, per model, the layers before and after fusion">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"
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

def NFExportFunctionsPass : Pass<"nf-export-functions", "ModuleOp"> {
  let summary = "Kernels as public functions on tensors, for other MLIR stacks";
  let description = [{
    After nf-expand-model and convert-nf-to-linalg (the `nf-export`
    pipeline runs all of it): for every model M, the destination-passing
    kernel bodies on memrefs become functions on tensors, and the module
    keeps only public `func.func`s in upstream dialects (linalg, tensor,
    arith, math, scf, func):

    - `M_log_prob(x, [ctx], [noise]) -> log p` (per row);
    - `M_forward(x, [ctx], [noise]) -> (z, V)`;
    - `M_inverse(z, [ctx], [noise]) -> x`;
    - `M_sample_from_noise(eps, [ctx], [noise]) -> x` and
      `M_sample_with_log_prob_from_noise(...) -> (x, log p)`, eps being
      draws of the base distribution's noise (standard normal or uniform
      rows): one entry per row of the ABI's kernel table.

    `noise` is the direction's layer noise (rows of uniforms in [0, 1)),
    only for models with surjective or stochastic layers; callers draw it,
    since random numbers are not upstream. The memref kernels are erased.
    A private declaration of an entry's name and type in the module (a
    caller's) is replaced by the definition; any other symbol of that name
    is an error.
  }];
  let dependentDialects = [
    "::mlir::func::FuncDialect", "::mlir::tensor::TensorDialect"
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

    The kernels share two private bodies, `nfk_M_normalize(x, [ctx],
    [noise], z, V, log p)` and `nfk_M_generate(z, [ctx], [noise], x, log
    p)`, each computing every output of its direction; a kernel calls its
    direction's body with scratch rows for the outputs it does not return,
    so the model's layers are compiled twice, not five times. Noise inputs
    are turned into z by the base distribution (standard normal or uniform,
    as it asks) in `nfk_M_base_from_noise` before the generative body runs;
    the log-probability of such a sample is log p_Z(z) + V(x), with V(x)
    built during the inverse. The density is evaluated before the model's
    trailing permutations, under the base distribution they permute. The
    models are erased once all kernels are built (their conditioner
    functions stay).

    Autoregressive layers whose conditioner is an MLP with constant weights
    solve their sequential direction incrementally (about one conditioner
    pass instead of D); `incremental-autoregressive-inverse=false` keeps the
    D-pass loop.
  }];
  let options = [
    Option<"incrementalInverse", "incremental-autoregressive-inverse", "bool",
           "true", "Solve MADE-conditioned sequential directions "
           "incrementally">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // NF_DIALECT_NF_TRANSFORMS_PASSES_TD
