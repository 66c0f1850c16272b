//===- NFInterfaces.td - The semantic core of nf layers ----*- tablegen -*-===//
//
// Every flow layer implements FlowLayerOpInterface; every base distribution
// implements BaseDistributionAttrInterface. Passes and lowerings only talk to
// layers through these interfaces, never through op names.
//
//===----------------------------------------------------------------------===//

#ifndef NF_DIALECT_NF_IR_NFINTERFACES_TD
#define NF_DIALECT_NF_IR_NFINTERFACES_TD

include "mlir/IR/OpBase.td"

def NF_FlowLayerOpInterface : OpInterface<"FlowLayerOpInterface"> {
  let cppNamespace = "::mlir::nf";
  let description = [{
    A flow layer: an op whose `input` operand is the data x (batch-first) and
    whose `output` result is the latent z of the **normalizing map** x -> z.
    Its other operands are parameters (sample-independent tensors) and, for
    conditional layers, the model's context.

    The interface tells what kind of layer it is and builds, as upstream
    linalg/tensor/arith/math/func IR at the builder's insertion point:
    - the normalizing map x -> z (`buildForward`),
    - the generative map z -> x (`buildInverse`),
    each optionally with the per-sample log-likelihood contribution V at x.

    V is returned as a `LayerValues::logDet` that is null when it is
    identically 0 (volume-preserving layers), a rank-0 tensor when it does not
    depend on the sample (computed once per call), or a `tensor<?xT>` with
    one value per sample.

    The builders take the op's operands as `operands`, already remapped to
    values available at the insertion point (the slot of the data input is
    ignored by `buildInverse`), so a pass can rebuild layers in another
    function or in reverse order.
  }];

  let methods = [
    StaticInterfaceMethod<
      "SurVAE class of this layer (declared in ODS by NF_LayerOp's kind).",
      "::mlir::nf::LayerKind", "getLayerKind", (ins), [{}], [{
        return ConcreteOp::kLayerKind;
      }]>,
    InterfaceMethod<
      "Whether sum V is exactly log p or a lower bound on it.",
      "::mlir::nf::Exactness", "getExactness", (ins), [{}], [{
        return ::mlir::nf::getDefaultExactness(ConcreteOp::getLayerKind());
      }]>,
    InterfaceMethod<"The data input x (ODS operand `input`, operand 0).",
      "::mlir::Value", "getInput", (ins), [{}],
      [{ return $_op->getOperand(0); }]>,
    InterfaceMethod<"The latent output z (ODS result `output`).",
      "::mlir::Value", "getOutput", (ins), [{}],
      [{ return $_op->getResult(0); }]>,
    InterfaceMethod<
      "Whether V is identically zero (permutations, additive shifts).",
      "bool", "isVolumePreserving", (ins), [{}], [{ return false; }]>,
    InterfaceMethod<[{
        The randomness the direction (`inverse`: z -> x) consumes per sample:
        its uniform and standard normal values, and the op's explicit noise
        operand for that direction if it was given one. None for
        deterministic directions.
      }], "::mlir::nf::NoiseDraws", "getNoiseDraws", (ins "bool":$inverse),
      [{}], [{ return {}; }]>,
    InterfaceMethod<[{
        Uniform [0, 1) values per sample the direction draws from the layer
        noise: none when the op was given its noise as an operand, else its
        uniforms and two per standard normal (Box-Muller). The model's
        kernels take them from the runtime's layer-noise stream (keyed by
        seed, row and column) and pass them to the builder as one extra
        trailing operand `tensor<?xNxT>`.
      }], "int64_t", "getNoiseSize", (ins "bool":$inverse), [{
        ::mlir::nf::NoiseDraws draws = $_op.getNoiseDraws(inverse);
        return draws.explicitNoise ? 0 : draws.getLayerNoiseSize();
      }]>,
    InterfaceMethod<
      "Build the normalizing map x -> z and, if `withLogDet`, V at x.",
      "::mlir::FailureOr<::mlir::nf::LayerValues>", "buildForward",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::ValueRange":$operands,
           "bool":$withLogDet)>,
    InterfaceMethod<
      "Build the generative map z -> x and, if `withLogDet`, V at that x.",
      "::mlir::FailureOr<::mlir::nf::LayerValues>", "buildInverse",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Value":$output,
           "::mlir::ValueRange":$operands, "bool":$withLogDet)>
  ];

  let verify = [{ return ::mlir::nf::verifyFlowLayer($_op); }];
}

def NF_ConditionedLayerOpInterface
    : OpInterface<"ConditionedLayerOpInterface"> {
  let cppNamespace = "::mlir::nf";
  let description = [{
    A layer whose elementwise transformer (affine, additive,
    rational-quadratic spline) takes its parameters from a conditioner
    function of the features it depends on: coupling and autoregressive
    layers. The op's ODS accessors implement the interface.
  }];
  let methods = [
    InterfaceMethod<"The data input x.", "::mlir::Value", "getInput">,
    InterfaceMethod<"The conditioner function.", "::mlir::FlatSymbolRefAttr",
      "getConditionerAttr">,
    InterfaceMethod<"The model context the conditioner takes, or null.",
      "::mlir::Value", "getCtx">,
    InterfaceMethod<"The conditioner's trailing parameters.",
      "::mlir::Operation::operand_range", "getParams">,
    InterfaceMethod<"The elementwise map and the layout of its parameters.",
      "::mlir::nf::Transformer", "getTransformer">
  ];
}

def NF_ElementwiseBijectionOpInterface
    : OpInterface<"ElementwiseBijectionOpInterface"> {
  let cppNamespace = "::mlir::nf";
  let description = [{
    A bijection applied to every element independently, z_i = f(x_i). An op
    gives three scalar builders; its FlowLayerOpInterface map, inverse and
    V = sum_i log|f'(x_i)| then follow (`buildElementwiseLayer`).
  }];
  let methods = [
    InterfaceMethod<"Build z = f(x) for a scalar x.", "::mlir::Value",
      "buildScalarForward",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::Value":$x)>,
    InterfaceMethod<"Build x = f^-1(z) for a scalar z.", "::mlir::Value",
      "buildScalarInverse",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::Value":$z)>,
    InterfaceMethod<
      "Build log|f'(x)| for a scalar x: -inf outside the support (where the "
      "forward value is then 0), never NaN.",
      "::mlir::Value", "buildScalarLogAbsDerivative",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::Value":$x)>
  ];
}

def NF_BaseDistributionAttrInterface
    : AttrInterface<"BaseDistributionAttrInterface"> {
  let cppNamespace = "::mlir::nf";
  let description = [{
    The base (latent) distribution p_Z of a model.
  }];
  let methods = [
    InterfaceMethod<
      "Check that this distribution is defined on latents of `latentType`.",
      "::llvm::LogicalResult", "verifyLatentType",
      (ins "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError,
           "::mlir::RankedTensorType":$latentType)>,
    InterfaceMethod<
      "Build log p_Z(z) per sample (`tensor<?xT>`) for the latent `z`.",
      "::mlir::Value", "buildLogProb",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::Value":$z)>,
    InterfaceMethod<
      "The noise the runtime draws to sample z (see buildFromNoise).",
      "::mlir::nf::BaseNoise", "getNoise">,
    InterfaceMethod<
      "Build a sample z from `noise` of the latent's shape, drawn as "
      "getNoise() says (standard normal or uniform on [0, 1)).",
      "::mlir::Value", "buildFromNoise",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::Value":$noise)>,
    InterfaceMethod<[{
        The distribution of v where z[:, i] = v[:, permutation[i]] follows
        this one (its parameters permuted along dimension 1 of the latent),
        so that log p_Z(z) is the returned distribution's log p of v.
      }], "::mlir::nf::BaseDistributionAttrInterface", "getPermuted",
      (ins "::llvm::ArrayRef<int64_t>":$permutation)>
  ];
}

#endif // NF_DIALECT_NF_IR_NFINTERFACES_TD
