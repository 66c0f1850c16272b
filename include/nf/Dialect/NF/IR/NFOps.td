//===- NFOps.td - Operations of the nf dialect -------------*- tablegen -*-===//
//
// Layer ops denote the normalizing map x -> z. Each op's semantics (its
// verifier, normalizing map, inverse and V) lives in one place, its family's
// file lib/Dialect/NF/IR/<Family>Ops.cpp; docs/ARCHITECTURE.md lists them.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_NFOPS_TD
#define NF_DIALECT_NF_IR_NFOPS_TD

include "nf/Dialect/NF/IR/NFDialect.td"
include "nf/Dialect/NF/IR/NFEnums.td"
include "nf/Dialect/NF/IR/NFAttrs.td"
include "nf/Dialect/NF/IR/NFInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def NF_BatchTensor : Type<CPred<"::mlir::nf::isBatchTensorType($_self)">,
    "batch-first tensor of f32 or f64 (rank >= 2, static event dimensions)",
    "::mlir::RankedTensorType">;

def NF_ParamTensor : Type<CPred<"::mlir::nf::isParamTensorType($_self)">,
    "statically shaped tensor of f32 or f64", "::mlir::RankedTensorType">;

def NF_FloatTensor : Type<CPred<"::mlir::nf::isFloatTensorType($_self)">,
    "ranked tensor of f32 or f64", "::mlir::RankedTensorType">;

def NF_BaseDistributionAttr : Attr<
    CPred<"::llvm::isa<::mlir::nf::BaseDistributionAttrInterface>($_self)">,
    "base distribution attribute"> {
  let storageType = "::mlir::nf::BaseDistributionAttrInterface";
  let returnType = "::mlir::nf::BaseDistributionAttrInterface";
  let convertFromStorage = "$_self";
}

//===----------------------------------------------------------------------===//
// Layer base classes
//===----------------------------------------------------------------------===//

/// Declares the SurVAE class of a layer op as a static `getLayerKind()`.
class NF_LayerKindTrait<string kind>
    : ParamNativeOpTrait<"LayerKindTrait", "::mlir::nf::LayerKind::" # kind> {
  let cppNamespace = "::mlir::nf";
}

/// A flow layer of SurVAE class `kind` (a LayerKind case).
/// `overrides` names further interface methods the op defines itself.
class NF_LayerOp<string mnemonic, string kind, list<Trait> traits = [],
                 list<string> overrides = []>
    : NF_Op<mnemonic, !listconcat(traits, [
        NF_LayerKindTrait<kind>,
        DeclareOpInterfaceMethods<NF_FlowLayerOpInterface,
            !listconcat(["buildForward", "buildInverse"], overrides)>])>;

/// A layer whose latent has the type of its input (bijections that keep the
/// shape); ODS infers the result type from AllTypesMatch.
class NF_SameShapeLayerOp<string mnemonic, string kind,
                          list<Trait> traits = [],
                          list<string> overrides = []>
    : NF_LayerOp<mnemonic, kind, !listconcat(traits, [
        AllTypesMatch<["input", "output"]>,
        DeclareOpInterfaceMethods<InferTypeOpInterface>]), overrides>;

//===----------------------------------------------------------------------===//
// Model container
//===----------------------------------------------------------------------===//

def NF_ModelOp : NF_Op<"model", [Symbol, IsolatedFromAbove, SingleBlock]> {
  let summary = "A normalizing-flow model: a chain of layers and a base distribution";
  let description = [{
    A symbol holding a flow: an ordered chain of layer ops from the data x to
    the latent z, and the base distribution p_Z of z. The block arguments are
    the data `x : tensor<?x...xT>` and, for conditional models, the context
    `c : tensor<?xCxT>`. The body ends with `nf.yield` of the latent.

    The density is log p(x) = log p_Z(z) + sum_l V_l over the layers. When
    a layer's V is a stochastic bound (generative surjections, stochastic
    layers), one pass gives an ELBO sample, and the compiled `log_prob` is
    the importance-weighted estimate over `iwae_paths` passes (default 64):
    log (1/k) sum_j exp(log p_Z(z_j) + sum_l V_l,j).

    Parameters are tensors defined in the body (`arith.constant` with `dense`
    or `dense_resource` values, so megabytes of trained weights stay compact)
    and passed to layers as operands, or to conditioner functions as their
    trailing arguments. The data path is a chain: each layer consumes the
    previous layer's output (or x), and only layers touch data or context.

    ```mlir
    nf.model @flow(%x: tensor<?x2xf32>) base #nf.std_normal {
      %s = arith.constant dense<[2.0, 0.5]> : tensor<2xf32>
      %t = arith.constant dense<[0.0, 1.0]> : tensor<2xf32>
      %0 = nf.affine %x scale %s shift %t : tensor<?x2xf32>, tensor<2xf32>, tensor<2xf32>
      %1 = nf.reverse %0 : tensor<?x2xf32>
      nf.yield %1 : tensor<?x2xf32>
    }
    ```
  }];

  let arguments = (ins SymbolNameAttr:$sym_name,
                       NF_BaseDistributionAttr:$base,
                       OptionalAttr<I64Attr>:$iwae_paths);
  let regions = (region SizedRegion<1>:$body);

  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::llvm::StringRef":$name, "::mlir::RankedTensorType":$dataType,
                   "::mlir::nf::BaseDistributionAttrInterface":$base,
                   CArg<"::mlir::RankedTensorType", "{}">:$contextType)>
  ];

  let extraClassDeclaration = [{
    /// The data x (the first block argument).
    ::mlir::BlockArgument getData() { return getBody().getArgument(0); }
    /// The context c, or null for unconditional models.
    ::mlir::BlockArgument getConditioningContext() {
      return getBody().getNumArguments() > 1 ? getBody().getArgument(1)
                                             : ::mlir::BlockArgument();
    }
    ::mlir::RankedTensorType getDataType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getData().getType());
    }
    /// The latent z returned by the terminator.
    ::mlir::Value getLatent();
    /// The layers in flow order, from x to z.
    ::llvm::SmallVector<::mlir::nf::FlowLayerOpInterface> getLayers();
    /// Paths of the IWAE estimate that is log_prob for bound models.
    int64_t getNumIwaePaths() { return getIwaePaths().value_or(64); }
    /// Exact iff every layer is; an estimate if any layer's V is one;
    /// otherwise a lower bound.
    ::mlir::nf::Exactness getExactness();
    /// True iff every layer is exact, so that log p(x) is exact.
    bool isExact();
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

def NF_YieldOp : NF_Op<"yield", [Pure, Terminator, ReturnLike,
                                 HasParent<"ModelOp">]> {
  let summary = "Returns the latent z of a model";
  let description = [{
    ```mlir
    nf.yield %z : tensor<?x2xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$latent);
  let assemblyFormat = "$latent attr-dict `:` type($latent)";
}

//===----------------------------------------------------------------------===//
// Bijective layers
//===----------------------------------------------------------------------===//

def NF_AffineOp : NF_SameShapeLayerOp<"affine", "Bijection", [Pure]> {
  let summary = "Elementwise affine bijection z = scale * x + shift";
  let description = [{
    `scale` and `shift` are each a scalar (`tensor<T>`), have the event shape
    of x (per feature), or have the full shape of x (per sample, as produced
    by a conditioner). `scale` must be non-zero.

    V = sum_i log|scale_i|, computed once per call when `scale` does not
    depend on the sample. Inverse: x = (z - shift) / scale.

    ```mlir
    %z = nf.affine %x scale %s shift %t : tensor<?x4xf32>, tensor<4xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, NF_FloatTensor:$scale,
                       NF_FloatTensor:$shift);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `scale` $scale `shift` $shift attr-dict `:` type($input) `,`
    type($scale) `,` type($shift)
  }];
  let hasVerifier = 1;
}

def NF_ActNormOp : NF_SameShapeLayerOp<"actnorm", "Bijection", [Pure,
    AllTypesMatch<["scale", "shift"]>]> {
  let summary = "Activation normalization (Glow): per-channel z = scale * x + shift";
  let description = [{
    `scale` and `shift` hold one value per channel (dimension 1) and are
    broadcast over the other event dimensions (Glow's form; after its
    data-dependent initialization ActNorm is this affine map).
    V = (H * W) * sum_c log|scale_c| for `tensor<?xCxHxWxT>`, computed once
    per call. Inverse: x = (z - shift) / scale.

    ```mlir
    %z = nf.actnorm %x scale %s shift %b : tensor<?x3x8x8xf32>, tensor<3xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, NF_ParamTensor:$scale,
                       NF_ParamTensor:$shift);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `scale` $scale `shift` $shift attr-dict `:` type($input) `,`
    type($scale)
  }];
  let hasVerifier = 1;
}

def NF_BatchNormOp : NF_SameShapeLayerOp<"batch_norm", "Bijection", [Pure,
    AllTypesMatch<["mean", "variance", "log_gamma", "beta"]>]> {
  let summary = "Batch normalization in inference mode (RealNVP, MAF)";
  let description = [{
    With running statistics `mean` and `variance` and learned `log_gamma`
    and `beta`, one value per channel (dimension 1):
    z = exp(log_gamma) (x - mean) / sqrt(variance + epsilon) + beta.
    V = spatial size * sum_c [log_gamma_c - 1/2 log(variance_c + epsilon)],
    computed once per call. The density is exact in inference mode (survae's
    BatchNormBijection in eval mode).

    ```mlir
    %z = nf.batch_norm %x mean %m variance %v log_gamma %g beta %b
           {epsilon = 1.0e-5} : tensor<?x4xf32>, tensor<4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, NF_ParamTensor:$mean,
                       NF_ParamTensor:$variance, NF_ParamTensor:$log_gamma,
                       NF_ParamTensor:$beta,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `mean` $mean `variance` $variance `log_gamma` $log_gamma `beta`
    $beta attr-dict `:` type($input) `,` type($mean)
  }];
  let hasVerifier = 1;
}

def NF_LinearOp : NF_SameShapeLayerOp<"linear", "Bijection", [Pure]> {
  let summary = "Invertible linear map over features or channels (Glow's 1x1 convolution)";
  let description = [{
    z = W x + bias along dimension 1: features of `tensor<?xDxT>`, or the
    channels of `tensor<?xCxHxWxT>` at every pixel (an invertible 1x1
    convolution). `weight` is a constant C x C matrix and `bias` a
    `tensor<CxT>`. At compile time the compiler LU-factorizes W (partial
    pivoting, in double precision): a singular W is a verifier error,
    log|det W| becomes a constant (V = H W log|det W| per sample), and the
    inverse x = W^-1 (z - bias) uses the precomputed W^-1.

    ```mlir
    %z = nf.linear %x weight %w bias %b : tensor<?x4xf32>, tensor<4x4xf32>, tensor<4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, NF_ParamTensor:$weight,
                       NF_ParamTensor:$bias);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `weight` $weight `bias` $bias attr-dict `:` type($input) `,`
    type($weight) `,` type($bias)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The 1-norm condition number of the weight, ||W||_1 ||W^-1||_1
    /// (infinity when singular).
    double getConditionNumber();
  }];
}

def NF_SqueezeOp : NF_LayerOp<"squeeze", "Bijection", [Pure]> {
  let summary = "Space-to-depth (RealNVP's squeeze): tensor<?xCxHxW> to tensor<?x4CxH/2xW/2>";
  let description = [{
    Each 2x2 block of pixels becomes 4 channels, with survae's (Squeeze2d)
    ordering: output channel 4c + 2i + j holds x[c, 2h + i, 2w + j].
    Volume preserving: V = 0; the inverse is depth-to-space.

    ```mlir
    %z = nf.squeeze %x : tensor<?x3x8x8xf32> -> tensor<?x12x4x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($output)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{ bool isVolumePreserving() { return true; } }];
}

def NF_RadialOp : NF_SameShapeLayerOp<"radial", "Bijection", [Pure]> {
  let summary = "Radial flow (Rezende & Mohamed 2015) around a center";
  let description = [{
    z = x + beta h(r) (x - center), r = ||x - center||, h = 1 / (alpha + r),
    with alpha > 0 and beta >= -alpha (invertibility). `center` has the
    event shape. V = (D - 1) log(1 + beta h) + log(1 + beta h + beta h' r),
    h' = -1 / (alpha + r)^2. The inverse is closed form: with r_z =
    ||z - center||, r = (-(alpha + beta - r_z) + sqrt((alpha + beta - r_z)^2
    + 4 alpha r_z)) / 2 and x = center + (z - center) / (1 + beta h(r)).

    ```mlir
    %z = nf.radial %x center %c {alpha = 0.5, beta = 1.0} : tensor<?x2xf64>, tensor<2xf64>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, NF_ParamTensor:$center,
                       F64Attr:$alpha, F64Attr:$beta);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `center` $center attr-dict `:` type($input) `,` type($center)
  }];
  let hasVerifier = 1;
}

def NF_ReverseOp : NF_SameShapeLayerOp<"reverse", "Bijection", [Pure]> {
  let summary = "Reverses the order of the features (dimension 1)";
  let description = [{
    z[:, i] = x[:, D-1-i] along dimension 1 (features, or channels of an
    image). Volume preserving: V = 0. It is its own inverse.

    ```mlir
    %z = nf.reverse %x : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasFolder = 1;
  let extraClassDeclaration = [{ bool isVolumePreserving() { return true; } }];
}

def NF_PermuteOp : NF_SameShapeLayerOp<"permute", "Bijection", [Pure]> {
  let summary = "Fixed permutation of the features (dimension 1)";
  let description = [{
    z[:, i] = x[:, permutation[i]] along dimension 1. Volume preserving:
    V = 0. Inverse: the permutation's inverse (argsort).

    ```mlir
    %z = nf.permute %x [2, 0, 1] : tensor<?x3xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = "$input $permutation attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{ bool isVolumePreserving() { return true; } }];
}

/// The shape of a rational-quadratic spline with linear tails (nflows'
/// `unconstrained_rational_quadratic_spline`): identity outside
/// [-tail_bound, tail_bound], minimum bin width, height and derivative.
defvar NF_RQSplineShapeAttrs = (ins
    DefaultValuedAttr<F64Attr, "3.0">:$tail_bound,
    DefaultValuedAttr<F64Attr, "1e-3">:$min_bin_width,
    DefaultValuedAttr<F64Attr, "1e-3">:$min_bin_height,
    DefaultValuedAttr<F64Attr, "1e-3">:$min_derivative);

/// A layer whose elementwise transformer takes its parameters from a
/// conditioner function (couplings, autoregressive layers).
class NF_ConditionedLayerOp<string mnemonic, list<Trait> traits = []>
    : NF_SameShapeLayerOp<mnemonic, "Bijection", !listconcat(traits, [
        Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>,
        AttrSizedOperandSegments, NF_ConditionedLayerOpInterface])> {
  let results = (outs NF_BatchTensor:$output);
  let hasVerifier = 1;
  code conditionedDeclarations = [{
    /// The elementwise map and the layout of its conditioner parameters.
    ::mlir::nf::Transformer getTransformer();
  }];
}

/// A coupling layer: the `identity` features pass through, the others are
/// transformed with parameters the conditioner computes from them. Its
/// members are defined on the shared functions of CouplingOps.h;
/// `conditionerLayout` describes the conditioner's result in errors and
/// `verifyTransformer` checks the transformer's own attributes.
class NF_CouplingOp<string mnemonic, string conditionerLayout,
                    string verifyTransformer = "::mlir::success()">
    : NF_ConditionedLayerOp<mnemonic> {
  code couplingDeclarations = conditionedDeclarations # [{
    /// Features of B, the complement of `identity`, in increasing order.
    ::llvm::SmallVector<int64_t> getTransformed();
  }];
  let extraClassDeclaration = couplingDeclarations;
  let extraClassDefinition = [{
    ::llvm::SmallVector<int64_t> $cppClass::getTransformed() {
      return ::mlir::nf::getCouplingTransformedFeatures(*this, getIdentity());
    }
    ::llvm::LogicalResult $cppClass::verify() {
      if (::mlir::failed(::mlir::nf::verifyCouplingLayer(*this, getIdentity())))
        return ::mlir::failure();
      return }] # verifyTransformer # [{;
    }
    ::llvm::LogicalResult
    $cppClass::verifySymbolUses(::mlir::SymbolTableCollection &table) {
      return ::mlir::nf::verifyCouplingConditioner(
          *this, getIdentity(), table, "}] # conditionerLayout # [{");
    }
    ::mlir::FailureOr<::mlir::nf::LayerValues>
    $cppClass::buildForward(::mlir::OpBuilder &builder,
                            ::mlir::ValueRange operands, bool withLogDet) {
      Adaptor adaptor(operands, *this);
      return ::mlir::nf::buildCouplingLayer(
          *this, getIdentity(), builder, adaptor.getCtx(), adaptor.getParams(),
          operands.front(), /*inverse=*/false, withLogDet);
    }
    ::mlir::FailureOr<::mlir::nf::LayerValues>
    $cppClass::buildInverse(::mlir::OpBuilder &builder, ::mlir::Value output,
                            ::mlir::ValueRange operands, bool withLogDet) {
      Adaptor adaptor(operands, *this);
      return ::mlir::nf::buildCouplingLayer(
          *this, getIdentity(), builder, adaptor.getCtx(), adaptor.getParams(),
          output, /*inverse=*/true, withLogDet);
    }
  }];
}

/// A masked autoregressive layer (MAF; IAF when `inverted`): feature i is
/// transformed with parameters the conditioner computes from the features
/// before it. Members as for NF_CouplingOp, on AutoregressiveOps.h.
class NF_AutoregressiveOp<string mnemonic, string conditionerLayout,
                          string verifyTransformer = "::mlir::success()">
    : NF_ConditionedLayerOp<mnemonic> {
  let extraClassDeclaration = conditionedDeclarations;
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      if (::mlir::failed(::mlir::nf::verifyAutoregressiveLayer(*this)))
        return ::mlir::failure();
      return }] # verifyTransformer # [{;
    }
    ::llvm::LogicalResult
    $cppClass::verifySymbolUses(::mlir::SymbolTableCollection &table) {
      return ::mlir::nf::verifyAutoregressiveConditioner(
          *this, table, "}] # conditionerLayout # [{");
    }
    ::mlir::FailureOr<::mlir::nf::LayerValues>
    $cppClass::buildForward(::mlir::OpBuilder &builder,
                            ::mlir::ValueRange operands, bool withLogDet) {
      Adaptor adaptor(operands, *this);
      return ::mlir::nf::buildAutoregressiveLayer(
          *this, getInverted(), builder, adaptor.getCtx(), adaptor.getParams(),
          operands.front(), /*inverse=*/false, withLogDet);
    }
    ::mlir::FailureOr<::mlir::nf::LayerValues>
    $cppClass::buildInverse(::mlir::OpBuilder &builder, ::mlir::Value output,
                            ::mlir::ValueRange operands, bool withLogDet) {
      Adaptor adaptor(operands, *this);
      return ::mlir::nf::buildAutoregressiveLayer(
          *this, getInverted(), builder, adaptor.getCtx(), adaptor.getParams(),
          output, /*inverse=*/true, withLogDet);
    }
  }];
}

/// Checks a spline op's shape attributes.
defvar NF_VerifyRQSplineShape =
    "::mlir::nf::verifyRQSplineConfig(*this, ::mlir::nf::getRQSplineConfig("
    "*this, getBins()))";

def NF_AffineCouplingOp : NF_CouplingOp<"affine_coupling",
    "a block of shifts, then a block of unconstrained scales"> {
  let summary = "Affine coupling layer (RealNVP) with a conditioner function";
  let description = [{
    Splits the features of x (dimension 1: the features of a vector or the
    channels of an image) into the `identity` set A (passed through, in
    increasing order) and its complement B, and computes

    ```
    h = conditioner(x_A [, context] [, params...])   : tensor<?x(2|B|)xT>
    shift = h[:, 0:|B|],  scale = scale_fn(h[:, |B|:2|B|])
    z_A = x_A,  z_B = scale * x_B + shift
    ```

    (nflows' layout: shift first, unconstrained scale second). V = sum log
    scale. The inverse re-evaluates the conditioner on z_A = x_A and inverts
    only the elementwise transform: x_B = (z_B - shift) / scale.

    The conditioner is a `func.func` symbol taking x_A (`tensor<?x|A|xT>`,
    or `tensor<?x|A|xHxWxT>` for images, returning `tensor<?x2|B|xHxWxT>`),
    then the model's context if `context` is given, then `params`.
    `scale_fn` is `exp` (default), `sigmoid` (sigmoid(h + 2) + 1e-3) or
    `softplus` (softplus(h) + 1e-3). With `shift_first` (Glow's coupling),
    z_B = (x_B + shift) * scale and x_B = z_B / scale - shift.

    ```mlir
    %z = nf.affine_coupling %x identity [0, 1] conditioner @net(%w0, %b0 : tensor<2x8xf32>, tensor<8xf32>)
           scale_fn sigmoid : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$params,
                       DenseI64ArrayAttr:$identity,
                       FlatSymbolRefAttr:$conditioner,
                       DefaultValuedAttr<NF_ScaleFnAttr, "::mlir::nf::ScaleFn::Exp">:$scale_fn,
                       UnitAttr:$shift_first);
  let assemblyFormat = [{
    $input `identity` $identity `conditioner` $conditioner
    (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))?
    (`scale_fn` `` $scale_fn^)? (`shift_first` $shift_first^)?
    attr-dict `:` type($input)
  }];
}

def NF_AdditiveCouplingOp : NF_CouplingOp<"additive_coupling", "the shifts"> {
  let summary = "Additive coupling layer (NICE) with a conditioner function";
  let description = [{
    Like `nf.affine_coupling` without scale: the conditioner maps x_A (and
    the context, if given) to the shift (`tensor<?x|B|xT>`), and
    z_A = x_A, z_B = x_B + shift. Volume preserving: V = 0. The inverse
    re-evaluates the conditioner on z_A: x_B = z_B - shift.

    ```mlir
    %z = nf.additive_coupling %x identity [0, 2] conditioner @net : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$params,
                       DenseI64ArrayAttr:$identity,
                       FlatSymbolRefAttr:$conditioner);
  let assemblyFormat = [{
    $input `identity` $identity `conditioner` $conditioner
    (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))? attr-dict `:` type($input)
  }];
  let extraClassDeclaration = couplingDeclarations # [{
    bool isVolumePreserving() { return true; }
  }];
}

//===----------------------------------------------------------------------===//
// Splines, autoregressive layers, LU linear, planar and residual flows
//===----------------------------------------------------------------------===//

def NF_RQSplineCouplingOp : NF_CouplingOp<"rq_spline_coupling",
    "per transformed feature, K widths, K heights and K - 1 derivatives (raw)",
    NF_VerifyRQSplineShape> {
  let summary = "Rational-quadratic spline coupling layer (RQ-NSF (C))";
  let description = [{
    A coupling layer (see `nf.affine_coupling`) whose transformer is the
    rational-quadratic spline of `nf.rq_spline` with `bins` bins. The
    conditioner maps x_A (then the context, then `params`) to
    (3 bins - 1) values per transformed feature, in nflows' layout: for the
    j-th feature of B, outputs [j (3K-1), (j+1)(3K-1)) hold K raw widths, K
    raw heights and K - 1 raw interior derivatives. V = sum log g'(x_B).
    Works on `tensor<?xDxT>` and on the channels of image tensors.

    ```mlir
    %z = nf.rq_spline_coupling %x identity [0, 1] conditioner @net(%w : tensor<2x46xf32>)
           {bins = 8 : i64, tail_bound = 3.0} : tensor<?x4xf32>
    ```
  }];
  let arguments = !con((ins NF_BatchTensor:$input,
                            Optional<NF_BatchTensor>:$ctx,
                            Variadic<NF_ParamTensor>:$params,
                            DenseI64ArrayAttr:$identity,
                            FlatSymbolRefAttr:$conditioner,
                            I64Attr:$bins), NF_RQSplineShapeAttrs);
  let assemblyFormat = [{
    $input `identity` $identity `conditioner` $conditioner
    (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))? attr-dict `:` type($input)
  }];
}

def NF_AffineAutoregressiveOp : NF_AutoregressiveOp<"affine_autoregressive",
    "per feature, the unconstrained scale, then the shift"> {
  let summary = "Masked affine autoregressive layer (MAF; IAF when inverted)";
  let description = [{
    z_i = scale(h_i) x_i + shift_i with (h, shift) = conditioner(x [, context],
    params), where output i of the conditioner depends only on x_{<i} (a
    MADE). The conditioner returns 2 values per feature in nflows' MAF
    layout: [2i] the unconstrained scale h_i, [2i+1] the shift. `scale_fn`
    is as for `nf.affine_coupling`, default `softplus` (nflows). V = sum log
    scale; the density direction is one conditioner pass, the generative
    direction a loop of D passes (x starts at 0 and feature i is exact after
    pass i).

    With `inverted` the layer is the inverse of that map (IAF): x -> z is
    the D-pass loop, z -> x one pass, and V = -sum log scale(h(z)).
    An `nf.mlp` conditioner with constant weights must be autoregressive by
    the zero pattern of its weights (in some order of the features): the
    verifier rejects one that is not. Other conditioners are trusted.

    ```mlir
    %z = nf.affine_autoregressive %x conditioner @made(%w0, %b0 : tensor<4x8xf32>, tensor<8xf32>)
           scale_fn softplus : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$params,
                       FlatSymbolRefAttr:$conditioner,
                       DefaultValuedAttr<NF_ScaleFnAttr, "::mlir::nf::ScaleFn::Softplus">:$scale_fn,
                       UnitAttr:$inverted);
  let assemblyFormat = [{
    $input `conditioner` $conditioner
    (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))?
    (`scale_fn` `` $scale_fn^)? (`inverted` $inverted^)?
    attr-dict `:` type($input)
  }];
}

def NF_RQSplineAutoregressiveOp : NF_AutoregressiveOp<"rq_spline_autoregressive",
    "per feature, K widths, K heights and K - 1 derivatives (raw)",
    NF_VerifyRQSplineShape> {
  let summary = "Rational-quadratic spline autoregressive layer (RQ-NSF (AR))";
  let description = [{
    An autoregressive layer (see `nf.affine_autoregressive`) whose
    transformer is the spline of `nf.rq_spline`: the conditioner returns
    3 bins - 1 values per feature, contiguous per feature (nflows' layout:
    K raw widths, K raw heights, K - 1 raw interior derivatives). With
    `inverted` the layer is the inverse map (one pass z -> x).

    ```mlir
    %z = nf.rq_spline_autoregressive %x conditioner @made(%w : tensor<4x92xf32>)
           {bins = 8 : i64} : tensor<?x4xf32>
    ```
  }];
  let arguments = !con((ins NF_BatchTensor:$input,
                            Optional<NF_BatchTensor>:$ctx,
                            Variadic<NF_ParamTensor>:$params,
                            FlatSymbolRefAttr:$conditioner,
                            I64Attr:$bins, UnitAttr:$inverted),
                       NF_RQSplineShapeAttrs);
  let assemblyFormat = [{
    $input `conditioner` $conditioner
    (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))? (`inverted` $inverted^)?
    attr-dict `:` type($input)
  }];
}

def NF_RQSplineOp : NF_SameShapeLayerOp<"rq_spline", "Bijection", [Pure,
    AllTypesMatch<["widths", "heights"]>]> {
  let summary = "Elementwise rational-quadratic spline with linear tails (NSF)";
  let description = [{
    Every element x goes through its own monotone rational-quadratic spline
    g on [-B, B] (B = `tail_bound`), the identity outside (nflows'
    `unconstrained_rational_quadratic_spline`, tails = linear). `widths` and
    `heights` hold K raw values and `derivatives` K - 1 raw values per
    element (shape: event shape x K or x K - 1):

    ```
    w = min_w + (1 - K min_w) softmax(widths),  knots x_0 = -B, x_k = -B + 2B cumsum(w)_k, x_K = B
    h, y_k likewise;  d_0 = d_K = 1,  d_k = min_d + softplus(derivatives_k)
    ```

    In bin k (x_k <= x < x_{k+1}, found branch free), with s = dy/dx of the
    bin and t = (x - x_k) / (x_{k+1} - x_k):
    g(x) = y_k + dy (s t^2 + d_k t(1-t)) / (s + (d_k + d_{k+1} - 2s) t(1-t)).
    V = sum log g'(x). The inverse solves the bin's quadratic with the root
    formula chosen by the sign of its linear coefficient, so it never
    cancels catastrophically and never yields NaN for finite inputs.

    ```mlir
    %z = nf.rq_spline %x widths %w heights %h derivatives %d {tail_bound = 3.0}
           : tensor<?x2xf32>, tensor<2x8xf32>, tensor<2x7xf32>
    ```
  }];
  let arguments = !con((ins NF_BatchTensor:$input, NF_ParamTensor:$widths,
                            NF_ParamTensor:$heights,
                            NF_ParamTensor:$derivatives),
                       NF_RQSplineShapeAttrs);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `widths` $widths `heights` $heights `derivatives` $derivatives
    attr-dict `:` type($input) `,` type($widths) `,` type($derivatives)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::nf::RQSplineConfig getSplineConfig();
  }];
}

def NF_LULinearOp : NF_SameShapeLayerOp<"lu_linear", "Bijection", [Pure,
    AllTypesMatch<["lower", "upper"]>, AllTypesMatch<["diag", "bias"]>]> {
  let summary = "LU-parameterized invertible linear map (Glow, nflows LULinear)";
  let description = [{
    z = P L (U + diag(s)) x + bias along dimension 1 (features, or the
    channels of an image at every pixel), with L unit lower triangular (the
    strictly lower part of `lower`), U strictly upper triangular (the
    strictly upper part of `upper`), s = `diag` and (P v)_i =
    v_{permutation_i} (identity if absent). The parameters need not be
    constants. V = (spatial size) sum log|s_i|, once per call. The inverse
    uses two triangular solves per sample, O(C^2) each.

    ```mlir
    %z = nf.lu_linear %x lower %l upper %u diag %s bias %b permutation [1, 0, 2]
           : tensor<?x3xf32>, tensor<3x3xf32>, tensor<3xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, NF_ParamTensor:$lower,
                       NF_ParamTensor:$upper, NF_ParamTensor:$diag,
                       NF_ParamTensor:$bias,
                       OptionalAttr<DenseI64ArrayAttr>:$permutation);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `lower` $lower `upper` $upper `diag` $diag `bias` $bias
    (`permutation` $permutation^)? attr-dict `:` type($input) `,`
    type($lower) `,` type($diag)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The 1-norm condition number of W = P L (U + diag s) when its
    /// parameters are constants (infinity when singular).
    std::optional<double> getConditionNumber();
  }];
}

def NF_PlanarOp : NF_SameShapeLayerOp<"planar", "Bijection", [Pure,
    AllTypesMatch<["u", "w"]>]> {
  let summary = "Planar flow (Rezende & Mohamed 2015)";
  let description = [{
    z = x + u tanh(w . x + bias), u and w of the event shape, `bias` a
    scalar tensor. Invertible iff w . u > -1 (checked when u and w are
    constants). V = log|1 + (1 - tanh^2(w . x + bias)) w . u|. The inverse
    solves the scalar equation w . z + bias = a + (w . u) tanh(a) for
    a = w . x + bias per sample (increasing in a; bracketed Newton with
    bisection, to `tolerance`), then x = z - u tanh(a).

    ```mlir
    %z = nf.planar %x u %u w %w bias %b : tensor<?x2xf64>, tensor<2xf64>, tensor<f64>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, NF_ParamTensor:$u,
                       NF_ParamTensor:$w, NF_ParamTensor:$bias,
                       DefaultValuedAttr<F64Attr, "1e-12">:$tolerance);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `u` $u `w` $w `bias` $bias attr-dict `:` type($input) `,`
    type($u) `,` type($bias)
  }];
  let hasVerifier = 1;
}

def NF_IResNetOp : NF_SameShapeLayerOp<"iresnet", "Bijection", [Pure],
    ["getExactness"]> {
  let summary = "Invertible residual block (i-ResNet): z = x + g(x)";
  let description = [{
    g is an MLP (parameters and activation as `nf.mlp`, D -> ... -> D) that
    must be a contraction: when its weights are constants the verifier
    checks that the product of their spectral norms is < 1 (the activations
    are 1-Lipschitz). The inverse is the fixed point x <- z - g(x) from
    x = z - g(z), stopped when every sample moved by at most `tolerance`
    (relative to max(1, |z|)) or after `max_iterations`.

    V = log det(I + J_g(x)):
    - `logdet = "exact"`: the per-sample Jacobian J_g (chain rule through the
      layers) and Gaussian elimination, O(D^3) per sample. Exact; meant for
      small D.
    - `logdet = "series"`: the power series sum_{k=1..terms} (-1)^{k+1}/k
      tr(J^k) truncated at `terms`, each trace estimated as the mean of
      v^T J^k v over `probes` fixed Rademacher vectors drawn at compile time
      from `seed` (Hutchinson). O(terms probes D H) per sample. Reported
      as `estimate` by the layer interface.

    ```mlir
    %z = nf.iresnet %x (%w0, %b0, %w1, %b1 : tensor<2x16xf64>, tensor<16xf64>, tensor<16x2xf64>, tensor<2xf64>)
           activation elu {logdet = "exact"} : tensor<?x2xf64>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, Variadic<NF_ParamTensor>:$params,
                       NF_ActivationAttr:$activation,
                       DefaultValuedStrAttr<StrAttr, "exact">:$logdet,
                       DefaultValuedAttr<I64Attr, "10">:$terms,
                       DefaultValuedAttr<I64Attr, "4">:$probes,
                       DefaultValuedAttr<I64Attr, "0">:$seed,
                       DefaultValuedAttr<F64Attr, "1e-10">:$tolerance,
                       DefaultValuedAttr<I64Attr, "200">:$max_iterations);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `(` $params `:` type($params) `)` `activation` `` $activation
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Inference surjections
//===----------------------------------------------------------------------===//

def NF_AbsOp : NF_SameShapeLayerOp<"abs", "InferenceSurjection",
    [Pure, AttrSizedOperandSegments], ["getNoiseDraws"]> {
  let summary = "Absolute-value surjection (SurVAE): z = |x|";
  let description = [{
    Drops the sign s of every element. The generative direction draws it:
    s = +1 with probability p = sigmoid(logits) (per element of the event
    shape; 1/2 without `logits`), and x = s z. The likelihood stays exact:
    V = sum_i log P(s_i), with x = 0 counted as positive; without logits
    V = -D log 2, once per call. Its noise is one uniform per element, drawn
    from the layer-noise stream, or given as `noise` (`tensor<?x...xT>` of
    the data's shape, uniforms in [0, 1)) to fix it.

    ```mlir
    %z = nf.abs %x : tensor<?x2xf32>
    %w = nf.abs %x logits %l : tensor<2xf32> noise %u : tensor<?x2xf32> : tensor<?x2xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_ParamTensor>:$logits,
                       Optional<NF_BatchTensor>:$noise);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input (`logits` $logits^ `:` type($logits))?
    (`noise` $noise^ `:` type($noise))? attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def NF_SortOp : NF_SameShapeLayerOp<"sort", "InferenceSurjection", [Pure],
    ["getNoiseDraws"]> {
  let summary = "Sort surjection (SurVAE): z = x's features (or points) in increasing order";
  let description = [{
    Forgets an order: the D features of `tensor<?xDxT>`, or, with `key`,
    the N points of `tensor<?xNxKxT>` (point clouds), sorted by their
    coordinate `key` (survae's SimpleSortSurjection with a key function).
    The generative direction applies a uniformly random permutation, so
    V = -log D! (or -log N!), once per call (exact for data without ties).
    The permutation ranks D (or N) uniforms from the layer-noise stream, or
    from `noise` (`tensor<?xDxT>` / `tensor<?xNxT>`) when given.

    ```mlir
    %z = nf.sort %x : tensor<?x3xf64>
    %p = nf.sort %points {key = 0 : i64} : tensor<?x16x2xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$noise,
                       OptionalAttr<I64Attr>:$key);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input (`noise` $noise^ `:` type($noise))? attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def NF_SliceOp : NF_LayerOp<"slice", "InferenceSurjection",
    [Pure, AttrSizedOperandSegments, DeclareOpInterfaceMethods<SymbolUserOpInterface>],
    ["getNoiseDraws"]> {
  let summary = "Slice surjection (factor-out): keep the first K features or channels";
  let description = [{
    z = x[:, :K] along dimension 1 (features, or the channels of an image:
    the multi-scale factor-out of RealNVP and Glow); K is the result's
    dimension 1. The dropped part x[:, K:] gets a decoder density
    p(x_drop | z): a standard normal without `decoder`, otherwise a diagonal
    normal whose mean and log standard deviation the `decoder` function
    computes from (z [, context], params...) as one `tensor<?x2(C-K)x...xT>`
    (the means, then the log standard deviations). V = log p(x_drop | z),
    exact. The generative direction draws x_drop = mean + exp(log_std) eps,
    eps standard normal from two uniforms per value (Box-Muller), or given as
    `noise` (eps itself, of the dropped part's shape).

    ```mlir
    %z = nf.slice %x decoder @dec(%w : tensor<2x4xf32>) : tensor<?x4xf32> -> tensor<?x2xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$params,
                       Optional<NF_BatchTensor>:$noise,
                       OptionalAttr<FlatSymbolRefAttr>:$decoder);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input (`decoder` $decoder^)? (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))? (`noise` $noise^ `:` type($noise))?
    attr-dict `:` type($input) `->` type($output)
  }];
  let hasVerifier = 1;
}

def NF_MaxPoolOp : NF_LayerOp<"max_pool", "InferenceSurjection",
    [Pure, AttrSizedOperandSegments, DeclareOpInterfaceMethods<SymbolUserOpInterface>],
    ["getNoiseDraws"]> {
  let summary = "2x2 max-pooling surjection (SurVAE): z = the maximum of each 2x2 window";
  let description = [{
    Images `tensor<?xCxHxWxT>` (H, W even) to `tensor<?xCx(H/2)x(W/2)xT>`.
    Each window's four values (row-major index k = 2a + b) become their
    maximum z, the index k of the first maximum, and the three gaps
    d = z - x_other >= 0 of the others in index order (as survae's
    SimpleMaxPoolSurjection2d, channel c * 3 + m of a `tensor<?x3Cx..>`).
    p(k) = 1/4 and the gaps have a half-normal density with scale 1, or
    exp(log_scale) where the `decoder` function computes the log scales
    (`tensor<?x3Cx(H/2)x(W/2)xT>`) from (z [, context], params...).
    V = sum log p(d | z) - log 4 per window, exact. The generative
    direction draws k uniformly and d = scale |eps| (eps standard normal):
    from the layer-noise stream, or from `noise`, `tensor<?x4Cx(H/2)x(W/2)xT>`
    holding C channels of uniforms for k, then 3C of eps.

    ```mlir
    %z = nf.max_pool %x : tensor<?x2x4x4xf32> -> tensor<?x2x2x2xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$params,
                       Optional<NF_BatchTensor>:$noise,
                       OptionalAttr<FlatSymbolRefAttr>:$decoder);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input (`decoder` $decoder^)? (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))? (`noise` $noise^ `:` type($noise))?
    attr-dict `:` type($input) `->` type($output)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Generative surjections
//===----------------------------------------------------------------------===//

def NF_AugmentOp : NF_LayerOp<"augment", "GenerativeSurjection",
    [Pure, AttrSizedOperandSegments, DeclareOpInterfaceMethods<SymbolUserOpInterface>],
    ["getNoiseDraws"]> {
  let summary = "Augment surjection (SurVAE, ANF/VFlow): append E drawn features";
  let description = [{
    z = concat(x, e) along dimension 1, e ~ q(e | x): a standard normal
    without `encoder`, otherwise a diagonal normal whose means and log
    standard deviations the `encoder` function computes from (x [, context],
    params...) as one `tensor<?x2Ex...xT>`. V = -log q(e | x), a stochastic
    lower bound (the model's log-likelihood becomes an ELBO / IWAE bound).
    The normalizing direction draws e (two uniforms per value, Box-Muller,
    or `noise`: eps itself); the generative direction drops e.

    ```mlir
    %z = nf.augment %x : tensor<?x2xf32> -> tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$params,
                       Optional<NF_BatchTensor>:$noise,
                       OptionalAttr<FlatSymbolRefAttr>:$encoder);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input (`encoder` $encoder^)? (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))? (`noise` $noise^ `:` type($noise))?
    attr-dict `:` type($input) `->` type($output)
  }];
  let hasVerifier = 1;
}

def NF_UniformDequantizeOp : NF_SameShapeLayerOp<"uniform_dequantize",
    "GenerativeSurjection", [Pure], ["getNoiseDraws"]> {
  let summary = "Uniform dequantization (rounding surjection)";
  let description = [{
    Data on the integer levels 0..K-1 (K = `levels`) becomes continuous:
    z = (x + u) / K with u ~ U[0, 1) per element, V = -D log K (q(u | x) = 1),
    a lower bound on the discrete log-probability. The generative direction
    rounds: x = clamp(floor(K z), 0, K - 1). The uniforms come from the
    layer-noise stream or from `noise`.

    ```mlir
    %z = nf.uniform_dequantize %x {levels = 256 : i64} : tensor<?x3xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$noise,
                       I64Attr:$levels);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input (`noise` $noise^ `:` type($noise))? attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def NF_VariationalDequantizeOp : NF_SameShapeLayerOp<"variational_dequantize",
    "GenerativeSurjection", [Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>], ["getNoiseDraws"]> {
  let summary = "Variational dequantization (Flow++): a learned conditional flow q(u | x)";
  let description = [{
    Data on the integer levels 0..K-1 (K = `levels`) becomes continuous:
    z = (x + u) / K with u ~ q(u | x) on (0, 1)^D, a conditional flow: v is
    drawn from a conditional density on R^D, then u = sigmoid(v), so
    log q(u | x) = log q(v | x) - sum log sigmoid'(v). The `encoder` is
    either
    - a `func.func` mapping (x [, context], params...) to the means, then
      the log standard deviations (`tensor<?x2Dx...xT>`) of a diagonal
      normal: one conditional affine step v = mean + exp(log_std) eps; or
    - an `nf.model` with data and context of the data's type and a normal
      base: any exact conditional flow, given x as its context, sampled by
      its generative map (v = its inverse at eps, log q(v | x) = log p(eps)
      + its V at v), as in Flow++ and survae's dequantization flows.
    V = -D log K - log q(u | x), a lower bound on the discrete
    log-probability (tighter than uniform dequantization's when q fits).
    The generative direction rounds: x = clamp(floor(K z), 0, K - 1). eps
    comes from the layer-noise stream (Box-Muller) or `noise` (eps itself,
    of the data's shape).

    ```mlir
    %z = nf.variational_dequantize %x encoder @q(%w : tensor<3x6xf32>) {levels = 256 : i64} : tensor<?x3xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$params,
                       Optional<NF_BatchTensor>:$noise,
                       FlatSymbolRefAttr:$encoder,
                       I64Attr:$levels);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `encoder` $encoder (`(` $params^ `:` type($params) `)`)?
    (`context` $ctx^ `:` type($ctx))? (`noise` $noise^ `:` type($noise))?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Stochastic layers
//===----------------------------------------------------------------------===//

def NF_VAEOp : NF_LayerOp<"vae", "Stochastic",
    [Pure, AttrSizedOperandSegments, DeclareOpInterfaceMethods<SymbolUserOpInterface>],
    ["getNoiseDraws"]> {
  let summary = "VAE layer: z ~ q(z | x), x ~ p(x | z), diagonal normals";
  let description = [{
    A stochastic layer from `tensor<?xDxT>` to `tensor<?xLxT>`: the
    `encoder` function maps (x [, context], encoder params...) to the means
    and log standard deviations of q(z | x) (`tensor<?x2LxT>`), the
    `decoder` maps (z [, context], decoder params...) to those of p(x | z)
    (`tensor<?x2DxT>`). Both directions draw (Box-Muller from two uniforms
    per value, or `encoder_noise` / `decoder_noise`: the standard normal eps
    itself), and V = log p(x | z) - log q(z | x) at the drawn pair, a lower
    bound (with a flow prior on z: the VAE-with-flow-prior ELBO).

    ```mlir
    %z = nf.vae %x encoder @enc decoder @dec : tensor<?x4xf32> -> tensor<?x2xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$encoder_params,
                       Variadic<NF_ParamTensor>:$decoder_params,
                       Optional<NF_BatchTensor>:$encoder_noise,
                       Optional<NF_BatchTensor>:$decoder_noise,
                       FlatSymbolRefAttr:$encoder,
                       FlatSymbolRefAttr:$decoder);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `encoder` $encoder
    (`(` $encoder_params^ `:` type($encoder_params) `)`)?
    `decoder` $decoder
    (`(` $decoder_params^ `:` type($decoder_params) `)`)?
    (`context` $ctx^ `:` type($ctx))?
    (`encoder_noise` $encoder_noise^ `:` type($encoder_noise))?
    (`decoder_noise` $decoder_noise^ `:` type($decoder_noise))?
    attr-dict `:` type($input) `->` type($output)
  }];
  let hasVerifier = 1;
}

def NF_CIFOp : NF_SameShapeLayerOp<"cif", "Stochastic", [Pure,
    AttrSizedOperandSegments, DeclareOpInterfaceMethods<SymbolUserOpInterface>],
    ["getNoiseDraws"]> {
  let summary = "Continuously indexed flow layer (CIF): a u-indexed affine bijection";
  let description = [{
    Cornish et al.'s CIF step on `tensor<?xDxT>` with an index u of U =
    `index_features` values: u ~ q(u | x), z = (x + shift(u)) exp(log_scale(u)),
    and V = sum log_scale(u) + log p(u | z) - log q(u | x), a lower bound
    (IWAE over u). q and p are diagonal normals whose means, then log
    standard deviations (`tensor<?x2UxT>`) the `encoder` and `decoder`
    functions compute from (x [, context], params...) and (z [, context],
    params...); `transform` maps (u [, context], params...) to the shifts,
    then the log scales (`tensor<?x2DxT>`). Sampling draws u ~ p(u | z) and
    returns x = z exp(-log_scale(u)) - shift(u). Each direction draws U
    standard normals (Box-Muller from the layer-noise stream, or
    `forward_noise` / `inverse_noise`: eps itself). Place it after any
    bijection f to get the CIF version of f.

    ```mlir
    %z = nf.cif %x encoder @q decoder @p transform @t {index_features = 1 : i64} : tensor<?x2xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$encoder_params,
                       Variadic<NF_ParamTensor>:$decoder_params,
                       Variadic<NF_ParamTensor>:$transform_params,
                       Optional<NF_BatchTensor>:$forward_noise,
                       Optional<NF_BatchTensor>:$inverse_noise,
                       FlatSymbolRefAttr:$encoder,
                       FlatSymbolRefAttr:$decoder,
                       FlatSymbolRefAttr:$transform,
                       I64Attr:$index_features);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `encoder` $encoder
    (`(` $encoder_params^ `:` type($encoder_params) `)`)?
    `decoder` $decoder
    (`(` $decoder_params^ `:` type($decoder_params) `)`)?
    `transform` $transform
    (`(` $transform_params^ `:` type($transform_params) `)`)?
    (`context` $ctx^ `:` type($ctx))?
    (`forward_noise` $forward_noise^ `:` type($forward_noise))?
    (`inverse_noise` $inverse_noise^ `:` type($inverse_noise))?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def NF_DiffusionStepOp : NF_SameShapeLayerOp<"diffusion_step", "Stochastic",
    [Pure, AttrSizedOperandSegments,
     DeclareOpInterfaceMethods<SymbolUserOpInterface>], ["getNoiseDraws"]> {
  let summary = "One step of a diffusion normalizing flow (DiffFlow): an SDE step with learned drift and score";
  let description = [{
    Zhang and Chen's discretized forward SDE dx = f(x, t) dt + g(t) dw from
    time `t0` (x) to `t1` (z), dt = t1 - t0, g0 = g(t0), g1 = g(t1):
    z = x + f(x, t0) dt + g0 sqrt(dt) eps_F. Sampling runs the backward SDE:
    x = z - [f(z, t1) - g1^2 s(z, t1)] dt + g1 sqrt(dt) eps_B. The `drift`
    f and `score` s are functions (y, t [, context], params...) ->
    `tensor<?xDxT>` with the time t a scalar of the element type. V is the
    step's exact Gaussian-kernel term log p_B(x | z) - log p_F(z | x) =
    -(|eps_B|^2 - |eps_F|^2) / 2 + D log(g0 / g1) (DiffFlow's delta_s plus
    the parameter-free term its code omits, so that the sum is a true
    bound), with eps_B = (x - z + [f(z, t1) - g1^2 s(z, t1)] dt) / (g1
    sqrt(dt)) and eps_F = (z - x - f(x, t0) dt) / (g0 sqrt(dt)). Each
    direction draws D standard normals (Box-Muller from the layer-noise
    stream, or `forward_noise` / `inverse_noise`).

    ```mlir
    %z = nf.diffusion_step %x drift @f score @s {t0 = 0.0, t1 = 0.05, g0 = 0.2, g1 = 0.2} : tensor<?x2xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$ctx,
                       Variadic<NF_ParamTensor>:$drift_params,
                       Variadic<NF_ParamTensor>:$score_params,
                       Optional<NF_BatchTensor>:$forward_noise,
                       Optional<NF_BatchTensor>:$inverse_noise,
                       FlatSymbolRefAttr:$drift,
                       FlatSymbolRefAttr:$score,
                       F64Attr:$t0, F64Attr:$t1, F64Attr:$g0, F64Attr:$g1);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `drift` $drift (`(` $drift_params^ `:` type($drift_params) `)`)?
    `score` $score (`(` $score_params^ `:` type($score_params) `)`)?
    (`context` $ctx^ `:` type($ctx))?
    (`forward_noise` $forward_noise^ `:` type($forward_noise))?
    (`inverse_noise` $inverse_noise^ `:` type($inverse_noise))?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def NF_RandomPermutationOp : NF_SameShapeLayerOp<"random_permutation",
    "Stochastic", [Pure, AttrSizedOperandSegments], ["getNoiseDraws"]> {
  let summary = "Stochastic permutation (SurVAE): a uniformly random feature order";
  let description = [{
    Both directions permute the D features of `tensor<?xDxT>` uniformly at
    random (the ranks of D uniforms from the layer-noise stream, or of
    `forward_noise` / `inverse_noise`). p(x | z) = q(z | x) = 1 / D!, so
    V = 0: the layer makes a density invariant to the order of the
    features.

    ```mlir
    %z = nf.random_permutation %x : tensor<?x3xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       Optional<NF_BatchTensor>:$forward_noise,
                       Optional<NF_BatchTensor>:$inverse_noise);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input (`forward_noise` $forward_noise^ `:` type($forward_noise))?
    (`inverse_noise` $inverse_noise^ `:` type($inverse_noise))?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool isVolumePreserving() { return true; }
  }];
}

//===----------------------------------------------------------------------===//
// Stochastic normalizing flow (SNF) blocks
//===----------------------------------------------------------------------===//

/// An MCMC block of a stochastic normalizing flow (Wu, Koehler and Noe 2020)
/// on the interpolated energy u_lambda(y) = (1 - lambda) |y|^2 / 2 +
/// lambda u(y), u the `energy` function (tensor<?xDxT>, params...) ->
/// tensor<?xT>. Both directions run the same dynamics (it is reversible).
class NF_SNFBlockOp<string mnemonic, dag extraArguments>
    : NF_SameShapeLayerOp<mnemonic, "Stochastic", [Pure,
        AttrSizedOperandSegments,
        DeclareOpInterfaceMethods<SymbolUserOpInterface>], ["getNoiseDraws"]> {
  let arguments = !con((ins NF_BatchTensor:$input,
                            Variadic<NF_ParamTensor>:$params,
                            Optional<NF_BatchTensor>:$forward_noise,
                            Optional<NF_BatchTensor>:$inverse_noise,
                            FlatSymbolRefAttr:$energy,
                            DefaultValuedAttr<F64Attr, "1.0">:$lambda,
                            DefaultValuedAttr<I64Attr, "1">:$steps),
                       extraArguments);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `energy` $energy (`(` $params^ `:` type($params) `)`)?
    (`forward_noise` $forward_noise^ `:` type($forward_noise))?
    (`inverse_noise` $inverse_noise^ `:` type($inverse_noise))?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def NF_LangevinOp : NF_SNFBlockOp<"langevin", (ins F64Attr:$step_size,
    OptionalAttr<FlatSymbolRefAttr>:$gradient)> {
  let summary = "Overdamped Langevin (Brownian) block of a stochastic normalizing flow";
  let description = [{
    `steps` steps of y' = y - eps grad u_lambda(y) + sqrt(2 eps) eta,
    eta ~ N(0, I) (eps = `step_size`), from x to z and, sampling, from z to
    x. V is the path term, not a density: V = log p(x | z) - log q(z | x),
    per step |eta|^2 / 2 - |eta~|^2 / 2 going from x to z, with eta~ =
    (y - y' + eps grad u_lambda(y')) / sqrt(2 eps) the noise of the reverse
    step (the SNF paper's Delta S of the path x -> z; sampling, z -> x, it
    is the negative of that path's Delta S), so that log p_Z(z) + sum V is
    the model part of the path's importance weight.
    The gradient of u is `gradient` (same arguments as the energy, result
    of the data's type), or derived from the energy by
    `nf-derive-energy-gradients` (reverse-mode AD). The noise is eta, from
    the layer-noise stream (Box-Muller) or given as `forward_noise` /
    `inverse_noise` (`tensor<?x(steps*D)xT>`, step-major).

    ```mlir
    %z = nf.langevin %x energy @double_well {lambda = 0.5, step_size = 0.01, steps = 10 : i64} : tensor<?x2xf64>
    ```
  }];
}

def NF_MetropolisOp : NF_SNFBlockOp<"metropolis", (ins F64Attr:$proposal_scale)> {
  let summary = "Random-walk Metropolis block of a stochastic normalizing flow";
  let description = [{
    `steps` Metropolis steps on exp(-u_lambda): propose y' = y + sigma xi,
    xi ~ N(0, I) (sigma = `proposal_scale`), accept with probability
    min(1, exp(u_lambda(y) - u_lambda(y'))). The kernel satisfies detailed
    balance, so the path term is V = u_lambda(z) - u_lambda(x) in both
    directions (the SNF paper's Delta S = u(end) - u(start) of the path
    x -> z; sampling, its negative). The noise per step is D normals and one
    uniform: from the
    layer-noise stream, or given as `forward_noise` / `inverse_noise`
    (`tensor<?x(steps*(D+1))xT>`: the steps*D normals step-major, then the
    steps uniforms).

    ```mlir
    %z = nf.metropolis %x energy @double_well {proposal_scale = 0.25, steps = 20 : i64} : tensor<?x2xf64>
    ```
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise bijections
//===----------------------------------------------------------------------===//

/// An elementwise bijection: the op implements the three scalar builders of
/// ElementwiseBijectionOpInterface (in ElementwiseOps.cpp); its layer
/// builders are shared.
class NF_ElementwiseLayerOp<string mnemonic, list<Trait> traits = []>
    : NF_SameShapeLayerOp<mnemonic, "Bijection", !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<NF_ElementwiseBijectionOpInterface>])> {
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDefinition = [{
    ::mlir::FailureOr<::mlir::nf::LayerValues>
    $cppClass::buildForward(::mlir::OpBuilder &builder,
                            ::mlir::ValueRange operands, bool withLogDet) {
      return ::mlir::nf::buildElementwiseLayer(
          *this, builder, operands.front(), /*inverse=*/false, withLogDet);
    }
    ::mlir::FailureOr<::mlir::nf::LayerValues>
    $cppClass::buildInverse(::mlir::OpBuilder &builder, ::mlir::Value output,
                            ::mlir::ValueRange, bool withLogDet) {
      return ::mlir::nf::buildElementwiseLayer(
          *this, builder, output, /*inverse=*/true, withLogDet);
    }
  }];
}

def NF_SigmoidOp : NF_ElementwiseLayerOp<"sigmoid"> {
  let summary = "Elementwise sigmoid with temperature: z = sigmoid(T x)";
  let description = [{
    V = sum_i [log T - softplus(-T x_i) - softplus(T x_i)]; inverse
    x = (log z - log1p(-z)) / T for z in (0, 1).

    ```mlir
    %z = nf.sigmoid %x {temperature = 2.0} : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       DefaultValuedAttr<F64Attr, "1.0">:$temperature);
  let hasVerifier = 1;
}

def NF_LogitOp : NF_ElementwiseLayerOp<"logit"> {
  let summary = "Elementwise logit with alpha-rescaling: data in [0, 1] to R";
  let description = [{
    x' = alpha + (1 - 2 alpha) x (the image preprocessing of RealNVP/Glow,
    alpha in [0, 0.5)), clamped to [eps, 1 - eps] (eps = 1e-6, as survae),
    z = (log x' - log1p(-x')) / T.
    V = sum_i [log(1 - 2 alpha) - log T - log x'_i - log1p(-x'_i)].
    The support is x' in [0, 1] (x in [0, 1] when alpha = 0, slightly wider
    otherwise, which is what the inverse sigmoid(T z) can produce); inputs
    outside it get V = -inf (so log p(x) = -inf) and z = 0, never NaN.

    ```mlir
    %z = nf.logit %x {alpha = 0.05} : tensor<?x3x8x8xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       DefaultValuedAttr<F64Attr, "0.0">:$alpha,
                       DefaultValuedAttr<F64Attr, "1.0">:$temperature);
  let hasVerifier = 1;
}

def NF_TanhOp : NF_ElementwiseLayerOp<"tanh"> {
  let summary = "Elementwise tanh: R to (-1, 1)";
  let description = [{
    V = sum_i 2 (log 2 - x_i - softplus(-2 x_i)) (stable form of
    log(1 - tanh^2)); inverse x = (log1p(z) - log1p(-z)) / 2.

    ```mlir
    %z = nf.tanh %x : tensor<?x4xf64>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input);
}

def NF_SoftplusOp : NF_ElementwiseLayerOp<"softplus"> {
  let summary = "Elementwise softplus: R to (0, inf)";
  let description = [{
    z = log(1 + e^x) (as max(x, 0) + log1p(e^-|x|)); V = sum_i logsigmoid(x_i)
    = -sum_i softplus(-x_i); inverse x = z + log(-expm1(-z)).

    ```mlir
    %z = nf.softplus %x : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input);
}

def NF_LeakyReLUOp : NF_ElementwiseLayerOp<"leaky_relu"> {
  let summary = "Elementwise leaky ReLU with slope alpha > 0 for x < 0";
  let description = [{
    z = x for x >= 0, alpha x otherwise; V = log(alpha) * #{i : x_i < 0};
    inverse z for z >= 0, z / alpha otherwise.

    ```mlir
    %z = nf.leaky_relu %x {slope = 0.1} : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       DefaultValuedAttr<F64Attr, "0.01">:$slope);
  let hasVerifier = 1;
}

def NF_ExpOp : NF_ElementwiseLayerOp<"exp"> {
  let summary = "Elementwise exp: R to (0, inf)";
  let description = [{
    V = sum_i x_i; inverse x = log z.

    ```mlir
    %z = nf.exp %x : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input);
}

def NF_LogOp : NF_ElementwiseLayerOp<"log"> {
  let summary = "Elementwise log: (0, inf) to R";
  let description = [{
    V = -sum_i log x_i; inverse x = exp z. Inputs x <= 0 are out of the
    support: V = -inf and z = 0, never NaN.

    ```mlir
    %z = nf.log %x : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input);
}

def NF_ElementwiseOp : NF_ElementwiseLayerOp<"elementwise", [
    IsolatedFromAbove, SingleBlock,
    RecursiveMemoryEffects]> {
  let summary = "A user-defined elementwise bijection: write only the forward";
  let description = [{
    The body maps one scalar x (the block argument, of the data's element
    type) to z with arith and math ops, ending in `nf.scalar_yield`. The
    compiler derives the rest:

    - the inverse symbolically when the body is a chain of injective
      primitives on x (add/sub of x-independent values; mul/div by values
      proven nonzero: nonzero constants, exp, products of such; negation,
      exp/log, log1p/expm1, tanh/atanh, sinh/asinh, sqrt; powf by an odd
      integer constant, or by a nonzero constant over a base proven
      positive), undoing them in reverse order;
    - otherwise, when `monotone` is given, by a safeguarded Newton/bisection
      solve (bracket doubling, then Newton steps kept inside the bracket) to
      `tolerance`; the verifier evaluates the body on a grid over [-10, 10]
      and rejects a declaration the values contradict;
    - anything else is rejected by the verifier, naming the op (and the
      operand) in the way;
    - log|f'(x)| by forward-mode symbolic differentiation of the body (chain
      and product rules over arith/math), in log space (log cosh, log of exp
      chains), so that it stays finite where f'(x) overflows.

    ```mlir
    %z = nf.elementwise %x : tensor<?x4xf32> {
    ^bb0(%v: f32):
      %c = arith.constant 2.0 : f32
      %0 = arith.mulf %v, %c : f32
      %1 = math.sinh %0 : f32
      nf.scalar_yield %1 : f32
    }
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input,
                       OptionalAttr<NF_MonotonicityAttr>:$monotone,
                       DefaultValuedAttr<F64Attr, "1.0e-10">:$tolerance);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $input (`monotone` $monotone^)? attr-dict `:` type($input) $body
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The x-dependent operand of each op from x to the yielded value, if
    /// the body is a chain of symbolically invertible primitives; otherwise
    /// failure, with the reason in `why`.
    ::mlir::FailureOr<::llvm::SmallVector<::mlir::OpOperand *>>
    getInversionChain(std::string &why);
  }];
}

def NF_ScalarYieldOp : NF_Op<"scalar_yield", [Pure, Terminator, ReturnLike,
                                              HasParent<"ElementwiseOp">]> {
  let summary = "Returns the scalar result of an nf.elementwise body";
  let description = [{
    ```mlir
    nf.scalar_yield %z : f32
    ```
  }];
  let arguments = (ins AnyFloat:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

def NF_ElementwiseChainOp : NF_ElementwiseLayerOp<"elementwise_chain", [
    IsolatedFromAbove, SingleBlock,
    RecursiveMemoryEffects]> {
  let summary = "Consecutive elementwise bijections composed into one layer";
  let description = [{
    The body is a chain of elementwise bijections (ops with
    ElementwiseBijectionOpInterface) from the block argument, of the data's
    type, to `nf.chain_yield`. The layer applies them in order in one pass
    over the data: its scalar forward is the composition of the members',
    its inverse their inverses in reverse order, and log|f'(x)| the sum of
    the members' at each member's input. `nf-fuse-layers` builds it from
    consecutive elementwise layers of a model.

    ```mlir
    %z = nf.elementwise_chain %x : tensor<?x4xf32> {
    ^bb0(%a: tensor<?x4xf32>):
      %0 = nf.logit %a {alpha = 0.05} : tensor<?x4xf32>
      %1 = nf.tanh %0 : tensor<?x4xf32>
      nf.chain_yield %1 : tensor<?x4xf32>
    }
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$input attr-dict `:` type($input) $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The member bijections, in the order they apply.
    ::llvm::SmallVector<::mlir::nf::ElementwiseBijectionOpInterface>
    getMembers();
  }];
}

def NF_ChainYieldOp : NF_Op<"chain_yield", [Pure, Terminator, ReturnLike,
                                            HasParent<"ElementwiseChainOp">]> {
  let summary = "Returns the last member's result of an nf.elementwise_chain";
  let description = [{
    ```mlir
    nf.chain_yield %1 : tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

//===----------------------------------------------------------------------===//
// Conditioner building blocks
//===----------------------------------------------------------------------===//

def NF_MLPOp : NF_Op<"mlp", [Pure]> {
  let summary = "Multilayer perceptron, a convenience op for conditioners";
  let description = [{
    Dense layers y = x W_k + b_k, with `activation` between layers (not after
    the last). `params` are (W_0, b_0, W_1, b_1, ...), W_k of type
    `tensor<in x out x T>` and b_k of type `tensor<out x T>`.

    ```mlir
    %h = nf.mlp %x (%w0, %b0, %w1, %b1 : tensor<2x64xf32>, tensor<64xf32>, tensor<64x4xf32>, tensor<4xf32>)
           activation relu : tensor<?x2xf32> -> tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NF_BatchTensor:$input, Variadic<NF_ParamTensor>:$params,
                       NF_ActivationAttr:$activation);
  let results = (outs NF_BatchTensor:$output);
  let assemblyFormat = [{
    $input `(` $params `:` type($params) `)` `activation` `` $activation
    attr-dict `:` type($input) `->` type($output)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Builds the MLP as linalg.matmul and elementwise linalg.generic ops on
    /// `operands` (the op's operands, remapped) at the insertion point.
    ::mlir::Value buildLinalg(::mlir::OpBuilder &builder,
                              ::mlir::ValueRange operands);
  }];
}

#endif // NF_DIALECT_NF_IR_NFOPS_TD
