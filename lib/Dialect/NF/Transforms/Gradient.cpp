//===- Gradient.cpp - Reverse-mode differentiation of tensor functions ----===//
//
// The gradient function is the primal function followed by its adjoint
// sweep: ops are visited in reverse, each adding its operands' adjoints.
// A linalg op's adjoint for input k is one linalg.generic over the op's
// iteration space that multiplies the output adjoint by the payload's
// forward-mode derivative in k and sums over the loops k's map drops; so
// generic and named ops (matmul, reductions, broadcasts) share one rule.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/Transforms/Gradient.h"
#include "nf/Dialect/NF/IR/ScalarDerivatives.h"

#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

using namespace mlir;
using namespace mlir::nf;

/// The values of `block` that depend on `seeds`.
static DenseSet<Value> getDependents(Block &block, ValueRange seeds) {
  DenseSet<Value> dependent(seeds.begin(), seeds.end());
  for (Operation &op : block)
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return dependent.contains(v); }))
      dependent.insert(op.result_begin(), op.result_end());
  return dependent;
}

/// How a linalg payload's result uses the accumulator (the init's element):
/// not at all, as `acc + f` with f independent of it (a sum), or in any way
/// when no loop is a reduction (the init is then one more elementwise input).
enum class Accumulation { None, Sum, Elementwise };

static Value getYielded(linalg::LinalgOp op) {
  return op.getBlock()->getTerminator()->getOperand(0);
}

/// Whether a region of `op` uses an active value defined outside it.
static bool usesActiveValueInRegions(Operation *op,
                                     const DenseSet<Value> &active) {
  SetVector<Value> captured;
  getUsedValuesDefinedAbove(op->getRegions(), captured);
  return llvm::any_of(captured, [&](Value v) { return active.contains(v); });
}

/// Checks that `op` (with active operands) can be differentiated.
static FailureOr<Accumulation> checkLinalgOp(linalg::LinalgOp op,
                                             const DenseSet<Value> &active) {
  if (!op.hasPureTensorSemantics() || op->getNumResults() != 1 ||
      op.getNumDpsInits() != 1 || !op.getBlock()) {
    op->emitOpError("cannot be differentiated: the energy gradient needs "
                    "linalg ops on tensors with one result");
    return failure();
  }
  for (OpOperand *input : op.getDpsInputOperands())
    if (active.contains(input->get()) &&
        (!isa<RankedTensorType>(input->get().getType()) ||
         !op.getMatchingIndexingMap(input).isProjectedPermutation())) {
      op->emitOpError("cannot be differentiated in operand #")
          << input->getOperandNumber()
          << ": the energy gradient needs tensor operands read through "
             "projected permutations";
      return failure();
    }
  // Payload ops that depend on an x-dependent operand need a derivative.
  Block *body = op.getBlock();
  SmallVector<Value> activeArguments;
  for (OpOperand &operand : op->getOpOperands())
    if (active.contains(operand.get()))
      activeArguments.push_back(op.getMatchingBlockArgument(&operand));
  DenseSet<Value> dependent = getDependents(*body, activeArguments);
  for (Operation &inner : body->without_terminator()) {
    bool onArgs = llvm::any_of(inner.getOperands(),
                               [&](Value v) { return dependent.contains(v); });
    bool floatResult =
        inner.getNumResults() == 1 && inner.getResult(0).getType().isFloat();
    if (onArgs && (inner.getNumRegions() != 0 ||
                   (floatResult && !hasScalarDerivativeRule(&inner)))) {
      inner.emitOpError("cannot be differentiated (in the payload of ")
          << op->getName() << "; the energy gradient knows arith/math "
          << "ops such as add, mul, div, exp, log, tanh, sqrt, powf, sin)";
      return failure();
    }
  }
  Value acc = body->getArguments().back();
  DenseSet<Value> onAcc = getDependents(*body, ValueRange{acc});
  Value yielded = getYielded(op);
  if (op.getNumReductionLoops() == 0)
    return onAcc.contains(yielded) ? Accumulation::Elementwise
                                   : Accumulation::None;
  if (!onAcc.contains(yielded)) {
    // Each reduction step overwrites the last: only one term survives.
    op->emitOpError("cannot be differentiated: it reduces without reading "
                    "its accumulator");
    return failure();
  }
  if (auto add = yielded.getDefiningOp<arith::AddFOp>()) {
    Value other = add.getLhs() == acc   ? add.getRhs()
                  : add.getRhs() == acc ? add.getLhs()
                                        : Value();
    if (other && !onAcc.contains(other))
      return Accumulation::Sum;
  }
  op->emitOpError("cannot be differentiated: its payload combines the "
                  "accumulator other than by a sum");
  return failure();
}

namespace {
/// Builds the adjoint sweep of one function body before its terminator.
class AdjointBuilder {
public:
  AdjointBuilder(OpBuilder &b, const DenseSet<Value> &active)
      : b(b), active(active) {}

  Value lookup(Value v) { return adjoints.lookup(v); }

  /// Adds `adjoint` to the adjoint of `value`.
  void accumulate(Value value, Value adjoint, Location loc) {
    Value &slot = adjoints[value];
    if (!slot) {
      slot = adjoint;
      return;
    }
    auto type = cast<RankedTensorType>(slot.getType());
    int64_t rank = type.getRank();
    SmallVector<AffineMap> maps(3, b.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    slot = linalg::GenericOp::create(
               b, loc, TypeRange{type}, ValueRange{slot, adjoint},
               ValueRange{createEmptyLike(b, loc, slot)}, maps, iterators,
               [](OpBuilder &nb, Location nloc, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, nloc,
                     arith::AddFOp::create(nb, nloc, args[0], args[1])
                         .getResult());
               })
               .getResult(0);
  }

  Value filledLike(Value like, double value, Location loc) {
    Type elementType = getElementTypeOrSelf(like.getType());
    return linalg::FillOp::create(
               b, loc, createFloatConstant(b, loc, elementType, value),
               createEmptyLike(b, loc, like))
        .getResult(0);
  }

  /// Propagates the adjoint `dy` of `op`'s result to its active operands.
  LogicalResult backpropagate(Operation *op, Value dy) {
    Location loc = op->getLoc();
    if (usesActiveValueInRegions(op, active))
      return op->emitOpError(
          "cannot be differentiated: its region uses an x-dependent value "
          "defined outside it (pass it as an operand)");
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
      return backpropagateLinalg(linalgOp, dy);
    if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
      accumulate(slice.getSource(),
                 tensor::InsertSliceOp::create(
                     b, loc, dy, filledLike(slice.getSource(), 0.0, loc),
                     slice.getMixedOffsets(), slice.getMixedSizes(),
                     slice.getMixedStrides()),
                 loc);
      return success();
    }
    if (auto insert = dyn_cast<tensor::InsertSliceOp>(op)) {
      if (active.contains(insert.getSource()))
        accumulate(insert.getSource(),
                   tensor::ExtractSliceOp::create(
                       b, loc, insert.getSourceType(), dy,
                       insert.getMixedOffsets(), insert.getMixedSizes(),
                       insert.getMixedStrides()),
                   loc);
      if (active.contains(insert.getDest()))
        accumulate(insert.getDest(),
                   tensor::InsertSliceOp::create(
                       b, loc, filledLike(insert.getSource(), 0.0, loc), dy,
                       insert.getMixedOffsets(), insert.getMixedSizes(),
                       insert.getMixedStrides()),
                   loc);
      return success();
    }
    if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
      accumulate(collapse.getSrc(),
                 tensor::ExpandShapeOp::create(
                     b, loc, collapse.getSrcType(), dy,
                     collapse.getReassociationIndices(),
                     tensor::getMixedSizes(b, loc, collapse.getSrc())),
                 loc);
      return success();
    }
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
      accumulate(
          expand.getSrc(),
          tensor::CollapseShapeOp::create(b, loc, expand.getSrcType(), dy,
                                          expand.getReassociationIndices()),
          loc);
      return success();
    }
    if (auto cast = dyn_cast<tensor::CastOp>(op)) {
      accumulate(cast.getSource(),
                 tensor::CastOp::create(b, loc, cast.getSource().getType(), dy),
                 loc);
      return success();
    }
    return op->emitOpError(
        "cannot be differentiated: the energy gradient knows linalg ops, "
        "tensor slices, reshapes and casts, and nf.mlp");
  }

private:
  LogicalResult backpropagateLinalg(linalg::LinalgOp op, Value dy) {
    FailureOr<Accumulation> accumulation = checkLinalgOp(op, active);
    if (failed(accumulation))
      return failure();
    OpOperand *init = op.getDpsInitOperand(0);
    for (OpOperand *input : op.getDpsInputOperands())
      if (active.contains(input->get()))
        accumulate(input->get(),
                   buildOperandAdjoint(op, op.getMatchingBlockArgument(input),
                                       input->get(),
                                       op.getMatchingIndexingMap(input), dy),
                   op.getLoc());
    if (!active.contains(init->get()))
      return success();
    if (*accumulation == Accumulation::Sum)
      accumulate(init->get(), dy, op.getLoc());
    else if (*accumulation == Accumulation::Elementwise)
      accumulate(init->get(),
                 buildOperandAdjoint(op, op.getMatchingBlockArgument(init),
                                     init->get(),
                                     op.getMatchingIndexingMap(init), dy),
                 op.getLoc());
    return success();
  }

  /// The adjoint of the operand `value` (block argument `seed`, read through
  /// `operandMap`) of `op`: one linalg.generic over op's loops that sums
  /// dy * d(payload)/d(seed) over the loops the map drops. It reads op's
  /// inputs, its init and dy.
  Value buildOperandAdjoint(linalg::LinalgOp op, BlockArgument seed,
                            Value value, AffineMap operandMap, Value dy) {
    Location loc = op.getLoc();
    Block *body = op.getBlock();
    Value yielded = getYielded(op);
    OpOperand *init = op.getDpsInitOperand(0);
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    for (OpOperand *input : op.getDpsInputOperands()) {
      inputs.push_back(input->get());
      maps.push_back(op.getMatchingIndexingMap(input));
    }
    unsigned numInputs = inputs.size();
    inputs.append({init->get(), dy});
    maps.append(2, op.getMatchingIndexingMap(init));
    maps.push_back(operandMap);
    // Loops that index the operand stay parallel; the others are summed.
    SmallVector<utils::IteratorType> iterators(op.getNumLoops(),
                                               utils::IteratorType::reduction);
    for (AffineExpr e : operandMap.getResults())
      iterators[cast<AffineDimExpr>(e).getPosition()] =
          utils::IteratorType::parallel;
    // Summed adjoints start at zero; elementwise ones never read their init
    // (so elementwise fusion may recompute them freely).
    bool sums = llvm::is_contained(iterators, utils::IteratorType::reduction);
    Value start =
        sums ? filledLike(value, 0.0, loc) : createEmptyLike(b, loc, value);
    return linalg::GenericOp::create(
               b, loc, TypeRange{start.getType()}, inputs, ValueRange{start},
               maps, iterators,
               [&](OpBuilder &nb, Location nloc, ValueRange args) {
                 ScalarBuilder s = scalarFor(nb, nloc, args.back());
                 IRMapping payload;
                 for (unsigned i = 0; i <= numInputs; ++i)
                   payload.map(body->getArgument(i), args[i]);
                 DenseMap<Value, Value> derivatives = {{seed, s.c(1.0)}};
                 cloneWithDerivatives(nb, nloc, body->without_terminator(),
                                      payload, derivatives);
                 Value derivative = derivatives.lookup(yielded);
                 Value term = derivative
                                  ? s.mul(args[numInputs + 1], derivative)
                                  : s.c(0.0);
                 linalg::YieldOp::create(
                     nb, nloc, sums ? s.add(args.back(), term) : term);
               })
        .getResult(0);
  }

  OpBuilder &b;
  const DenseSet<Value> &active;
  DenseMap<Value, Value> adjoints;
};
} // namespace

/// Values of `body` that depend on its first argument (through operands or
/// values used inside regions) and carry floats.
static DenseSet<Value> getActiveValues(Block &body) {
  DenseSet<Value> active = {body.getArgument(0)};
  for (Operation &op : body)
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return active.contains(v); }) ||
        usesActiveValueInRegions(&op, active))
      for (Value result : op.getResults())
        if (isa<FloatType>(getElementTypeOrSelf(result.getType())))
          active.insert(result);
  return active;
}

FailureOr<func::FuncOp> mlir::nf::buildGradientFunction(func::FuncOp function,
                                                        StringRef name) {
  if (function.isExternal() || function.getNumArguments() < 1 ||
      function.getNumResults() != 1 || !function.getBody().hasOneBlock())
    return function.emitOpError("cannot be differentiated: the energy "
                                "gradient needs a defined function with one "
                                "block and one result");
  OpBuilder b(function);
  b.setInsertionPointAfter(function);
  auto gradient = cast<func::FuncOp>(b.clone(*function));
  gradient.setName(name);
  auto fail = [&]() {
    gradient.erase();
    return failure();
  };
  Block &body = gradient.getBody().front();
  // Conditioner-style MLPs become linalg ops first.
  for (MLPOp mlp : llvm::make_early_inc_range(body.getOps<MLPOp>())) {
    b.setInsertionPoint(mlp);
    mlp.replaceAllUsesWith(mlp.buildLinalg(b, mlp->getOperands()));
    mlp.erase();
  }
  DenseSet<Value> active = getActiveValues(body);
  Operation *terminator = body.getTerminator();
  SmallVector<Operation *> primal;
  for (Operation &op : body.without_terminator())
    primal.push_back(&op);

  b.setInsertionPoint(terminator);
  AdjointBuilder adjoints(b, active);
  Value result = terminator->getOperand(0);
  Location loc = function.getLoc();
  if (active.contains(result))
    adjoints.accumulate(result, adjoints.filledLike(result, 1.0, loc), loc);
  for (Operation *op : llvm::reverse(primal)) {
    if (op->getNumResults() > 1 && llvm::any_of(op->getResults(), [&](Value r) {
          return adjoints.lookup(r);
        }))
      return op->emitOpError("cannot be differentiated: the energy gradient "
                             "needs ops with one result"),
             fail();
    Value dy =
        op->getNumResults() == 1 ? adjoints.lookup(op->getResult(0)) : Value();
    if (!dy)
      continue;
    if (failed(adjoints.backpropagate(op, dy)))
      return fail();
  }
  Value x = body.getArgument(0);
  Value dx = adjoints.lookup(x);
  if (!dx)
    dx = adjoints.filledLike(x, 0.0, loc);
  func::ReturnOp::create(b, terminator->getLoc(), dx);
  terminator->erase();
  gradient.setFunctionType(FunctionType::get(
      function.getContext(), function.getArgumentTypes(), {x.getType()}));
  return gradient;
}
