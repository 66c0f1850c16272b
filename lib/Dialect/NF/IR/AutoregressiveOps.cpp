//===- AutoregressiveOps.cpp - Masked autoregressive layers (MAF/IAF) -----===//
//
//   z_i = tau(x_i; h_i(x_{<i})),  h = conditioner(x [, c] [, params]),
// with tau affine (nf.affine_autoregressive) or a rational-quadratic spline
// (nf.rq_spline_autoregressive). The density direction is one conditioner
// pass. The generative direction is a loop: starting from x = 0, pass k
// makes feature k exact, so after D - 1 passes every parameter is exact and
// pass D gives x and V. `inverted` layers (IAF) swap the two directions and
// negate V. The ops' members are defined in ODS (NF_AutoregressiveOp) on top
// of the functions here, which see each op through
// ConditionedLayerOpInterface.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/AutoregressiveOps.h"

#include "nf/Dialect/NF/IR/MLPOp.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/BitVector.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::nf;

LogicalResult
mlir::nf::verifyAutoregressiveLayer(ConditionedLayerOpInterface op) {
  auto type = cast<RankedTensorType>(op.getInput().getType());
  if (type.getRank() != 2)
    return op.emitOpError("expects data of type tensor<?xDxT>, but got ")
           << type;
  return verifyContext(op, op.getCtx());
}

LogicalResult
mlir::nf::verifyAutoregressiveConditioner(ConditionedLayerOpInterface op,
                                          SymbolTableCollection &table,
                                          StringRef layout) {
  auto type = cast<RankedTensorType>(op.getInput().getType());
  int64_t features = type.getDimSize(1);
  Type elementType = type.getElementType();
  SmallVector<Type> inputs = {getBatchType(features, {}, elementType)};
  if (op.getCtx())
    inputs.push_back(op.getCtx().getType());
  llvm::append_range(inputs, op.getParams().getTypes());
  Type result =
      getBatchType(op.getTransformer().numParams * features, {}, elementType);
  if (failed(verifyConditionerType(op, table, op.getConditionerAttr(), inputs,
                                   result, layout)))
    return failure();
  return verifyAutoregressiveStructure(op);
}

namespace {
/// The conditioner's remapped operands.
struct ConditionerArgs {
  Value context;
  ValueRange params;
};
} // namespace

/// One pass: tau (or tau^-1 with `inverse`) applied to `in` with the
/// parameters the conditioner computes from `conditioned`.
static LayerValues buildPass(ConditionedLayerOpInterface op, OpBuilder &b,
                             Location loc, ConditionerArgs args,
                             Value conditioned, Value in, bool inverse,
                             bool withLogDet) {
  Transformer transformer = op.getTransformer();
  auto type = cast<RankedTensorType>(op.getInput().getType());
  Type paramsType = getBatchType(transformer.numParams * type.getDimSize(1), {},
                                 type.getElementType());
  Value h = callConditioner(b, loc, op.getConditionerAttr(), conditioned,
                            args.context, args.params, paramsType);
  return applyTransformer(b, loc, transformer, in, h, inverse, withLogDet);
}

//===----------------------------------------------------------------------===//
// Incremental inversion of MADE conditioners
//===----------------------------------------------------------------------===//

namespace {

using Values = SmallVector<double>;

/// A matrix with `cols` columns, row-major.
struct Matrix {
  Values values;
  int64_t rows = 0, cols = 0;
  double at(int64_t r, int64_t c) const { return values[r * cols + c]; }
};

/// One hidden layer's units grouped by the step of the sequential solve
/// from which each is computable: group k holds the units whose inputs
/// are solved before step k, padded to `width` slots; a unit that no output
/// needs is dropped.
struct UnitGroups {
  int64_t width = 1;
  /// Per unit, its slot (group * width + index), or -1 if dropped.
  SmallVector<int64_t> slot;
};

/// The packed constants of the incremental solve.
struct IncrementalPlan {
  /// The order in which the features are solved.
  SmallVector<int64_t> order;
  SmallVector<UnitGroups> groups;
  SmallVector<Matrix> weights;
  SmallVector<Values> biases;
  Activation activation;
};

/// The constant weights and biases of an MLP conditioner, if they are.
std::optional<std::pair<SmallVector<Matrix>, SmallVector<Values>>>
getConstantMLP(const ConditionerMLP &mlp, ValueRange params) {
  SmallVector<Matrix> weights;
  SmallVector<Values> biases;
  for (unsigned i = 0; i + 1 < mlp.paramIndices.size(); i += 2) {
    Value weight = params[mlp.paramIndices[i]];
    FailureOr<Values> w = getConstantFloatValues(weight);
    FailureOr<Values> bias =
        getConstantFloatValues(params[mlp.paramIndices[i + 1]]);
    if (failed(w) || failed(bias))
      return std::nullopt;
    auto type = cast<RankedTensorType>(weight.getType());
    weights.push_back({*w, type.getDimSize(0), type.getDimSize(1)});
    biases.push_back(*bias);
  }
  return std::make_pair(weights, biases);
}

/// What the zero pattern of an MLP conditioner's weights says: the features
/// each layer's units depend on, and an order in which the features can be
/// solved one by one (each after those its parameters need), or, if there
/// is none (not autoregressive), a feature whose parameters need itself or
/// a cycle through it.
struct DependenceStructure {
  SmallVector<SmallVector<llvm::BitVector>> reach;
  SmallVector<int64_t> order;
  int64_t blocked = -1;
};

DependenceStructure analyzeDependence(ArrayRef<Matrix> weights,
                                      int64_t features,
                                      Transformer transformer) {
  DependenceStructure result;
  auto outputColumn = [&](int64_t feature, int64_t r) {
    return transformer.layout == ParamLayout::Blocked
               ? r * features + feature
               : feature * transformer.numParams + r;
  };
  // The features each unit depends on, layer by layer.
  SmallVector<llvm::BitVector> current;
  for (int64_t j = 0; j < weights.front().rows; ++j) {
    llvm::BitVector bits(features);
    if (j < features)
      bits.set(j);
    current.push_back(bits);
  }
  for (const Matrix &w : weights) {
    SmallVector<llvm::BitVector> next(w.cols, llvm::BitVector(features));
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t c = 0; c < w.cols; ++c)
        if (w.at(r, c) != 0.0)
          next[c] |= current[r];
    result.reach.push_back(next);
    current = next;
  }
  // Solve order: each feature once the features its parameters need are.
  SmallVector<llvm::BitVector> needs(features, llvm::BitVector(features));
  for (int64_t i = 0; i < features; ++i)
    for (int64_t r = 0; r < transformer.numParams; ++r)
      needs[i] |= current[outputColumn(i, r)];
  llvm::BitVector solved(features);
  while (static_cast<int64_t>(result.order.size()) < features) {
    int64_t next = -1;
    for (int64_t i = 0; i < features && next < 0; ++i) {
      llvm::BitVector missing = needs[i];
      missing.reset(solved);
      if (!solved.test(i) && missing.none())
        next = i;
    }
    if (next < 0) {
      // Prefer a feature that needs itself directly.
      for (int64_t i = 0; i < features && result.blocked < 0; ++i)
        if (!solved.test(i) && needs[i].test(i))
          result.blocked = i;
      for (int64_t i = 0; i < features && result.blocked < 0; ++i)
        if (!solved.test(i))
          result.blocked = i;
      return result;
    }
    result.order.push_back(next);
    solved.set(next);
  }
  return result;
}

/// Plans the incremental solve; fails unless the conditioner is an MLP with
/// constant weights whose zero pattern is autoregressive.
std::optional<IncrementalPlan> planIncremental(ConditionedLayerOpInterface op,
                                               ValueRange params) {
  std::optional<ConditionerMLP> mlp = getConditionerMLP(op);
  if (!mlp)
    return std::nullopt;
  auto constants = getConstantMLP(*mlp, params);
  if (!constants || constants->first.size() < 2)
    return std::nullopt;
  IncrementalPlan plan;
  plan.activation = mlp->activation;
  plan.weights = constants->first;
  plan.biases = constants->second;
  int64_t features =
      cast<RankedTensorType>(op.getInput().getType()).getDimSize(1);
  DependenceStructure structure =
      analyzeDependence(plan.weights, features, op.getTransformer());
  if (structure.blocked >= 0)
    return std::nullopt; // not autoregressive
  plan.order = structure.order;
  SmallVector<SmallVector<llvm::BitVector>> &reach = structure.reach;
  SmallVector<int64_t> rank(features);
  for (auto [k, feature] : llvm::enumerate(plan.order))
    rank[feature] = k;

  // Group every hidden layer's units by the first step that can use them.
  for (size_t l = 0; l + 1 < plan.weights.size(); ++l) {
    int64_t width = plan.weights[l].cols;
    SmallVector<int64_t> group(width, 0);
    SmallVector<int64_t> sizes(features, 0);
    for (int64_t u = 0; u < width; ++u) {
      for (int64_t f : reach[l][u].set_bits())
        group[u] = std::max(group[u], rank[f] + 1);
      if (group[u] < features)
        ++sizes[group[u]];
    }
    UnitGroups groups;
    groups.width = std::max<int64_t>(1, *llvm::max_element(sizes));
    SmallVector<int64_t> used(features, 0);
    for (int64_t u = 0; u < width; ++u)
      groups.slot.push_back(group[u] < features
                                ? group[u] * groups.width + used[group[u]]++
                                : -1);
    plan.groups.push_back(groups);
  }
  return plan;
}

/// A constant tensor of `shape` and element type `elementType`.
Value buildConstant(OpBuilder &b, Location loc, Type elementType,
                    ArrayRef<int64_t> shape, ArrayRef<double> values) {
  auto type = RankedTensorType::get(shape, elementType);
  auto floatType = cast<FloatType>(elementType);
  SmallVector<APFloat> floats;
  for (double v : values) {
    APFloat f(v);
    bool lost;
    f.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
              &lost);
    floats.push_back(f);
  }
  return arith::ConstantOp::create(b, loc,
                                   DenseElementsAttr::get(type, floats));
}

} // namespace

LogicalResult
mlir::nf::verifyAutoregressiveStructure(ConditionedLayerOpInterface op) {
  std::optional<ConditionerMLP> mlp = getConditionerMLP(op);
  if (!mlp)
    return success(); // not an nf.mlp conditioner: nothing to read
  auto constants = getConstantMLP(*mlp, op.getParams());
  if (!constants || constants->first.empty())
    return success(); // weights known only at run time
  int64_t features =
      cast<RankedTensorType>(op.getInput().getType()).getDimSize(1);
  DependenceStructure structure =
      analyzeDependence(constants->first, features, op.getTransformer());
  if (structure.blocked < 0)
    return success();
  return op.emitOpError("conditioner @")
         << op.getConditionerAttr().getValue()
         << " is not autoregressive: by the zero pattern of its constant "
            "weights, the parameters of feature "
         << structure.blocked
         << " depend on that feature (directly or through a cycle of "
            "features), so no feature-by-feature inverse exists";
}

/// Solves out = tau^-1(in; h(out)) feature by feature in a loop over the D
/// steps, evaluating the MADE incrementally: every hidden unit is computed
/// once, at the first step whose solved features it depends on, the first
/// layer's pre-activations get a rank-1 update per solved feature, and only
/// the parameters of the feature being solved are formed. Units are packed
/// by step at compile time (groups of equal width, so every step has the
/// same shapes); a unit's slot is zero until computed, and weights from
/// units not yet computed are zero, so each step multiplies whole layers.
/// The work of about two conditioner passes instead of D.
static std::optional<LayerValues>
buildIncrementalInverse(ConditionedLayerOpInterface op, OpBuilder &b,
                        ConditionerArgs args, Value in, bool withLogDet) {
  if (op->hasAttr("nf.naive_sequential"))
    return std::nullopt;
  std::optional<IncrementalPlan> planned = planIncremental(op, args.params);
  if (!planned)
    return std::nullopt;
  IncrementalPlan &plan = *planned;
  Location loc = op.getLoc();
  Type element = getElementTypeOrSelf(in.getType());
  int64_t features = cast<RankedTensorType>(in.getType()).getDimSize(1);
  Transformer transformer = op.getTransformer();
  int64_t numParams = transformer.numParams;
  int64_t layers = plan.weights.size();
  OpFoldResult rows = tensor::getMixedSize(b, loc, in, 0);
  auto index = [&](int64_t v) { return b.getIndexAttr(v); };

  // Packed constants. First layer: per solved feature (by rank) its row in
  // slot order, the context rows, the bias.
  const UnitGroups &first = plan.groups.front();
  int64_t firstSlots = features * first.width;
  Values featureRows(features * firstSlots, 0.0), firstBias(firstSlots, 0.0);
  int64_t contextWidth = plan.weights.front().rows - features;
  Values contextRows(std::max<int64_t>(contextWidth, 1) * firstSlots, 0.0);
  for (int64_t u = 0; u < plan.weights.front().cols; ++u) {
    int64_t s = first.slot[u];
    if (s < 0)
      continue;
    for (int64_t k = 0; k < features; ++k)
      featureRows[k * firstSlots + s] =
          plan.weights.front().at(plan.order[k], u);
    for (int64_t c = 0; c < contextWidth; ++c)
      contextRows[c * firstSlots + s] =
          plan.weights.front().at(features + c, u);
    firstBias[s] = plan.biases.front()[u];
  }
  // Deeper layers: per step, the weights (slots below x group width) and
  // biases of the group computed then; the output layer per step the
  // parameters of the feature solved then.
  SmallVector<Value> stepWeights, stepBiases;
  SmallVector<int64_t> slotsOf = {firstSlots};
  for (int64_t l = 1; l < layers; ++l) {
    const Matrix &w = plan.weights[l];
    const UnitGroups &below = plan.groups[l - 1];
    int64_t inSlots = features * below.width;
    bool output = l + 1 == layers;
    int64_t width = output ? numParams : plan.groups[l].width;
    Values packed(features * inSlots * width, 0.0), bias(features * width, 0.0);
    for (int64_t c = 0; c < w.cols; ++c) {
      // The step and position within it of output column c.
      int64_t step, position;
      if (output) {
        int64_t feature = transformer.layout == ParamLayout::Blocked
                              ? c % features
                              : c / numParams;
        position = transformer.layout == ParamLayout::Blocked ? c / features
                                                              : c % numParams;
        step = llvm::find(plan.order, feature) - plan.order.begin();
      } else {
        int64_t s = plan.groups[l].slot[c];
        if (s < 0)
          continue;
        step = s / width;
        position = s % width;
      }
      bias[step * width + position] = plan.biases[l][c];
      for (int64_t r = 0; r < w.rows; ++r)
        if (below.slot[r] >= 0)
          packed[(step * inSlots + below.slot[r]) * width + position] =
              w.at(r, c);
    }
    stepWeights.push_back(
        buildConstant(b, loc, element, {features, inSlots, width}, packed));
    stepBiases.push_back(
        buildConstant(b, loc, element, {features, width}, bias));
    if (!output)
      slotsOf.push_back(features * width);
  }
  Value firstRows =
      buildConstant(b, loc, element, {features, firstSlots}, featureRows);
  SmallVector<int64_t> orderValues(plan.order);
  Value order = arith::ConstantOp::create(
      b, loc,
      DenseIntElementsAttr::get(
          RankedTensorType::get({features}, b.getIndexType()),
          ArrayRef<int64_t>(orderValues)));

  // Loop-carried values: first-layer pre-activations, the hidden layers
  // (zero until computed), the solution, V.
  auto filled = [&](int64_t width, double value) -> Value {
    Value empty =
        tensor::EmptyOp::create(b, loc, {rows, index(width)}, element);
    return linalg::FillOp::create(
               b, loc, createFloatConstant(b, loc, element, value), empty)
        .getResult(0);
  };
  Value pre = args.context
                  ? buildDenseLayer(
                        b, loc, args.context,
                        buildConstant(b, loc, element,
                                      {contextWidth, firstSlots}, contextRows),
                        buildConstant(b, loc, element, {firstSlots}, firstBias))
                  : mapSingleResult(b, loc,
                                    {filled(firstSlots, 0.0),
                                     buildConstant(b, loc, element,
                                                   {firstSlots}, firstBias)},
                                    [](OpBuilder &nb, Location nloc,
                                       ValueRange v) { return v[1]; });
  SmallVector<Value> inits = {pre};
  for (int64_t slots : slotsOf)
    inits.push_back(filled(slots, 0.0));
  inits.push_back(createEmptyLike(b, loc, in));
  if (withLogDet) {
    Value empty =
        tensor::EmptyOp::create(b, loc, ArrayRef<OpFoldResult>{rows}, element);
    inits.push_back(
        linalg::FillOp::create(b, loc,
                               createFloatConstant(b, loc, element, 0.0), empty)
            .getResult(0));
  }

  auto loop = scf::ForOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, 0),
      arith::ConstantIndexOp::create(b, loc, features),
      arith::ConstantIndexOp::create(b, loc, 1), inits,
      [&](OpBuilder &nb, Location nloc, Value k, ValueRange carried) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value pre = carried[0];
        SmallVector<Value> hidden(carried.begin() + 1,
                                  carried.begin() + 1 + slotsOf.size());
        Value out = carried[1 + slotsOf.size()];
        Value logDet = withLogDet ? carried.back() : Value();
        // Columns [offset, offset + width) of `tensor`, and back.
        auto columns = [&](Value tensor, OpFoldResult offset, int64_t width) {
          return tensor::ExtractSliceOp::create(
              b, nloc, tensor, ArrayRef<OpFoldResult>{index(0), offset},
              ArrayRef<OpFoldResult>{rows, index(width)},
              ArrayRef<OpFoldResult>{index(1), index(1)});
        };
        auto insert = [&](Value part, Value into, OpFoldResult offset) {
          int64_t width = cast<RankedTensorType>(part.getType()).getDimSize(1);
          return tensor::InsertSliceOp::create(
                     b, nloc, part, into,
                     ArrayRef<OpFoldResult>{index(0), offset},
                     ArrayRef<OpFoldResult>{rows, index(width)},
                     ArrayRef<OpFoldResult>{index(1), index(1)})
              .getResult();
        };
        // Step k's slice of a packed constant [D, ...].
        auto step = [&](Value packed) -> Value {
          auto type = cast<RankedTensorType>(packed.getType());
          SmallVector<OpFoldResult> offsets(type.getRank(), index(0));
          offsets[0] = k;
          SmallVector<OpFoldResult> sizes = {index(1)};
          SmallVector<OpFoldResult> strides(type.getRank(), index(1));
          for (int64_t d : type.getShape().drop_front())
            sizes.push_back(index(d));
          return tensor::ExtractSliceOp::create(
              b, nloc,
              RankedTensorType::get(type.getShape().drop_front(), element),
              packed, offsets, sizes, strides);
        };
        auto activate = [&](Value value) {
          return mapSingleResult(
              b, nloc, {value},
              [&](OpBuilder &ab, Location aloc, ValueRange v) {
                return buildScalarActivation(ab, aloc, plan.activation, v[0]);
              });
        };
        auto times = [&](Value lhs, Value rhs) {
          return arith::MulIOp::create(b, nloc, lhs, rhs).getResult();
        };
        // The first layer's group of this step is complete.
        Value groupOffset =
            times(k, arith::ConstantIndexOp::create(b, nloc, first.width));
        hidden[0] = insert(activate(columns(pre, groupOffset, first.width)),
                           hidden[0], groupOffset);
        // Deeper hidden layers: this step's group from the layer below.
        for (int64_t l = 1; l + 1 < layers; ++l) {
          int64_t width = plan.groups[l].width;
          Value offset =
              times(k, arith::ConstantIndexOp::create(b, nloc, width));
          Value next = activate(buildDenseLayer(b, nloc, hidden[l - 1],
                                                step(stepWeights[l - 1]),
                                                step(stepBiases[l - 1])));
          hidden[l] = insert(next, hidden[l], offset);
        }
        // This step's feature: its parameters, then tau^-1.
        Value params =
            buildDenseLayer(b, nloc, hidden.back(), step(stepWeights.back()),
                            step(stepBiases.back()));
        Value feature = tensor::ExtractOp::create(b, nloc, order, k);
        LayerValues solved =
            applyTransformer(b, nloc, transformer, columns(in, feature, 1),
                             params, /*inverse=*/true, withLogDet);
        out = insert(solved.value, out, feature);
        if (withLogDet)
          logDet = addLogDets(b, nloc, logDet, solved.logDet);
        // Its contribution to the first layer (a rank-1 update).
        Value row = step(firstRows);
        SmallVector<AffineMap> maps = {
            b.getMultiDimIdentityMap(2),
            AffineMap::get(2, 0,
                           {b.getAffineDimExpr(0), b.getAffineConstantExpr(0)},
                           b.getContext()),
            AffineMap::get(2, 0, {b.getAffineDimExpr(1)}, b.getContext()),
            b.getMultiDimIdentityMap(2)};
        SmallVector<utils::IteratorType> iterators(
            2, utils::IteratorType::parallel);
        pre = linalg::GenericOp::create(
                  b, nloc, TypeRange{pre.getType()},
                  ValueRange{pre, solved.value, row}, ValueRange{pre}, maps,
                  iterators,
                  [](OpBuilder &gb, Location gloc, ValueRange v) {
                    ScalarBuilder s = scalarFor(gb, gloc, v[0]);
                    linalg::YieldOp::create(gb, gloc,
                                            s.add(v[0], s.mul(v[1], v[2])));
                  })
                  .getResult(0);
        SmallVector<Value> results = {pre};
        llvm::append_range(results, hidden);
        results.push_back(out);
        if (withLogDet)
          results.push_back(logDet);
        scf::YieldOp::create(b, nloc, results);
      });
  Value out = loop.getResult(1 + slotsOf.size());
  return LayerValues{out, withLogDet ? loop.getResults().back() : Value()};
}

/// Solves out = tau^-1(in; h(out)) by D passes, the first D - 1 in a loop,
/// unless the conditioner allows the incremental solve.
static LayerValues buildSequentialInverse(ConditionedLayerOpInterface op,
                                          OpBuilder &b, ConditionerArgs args,
                                          Value in, bool withLogDet) {
  if (std::optional<LayerValues> incremental =
          buildIncrementalInverse(op, b, args, in, withLogDet))
    return *incremental;
  Location loc = op.getLoc();
  int64_t features =
      cast<RankedTensorType>(op.getInput().getType()).getDimSize(1);
  Value zero =
      createFloatConstant(b, loc, getElementTypeOrSelf(in.getType()), 0.0);
  Value start =
      linalg::FillOp::create(b, loc, zero, createEmptyLike(b, loc, in))
          .getResult(0);
  auto loop = scf::ForOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, 0),
      arith::ConstantIndexOp::create(b, loc, features - 1),
      arith::ConstantIndexOp::create(b, loc, 1), ValueRange{start},
      [&](OpBuilder &nb, Location nloc, Value, ValueRange iter) {
        LayerValues pass = buildPass(op, nb, nloc, args, iter[0], in,
                                     /*inverse=*/true, /*withLogDet=*/false);
        scf::YieldOp::create(nb, nloc, pass.value);
      });
  return buildPass(op, b, loc, args, loop.getResult(0), in,
                   /*inverse=*/true, withLogDet);
}

LayerValues mlir::nf::buildAutoregressiveLayer(ConditionedLayerOpInterface op,
                                               bool inverted, OpBuilder &b,
                                               Value context, ValueRange params,
                                               Value in, bool inverse,
                                               bool withLogDet) {
  ConditionerArgs args{context, params};
  // tau^-1 is needed iff exactly one of (generative direction, IAF) holds.
  LayerValues values =
      inverse == inverted ? buildPass(op, b, op.getLoc(), args, in, in,
                                      /*inverse=*/false, withLogDet)
                          : buildSequentialInverse(op, b, args, in, withLogDet);
  // IAF: V = log|dz/dx| = -log tau'(z).
  if (inverted && values.logDet)
    values.logDet = negateLogDet(b, op.getLoc(), values.logDet);
  return values;
}

Transformer AffineAutoregressiveOp::getTransformer() {
  ScaleFn fn = getScaleFn();
  // nflows' MAF layout: (unconstrained scale, shift) per feature.
  return {
      2, ParamLayout::Interleaved,
      [=](OpBuilder &b, Location loc, Value in, ValueRange p, bool inverse) {
        return buildAffineTransform(b, loc, fn, /*shiftFirst=*/false, in, p[1],
                                    p[0], inverse);
      }};
}

Transformer RQSplineAutoregressiveOp::getTransformer() {
  RQSplineConfig config = getRQSplineConfig(*this, getBins());
  return {
      getRQSplineParamCount(config.bins), ParamLayout::Interleaved,
      [=](OpBuilder &b, Location loc, Value in, ValueRange p, bool inverse) {
        return buildRQSpline(b, loc, config, in, p, inverse);
      }};
}
