//===- InterfaceTest.cpp - Queries and builders of the layer interfaces ---===//

#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/InitAllNF.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::nf;

namespace {

constexpr const char *kModel = R"mlir(
func.func private @net(%xa: tensor<?x1xf64>, %c: tensor<?x2xf64>) -> tensor<?x4xf64> {
  %w = arith.constant dense<0.5> : tensor<1x4xf64>
  %b = arith.constant dense<0.1> : tensor<4xf64>
  %h = nf.mlp %xa (%w, %b : tensor<1x4xf64>, tensor<4xf64>) activation tanh : tensor<?x1xf64> -> tensor<?x4xf64>
  return %h : tensor<?x4xf64>
}
nf.model @flow(%x: tensor<?x3xf64>, %c: tensor<?x2xf64>) base #nf.std_normal {
  %s = arith.constant dense<[0.5, 2.0, -1.0]> : tensor<3xf64>
  %t = arith.constant dense<0.25> : tensor<f64>
  %0 = nf.affine %x scale %s shift %t : tensor<?x3xf64>, tensor<3xf64>, tensor<f64>
  %1 = nf.affine_coupling %0 identity [1] conditioner @net context %c : tensor<?x2xf64> scale_fn softplus : tensor<?x3xf64>
  %2 = nf.reverse %1 : tensor<?x3xf64>
  %3 = nf.permute %2 [2, 0, 1] : tensor<?x3xf64>
  nf.yield %3 : tensor<?x3xf64>
}
)mlir";

class InterfaceTest : public ::testing::Test {
protected:
  InterfaceTest() {
    DialectRegistry registry;
    registerAllNFDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    module = parseSourceString<ModuleOp>(kModel, &context);
  }

  ModelOp getModel() { return *module->getOps<ModelOp>().begin(); }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(InterfaceTest, LayerKindIsDeclaredInODS) {
  EXPECT_EQ(AffineOp::getLayerKind(), LayerKind::Bijection);
  EXPECT_EQ(ReverseOp::getLayerKind(), LayerKind::Bijection);
  EXPECT_EQ(PermuteOp::getLayerKind(), LayerKind::Bijection);
  EXPECT_EQ(AffineCouplingOp::getLayerKind(), LayerKind::Bijection);
}

TEST_F(InterfaceTest, DefaultExactnessFollowsSurVAEClass) {
  EXPECT_EQ(getDefaultExactness(LayerKind::Bijection), Exactness::Exact);
  EXPECT_EQ(getDefaultExactness(LayerKind::InferenceSurjection),
            Exactness::Exact);
  EXPECT_EQ(getDefaultExactness(LayerKind::GenerativeSurjection),
            Exactness::Bound);
  EXPECT_EQ(getDefaultExactness(LayerKind::Stochastic), Exactness::Bound);
}

TEST_F(InterfaceTest, ModelListsItsLayersInFlowOrder) {
  ASSERT_TRUE(module);
  ModelOp model = getModel();
  SmallVector<FlowLayerOpInterface> layers = model.getLayers();
  ASSERT_EQ(layers.size(), 4u);
  EXPECT_TRUE(isa<AffineOp>(layers[0]));
  EXPECT_TRUE(isa<AffineCouplingOp>(layers[1]));
  EXPECT_TRUE(isa<ReverseOp>(layers[2]));
  EXPECT_TRUE(isa<PermuteOp>(layers[3]));
  // The data path is a chain from x to the latent.
  EXPECT_EQ(layers[0].getInput(), model.getData());
  for (unsigned i = 1; i < layers.size(); ++i)
    EXPECT_EQ(layers[i].getInput(), layers[i - 1].getOutput());
  EXPECT_EQ(model.getLatent(), layers.back().getOutput());
  EXPECT_TRUE(model.getConditioningContext());
  EXPECT_TRUE(model.isExact());
}

TEST_F(InterfaceTest, InterfaceQueries) {
  ASSERT_TRUE(module);
  SmallVector<FlowLayerOpInterface> layers = getModel().getLayers();
  for (FlowLayerOpInterface layer : layers) {
    EXPECT_EQ(layer.getLayerKind(), LayerKind::Bijection);
    EXPECT_EQ(layer.getExactness(), Exactness::Exact);
  }
  EXPECT_FALSE(layers[0].isVolumePreserving());
  EXPECT_FALSE(layers[1].isVolumePreserving());
  EXPECT_TRUE(layers[2].isVolumePreserving());
  EXPECT_TRUE(layers[3].isVolumePreserving());
}

TEST_F(InterfaceTest, BaseDistributionChecksLatentType) {
  auto f32 = Float32Type::get(&context);
  auto params = DenseFPElementsAttr::get(RankedTensorType::get({2}, f32),
                                         ArrayRef<float>{0.0f, 1.0f});
  auto base = DiagNormalAttr::get(&context, params, params);
  auto latent2 = RankedTensorType::get({ShapedType::kDynamic, 2}, f32);
  auto latent3 = RankedTensorType::get({ShapedType::kDynamic, 3}, f32);
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto emitError = [&] { return mlir::emitError(UnknownLoc::get(&context)); };
  EXPECT_TRUE(succeeded(base.verifyLatentType(emitError, latent2)));
  EXPECT_TRUE(message.empty());
  EXPECT_TRUE(failed(base.verifyLatentType(emitError, latent3)));
  EXPECT_NE(message.find("needs the event shape"), std::string::npos)
      << message;
}

/// Calls both builders of every layer of the model inside a new function
/// whose arguments stand for x, z and the context, and checks what they
/// build.
TEST_F(InterfaceTest, BuildersEmitVerifiedUpstreamIR) {
  ASSERT_TRUE(module);
  ModelOp model = getModel();
  OpBuilder b(&context);
  b.setInsertionPointToEnd(module->getBody());
  Location loc = model.getLoc();
  RankedTensorType dataType = model.getDataType();
  Type contextType = model.getConditioningContext().getType();

  for (FlowLayerOpInterface layer : model.getLayers()) {
    auto fnType = b.getFunctionType({dataType, dataType, contextType}, {});
    std::string name = ("check_" + layer->getName().stripDialect()).str();
    auto fn = func::FuncOp::create(b, loc, name, fnType);
    Block *entry = fn.addEntryBlock();
    OpBuilder fb = OpBuilder::atBlockBegin(entry);
    // Parameters: clone their constant producers into the function.
    IRMapping mapping;
    mapping.map(layer.getInput(), entry->getArgument(0));
    mapping.map(model.getConditioningContext(), entry->getArgument(2));
    SmallVector<Value> operands;
    for (Value operand : layer->getOperands()) {
      if (!mapping.contains(operand))
        fb.clone(*operand.getDefiningOp(), mapping);
      operands.push_back(mapping.lookup(operand));
    }
    FailureOr<LayerValues> forward =
        layer.buildForward(fb, operands, /*withLogDet=*/true);
    FailureOr<LayerValues> inverse = layer.buildInverse(
        fb, entry->getArgument(1), operands, /*withLogDet=*/true);
    ASSERT_TRUE(succeeded(forward));
    ASSERT_TRUE(succeeded(inverse));
    EXPECT_EQ(forward->value.getType(), dataType);
    EXPECT_EQ(inverse->value.getType(), dataType);
    func::ReturnOp::create(fb, loc);

    // V: absent for permutations, once per call for a per-feature affine,
    // per sample for a coupling.
    if (layer.isVolumePreserving()) {
      EXPECT_FALSE(forward->logDet);
      EXPECT_FALSE(inverse->logDet);
    } else {
      ASSERT_TRUE(forward->logDet);
      auto logDetType = cast<RankedTensorType>(forward->logDet.getType());
      EXPECT_EQ(logDetType.getRank(), isa<AffineOp>(layer) ? 0 : 1);
      EXPECT_EQ(logDetType.getElementType(), dataType.getElementType());
    }
    // Builders only emit upstream IR.
    fn.walk([&](Operation *op) {
      EXPECT_NE(op->getDialect()->getNamespace(), "nf")
          << "builder of " << layer->getName().getStringRef().str()
          << " emitted " << op->getName().getStringRef().str();
    });
    if (isa<AffineCouplingOp>(layer)) {
      // The inverse re-evaluates the conditioner rather than inverting it.
      unsigned calls = 0;
      fn.walk([&](func::CallOp call) {
        EXPECT_EQ(call.getCallee(), "net");
        ++calls;
      });
      EXPECT_EQ(calls, 2u);
    }
  }
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(InterfaceTest, ModelBuilderMakesAnEmptyFlow) {
  OpBuilder b(&context);
  auto f32 = Float32Type::get(&context);
  auto dataType = RankedTensorType::get({ShapedType::kDynamic, 2}, f32);
  auto model = ModelOp::create(b, UnknownLoc::get(&context), "m", dataType,
                               StandardNormalAttr::get(&context));
  OpBuilder body = OpBuilder::atBlockEnd(&model.getBodyBlock());
  Value z = ReverseOp::create(body, model.getLoc(), model.getData());
  YieldOp::create(body, model.getLoc(), z);
  EXPECT_TRUE(succeeded(verify(model)));
  EXPECT_EQ(model.getLayers().size(), 1u);
  EXPECT_FALSE(model.getConditioningContext());
  model->erase();
}

} // namespace
