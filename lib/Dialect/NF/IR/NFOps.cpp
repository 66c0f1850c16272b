//===- NFOps.cpp - Model container, shared layer checks -------------------===//
//
// The generated op classes, the nf.model container and the checks shared by
// all layers. Each layer family's verifier and builders live in its own
// file (AffineOps.cpp, PermutationOps.cpp, CouplingOps.cpp, ...; see
// docs/ARCHITECTURE.md); the members ODS defines for coupling and
// autoregressive ops call the functions of CouplingOps.h and
// AutoregressiveOps.h.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/NFOps.h"

#include "nf/Dialect/NF/IR/AutoregressiveOps.h"
#include "nf/Dialect/NF/IR/CouplingOps.h"
#include "nf/Target/EntryPoints.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::nf;

//===----------------------------------------------------------------------===//
// Type predicates
//===----------------------------------------------------------------------===//

static bool isSupportedFloat(Type type) { return type.isF32() || type.isF64(); }

bool mlir::nf::isFloatTensorType(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && !tensor.getEncoding() &&
         isSupportedFloat(tensor.getElementType());
}

bool mlir::nf::isParamTensorType(Type type) {
  return isFloatTensorType(type) &&
         cast<RankedTensorType>(type).hasStaticShape();
}

bool mlir::nf::isBatchTensorType(Type type) {
  if (!isFloatTensorType(type))
    return false;
  auto tensor = cast<RankedTensorType>(type);
  return tensor.getRank() >= 2 &&
         llvm::none_of(tensor.getShape().drop_front(), ShapedType::isDynamic);
}

int64_t mlir::nf::getEventSize(Type type) {
  int64_t size = 1;
  for (int64_t d : cast<RankedTensorType>(type).getShape().drop_front())
    size *= d;
  return size;
}

//===----------------------------------------------------------------------===//
// FlowLayerOpInterface helpers
//===----------------------------------------------------------------------===//

Exactness mlir::nf::getDefaultExactness(LayerKind kind) {
  switch (kind) {
  case LayerKind::Bijection:
  case LayerKind::InferenceSurjection:
    return Exactness::Exact;
  case LayerKind::GenerativeSurjection:
  case LayerKind::Stochastic:
    return Exactness::Bound;
  }
  llvm_unreachable("unknown layer kind");
}

LogicalResult mlir::nf::verifyFlowLayer(Operation *op) {
  auto layer = cast<FlowLayerOpInterface>(op);
  Type elementType = getElementTypeOrSelf(layer.getInput().getType());

  for (OpOperand &operand : op->getOpOperands()) {
    Type type = operand.get().getType();
    if (isa<ShapedType>(type) && getElementTypeOrSelf(type) != elementType)
      return op->emitOpError("operand #")
             << operand.getOperandNumber() << " has element type "
             << getElementTypeOrSelf(type) << ", but the data has "
             << elementType;
  }
  return success();
}

LogicalResult mlir::nf::verifyBroadcastParameter(Operation *op, StringRef name,
                                                 Value param,
                                                 RankedTensorType dataType) {
  auto type = cast<RankedTensorType>(param.getType());
  ArrayRef<int64_t> shape = type.getShape();
  ArrayRef<int64_t> eventShape = dataType.getShape().drop_front();
  bool perSample =
      type.getRank() == dataType.getRank() && shape.drop_front() == eventShape;
  if (type.getRank() == 0 || shape == eventShape || perSample)
    return success();
  return op->emitOpError("parameter '")
         << name << "' must be a scalar tensor<T>, have the event shape ["
         << eventShape << "] or the data's shape, but has type " << type;
}

/// Checks that `out` is `in` with another number of features along
/// dimension 1: more with `grows` (checked here), fewer otherwise (the
/// caller checks how many).
LogicalResult mlir::nf::verifyFeatureChange(Operation *op, RankedTensorType in,
                                            RankedTensorType out, bool grows) {
  if (in.getRank() == out.getRank() &&
      in.getShape().drop_front(2) == out.getShape().drop_front(2) &&
      in.getElementType() == out.getElementType() &&
      (!grows || out.getDimSize(1) > in.getDimSize(1)))
    return success();
  return op->emitOpError("result must be the input with ")
         << (grows ? "more" : "fewer")
         << " features along dimension 1, but maps " << in << " to " << out;
}

//===----------------------------------------------------------------------===//
// ModelOp
//===----------------------------------------------------------------------===//

void ModelOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                    RankedTensorType dataType,
                    BaseDistributionAttrInterface base,
                    RankedTensorType contextType) {
  state.addAttribute(getSymNameAttrName(state.name),
                     builder.getStringAttr(name));
  state.addAttribute(getBaseAttrName(state.name), base);
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  block->addArgument(dataType, state.location);
  if (contextType)
    block->addArgument(contextType, state.location);
}

ParseResult ModelOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr name;
  if (parser.parseSymbolName(name, getSymNameAttrName(result.name),
                             result.attributes))
    return failure();
  SmallVector<OpAsmParser::Argument> arguments;
  if (parser.parseArgumentList(arguments, OpAsmParser::Delimiter::Paren,
                               /*allowType=*/true))
    return failure();
  Attribute base;
  if (parser.parseKeyword("base"))
    return failure();
  SMLoc baseLoc = parser.getCurrentLocation();
  if (parser.parseAttribute(base))
    return failure();
  if (!isa<BaseDistributionAttrInterface>(base))
    return parser.emitError(baseLoc, "expected a base distribution "
                                     "(#nf.std_normal, #nf.diag_normal<...> "
                                     "or #nf.uniform<...>), but got ")
           << base;
  result.addAttribute(getBaseAttrName(result.name), base);
  if (parser.parseOptionalAttrDictWithKeyword(result.attributes))
    return failure();
  Region *body = result.addRegion();
  return parser.parseRegion(*body, arguments);
}

void ModelOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printSymbolName(getSymName());
  p << '(';
  llvm::interleaveComma(getBody().getArguments(), p,
                        [&](BlockArgument arg) { p.printRegionArgument(arg); });
  p << ") base ";
  p.printAttribute(getBase());
  p.printOptionalAttrDictWithKeyword((*this)->getAttrs(),
                                     {getSymNameAttrName(), getBaseAttrName()});
  p << ' ';
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false);
}

Value ModelOp::getLatent() {
  return cast<YieldOp>(getBodyBlock().getTerminator()).getLatent();
}

SmallVector<FlowLayerOpInterface> ModelOp::getLayers() {
  return llvm::to_vector(getBodyBlock().getOps<FlowLayerOpInterface>());
}

Exactness ModelOp::getExactness() {
  // An estimated term makes the sum an estimate; otherwise any bounded term
  // makes it a bound.
  Exactness result = Exactness::Exact;
  for (FlowLayerOpInterface layer : getLayers()) {
    Exactness exactness = layer.getExactness();
    if (exactness == Exactness::Estimate)
      return Exactness::Estimate;
    if (exactness == Exactness::Bound)
      result = Exactness::Bound;
  }
  return result;
}

bool ModelOp::isExact() { return getExactness() == Exactness::Exact; }

/// Whether `name` is a C identifier: the compiled library's symbols embed it.
static bool isCIdentifier(StringRef name) {
  return !name.empty() && (llvm::isAlpha(name[0]) || name[0] == '_') &&
         llvm::all_of(name,
                      [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

LogicalResult ModelOp::verify() {
  StringRef name = getSymName();
  if (!isCIdentifier(name))
    return emitOpError("name '")
           << name
           << "' must be a C identifier ([A-Za-z_][A-Za-z0-9_]*): the "
              "compiled library's functions are named nf_<model>_<entry>";
  // Models compiled into one library must not generate the same symbol
  // (@m's nf_m_latent_dim is @m_latent's dim entry). Each
  // pair is reported once, at the later model.
  Operation *parent = (*this)->getParentOp();
  if (!parent)
    return success();
  llvm::StringMap<StringRef> generated;
  abi::forEachGeneratedSymbol(name.str(), [&](const std::string &symbol) {
    generated.try_emplace(symbol, symbol);
  });
  for (Operation &op : parent->getRegion(0).front()) {
    if (&op == getOperation())
      break;
    auto other = dyn_cast<ModelOp>(op);
    if (!other)
      continue;
    std::string clash;
    abi::forEachGeneratedSymbol(other.getSymName().str(),
                                [&](const std::string &symbol) {
                                  if (clash.empty() && generated.count(symbol))
                                    clash = symbol;
                                });
    if (clash.empty())
      continue;
    InFlightDiagnostic diag = emitOpError("name '")
                              << name << "' cannot share a library with model @"
                              << other.getSymName() << ": both would define '"
                              << clash << "'";
    diag.attachNote(other.getLoc())
        << "model @" << other.getSymName() << " is here";
    return diag;
  }
  return success();
}

LogicalResult ModelOp::verifyRegions() {
  if (getNumIwaePaths() < 1)
    return emitOpError("iwae_paths must be >= 1, but is ") << getNumIwaePaths();
  Block &block = getBodyBlock();
  if (block.getNumArguments() < 1 || block.getNumArguments() > 2)
    return emitOpError("expects the data x and an optional context as "
                       "arguments, but has ")
           << block.getNumArguments() << " arguments";
  Type dataType = getData().getType();
  if (!isBatchTensorType(dataType) ||
      !cast<RankedTensorType>(dataType).isDynamicDim(0))
    return emitOpError("data must be a tensor<?x...xT> with a dynamic batch "
                       "dimension, static event dimensions and T = f32 or "
                       "f64, but is ")
           << dataType;
  Type elementType = getDataType().getElementType();
  if (BlockArgument context = getConditioningContext()) {
    auto contextType = dyn_cast<RankedTensorType>(context.getType());
    if (!contextType || !isBatchTensorType(contextType) ||
        contextType.getRank() != 2 || !contextType.isDynamicDim(0) ||
        contextType.getElementType() != elementType)
      return emitOpError("context must be a tensor<?xCxT> with the data's "
                         "element type ")
             << elementType << ", but is " << context.getType();
  }
  auto yield = block.empty() ? YieldOp() : dyn_cast<YieldOp>(block.back());
  if (!yield)
    return emitOpError("body must end with nf.yield");

  // The data path is a chain x -> layer -> ... -> layer -> yield, and only
  // layers touch the data or the context. Parameters are everything else.
  Value current = getData();
  for (Operation &op : block.without_terminator()) {
    auto layer = dyn_cast<FlowLayerOpInterface>(op);
    for (OpOperand &operand : op.getOpOperands()) {
      Value value = operand.get();
      bool isInput = layer && operand.getOperandNumber() == 0;
      if (isInput && value != current)
        return op.emitOpError("input must be the output of the previous layer "
                              "(or the model's data): the flow is a chain");
      if (isInput)
        continue;
      Operation *producer = value.getDefiningOp();
      bool isDataPath = value == getData() ||
                        (producer && isa<FlowLayerOpInterface>(producer) &&
                         producer->getBlock() == &block);
      if (isDataPath)
        return op.emitOpError("uses flow data as operand #")
               << operand.getOperandNumber()
               << "; only a layer's input may take the data path";
      if (value == getConditioningContext() && !layer)
        return op.emitOpError("uses the model context; only layers may take "
                              "the context");
    }
    if (!layer)
      continue;
    // Only surjective and stochastic layers may change the dimension.
    if (layer.getLayerKind() == LayerKind::Bijection &&
        getEventSize(layer.getInput().getType()) !=
            getEventSize(layer.getOutput().getType()))
      return op.emitOpError("is a bijection, so it must keep the number of "
                            "values per sample, but maps ")
             << layer.getInput().getType() << " to "
             << layer.getOutput().getType();
    current = layer.getOutput();
  }
  if (yield.getLatent() != current)
    return yield.emitOpError("must return the output of the last layer");
  return getBase().verifyLatentType([&] { return emitOpError(); },
                                    cast<RankedTensorType>(current.getType()));
}

#define GET_OP_CLASSES
#include "nf/Dialect/NF/IR/NFOps.cpp.inc"
