//===- FuseLayers.cpp - Layer fusion at the nf level ----------------------===//
//
// Three rewrites of each model's layer chain, in this order:
//
// 1. Permutations (nf.permute, nf.reverse) move no data: each is pushed
//    towards the latent through the layers after it, which take it into
//    their index maps (a coupling's identity and transformed sets with its
//    conditioner's first-layer rows and last-layer columns, an autoregressive
//    layer's order, per-feature parameters), composing with the next
//    permutation, until a linear layer takes it into its columns. One that
//    reaches a layer it cannot pass is applied there; one that reaches the
//    latent stays as the model's last layer, which the density kernels skip
//    (they evaluate a permuted base distribution instead).
// 2. Affine-type layers with constant parameters (affine, ActNorm,
//    inference BatchNorm, dense and LU linear) compose, in double precision,
//    into one layer: nf.linear for a channel-mixing map, nf.actnorm for a
//    per-channel one, nf.affine for a per-element one. A lone BatchNorm
//    becomes its equivalent ActNorm and a lone constant LU linear a dense
//    nf.linear, so their constant work (exp, sqrt, the product P L U, and
//    W^-1, log|det W| in nf.linear's verifier-time LU) is done at compile
//    time.
// 3. Consecutive elementwise bijections become one nf.elementwise_chain.
//
//===----------------------------------------------------------------------===//

#include "nf/Dialect/NF/IR/FlowBuilders.h"
#include "nf/Dialect/NF/IR/MLPOp.h"
#include "nf/Dialect/NF/IR/NFBuilders.h"
#include "nf/Dialect/NF/IR/NFOps.h"
#include "nf/Dialect/NF/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

#include <cmath>

namespace mlir::nf {
#define GEN_PASS_DEF_NFFUSELAYERSPASS
#include "nf/Dialect/NF/Transforms/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

using Values = SmallVector<double>;

/// A constant tensor `shape` x `elementType` holding `values`.
Value createConstant(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                     Type elementType, ArrayRef<double> values) {
  auto type = RankedTensorType::get(shape, elementType);
  SmallVector<APFloat> floats;
  for (double v : values) {
    APFloat f(v);
    bool lost;
    f.convert(cast<FloatType>(elementType).getFloatSemantics(),
              APFloat::rmNearestTiesToEven, &lost);
    floats.push_back(f);
  }
  return arith::ConstantOp::create(b, loc,
                                   DenseElementsAttr::get(type, floats));
}

std::optional<Values> readConstant(Value value) {
  FailureOr<Values> values = getConstantFloatValues(value);
  if (failed(values))
    return std::nullopt;
  return *values;
}

//===----------------------------------------------------------------------===//
// Affine-type layers
//===----------------------------------------------------------------------===//

/// A constant affine map of a layer's data: channel-linear (z = M x + c along
/// dimension 1 at every position of the other event dimensions) or
/// elementwise (z = s x + t per element of the event).
struct AffineForm {
  bool elementwise = false;
  int64_t channels = 0, positions = 1;
  Values matrix, bias; // channel-linear: C x C row-major, C
  Values scale, shift; // elementwise: C * positions

  bool isDiagonal() const {
    if (elementwise)
      return false;
    for (int64_t i = 0; i < channels; ++i)
      for (int64_t j = 0; j < channels; ++j)
        if (i != j && matrix[i * channels + j] != 0.0)
          return false;
    return true;
  }

  static AffineForm diagonal(int64_t channels, int64_t positions,
                             ArrayRef<double> scale, ArrayRef<double> shift) {
    AffineForm form;
    form.channels = channels;
    form.positions = positions;
    form.matrix.assign(channels * channels, 0.0);
    for (int64_t c = 0; c < channels; ++c)
      form.matrix[c * channels + c] = scale[c];
    form.bias.assign(shift.begin(), shift.end());
    return form;
  }

  /// The elementwise form of a diagonal channel-linear map.
  AffineForm toElementwise() const {
    if (elementwise)
      return *this;
    AffineForm form;
    form.elementwise = true;
    form.channels = channels;
    form.positions = positions;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t p = 0; p < positions; ++p) {
        form.scale.push_back(matrix[c * channels + c]);
        form.shift.push_back(bias[c]);
      }
    return form;
  }
};

/// The channels and positions of a layer's event.
std::pair<int64_t, int64_t> getEventLayout(FlowLayerOpInterface layer) {
  auto type = cast<RankedTensorType>(layer.getInput().getType());
  int64_t positions = 1;
  for (int64_t d : type.getShape().drop_front(2))
    positions *= d;
  return {type.getDimSize(1), positions};
}

/// A parameter broadcast over the event: scalar or event-shaped.
std::optional<Values> readEventParameter(Value param, int64_t size) {
  std::optional<Values> values = readConstant(param);
  if (!values)
    return std::nullopt;
  if (values->size() == 1)
    return Values(size, values->front());
  if (static_cast<int64_t>(values->size()) != size)
    return std::nullopt;
  return values;
}

/// The affine form of a constant affine-type layer.
std::optional<AffineForm> getAffineForm(FlowLayerOpInterface layer) {
  auto [channels, positions] = getEventLayout(layer);
  if (auto affine = dyn_cast<AffineOp>(layer.getOperation())) {
    std::optional<Values> scale =
        readEventParameter(affine.getScale(), channels * positions);
    std::optional<Values> shift =
        readEventParameter(affine.getShift(), channels * positions);
    if (!scale || !shift)
      return std::nullopt;
    // Per channel when the parameters do not vary along the positions.
    bool perChannel = true;
    for (int64_t c = 0; c < channels && perChannel; ++c)
      for (int64_t p = 1; p < positions; ++p)
        if ((*scale)[c * positions + p] != (*scale)[c * positions] ||
            (*shift)[c * positions + p] != (*shift)[c * positions])
          perChannel = false;
    if (!perChannel) {
      AffineForm form;
      form.elementwise = true;
      form.channels = channels;
      form.positions = positions;
      form.scale = *scale;
      form.shift = *shift;
      return form;
    }
    Values s, t;
    for (int64_t c = 0; c < channels; ++c) {
      s.push_back((*scale)[c * positions]);
      t.push_back((*shift)[c * positions]);
    }
    return AffineForm::diagonal(channels, positions, s, t);
  }
  if (auto actnorm = dyn_cast<ActNormOp>(layer.getOperation())) {
    std::optional<Values> scale = readConstant(actnorm.getScale());
    std::optional<Values> shift = readConstant(actnorm.getShift());
    if (!scale || !shift)
      return std::nullopt;
    return AffineForm::diagonal(channels, positions, *scale, *shift);
  }
  if (auto norm = dyn_cast<BatchNormOp>(layer.getOperation())) {
    std::optional<Values> mean = readConstant(norm.getMean());
    std::optional<Values> variance = readConstant(norm.getVariance());
    std::optional<Values> logGamma = readConstant(norm.getLogGamma());
    std::optional<Values> beta = readConstant(norm.getBeta());
    if (!mean || !variance || !logGamma || !beta)
      return std::nullopt;
    double epsilon = norm.getEpsilon().convertToDouble();
    Values scale, shift;
    for (int64_t c = 0; c < channels; ++c) {
      scale.push_back(std::exp((*logGamma)[c]) /
                      std::sqrt((*variance)[c] + epsilon));
      shift.push_back((*beta)[c] - (*mean)[c] * scale.back());
    }
    return AffineForm::diagonal(channels, positions, scale, shift);
  }
  if (auto linear = dyn_cast<LinearOp>(layer.getOperation())) {
    std::optional<Values> weight = readConstant(linear.getWeight());
    std::optional<Values> bias = readConstant(linear.getBias());
    if (!weight || !bias)
      return std::nullopt;
    AffineForm form;
    form.channels = channels;
    form.positions = positions;
    form.matrix = *weight;
    form.bias = *bias;
    return form;
  }
  if (auto lu = dyn_cast<LULinearOp>(layer.getOperation())) {
    std::optional<Values> lower = readConstant(lu.getLower());
    std::optional<Values> upper = readConstant(lu.getUpper());
    std::optional<Values> diag = readConstant(lu.getDiag());
    std::optional<Values> bias = readConstant(lu.getBias());
    if (!lower || !upper || !diag || !bias)
      return std::nullopt;
    // W = P L (U + diag(s)), (P y)_i = y_{permutation_i}.
    int64_t n = channels;
    Values product(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k <= std::min(i, j); ++k) {
          double l = k == i ? 1.0 : (*lower)[i * n + k];
          double u = k == j ? (*diag)[j] : (*upper)[k * n + j];
          product[i * n + j] += l * u;
        }
    AffineForm form;
    form.channels = n;
    form.positions = positions;
    form.matrix.assign(n * n, 0.0);
    std::optional<ArrayRef<int64_t>> permutation = lu.getPermutation();
    for (int64_t i = 0; i < n; ++i) {
      int64_t row = permutation ? (*permutation)[i] : i;
      for (int64_t j = 0; j < n; ++j)
        form.matrix[i * n + j] = product[row * n + j];
    }
    form.bias = *bias;
    return form;
  }
  return std::nullopt;
}

/// `second` after `first`, if one affine-type layer can express it.
std::optional<AffineForm> compose(const AffineForm &first,
                                  const AffineForm &second) {
  int64_t n = first.channels;
  if (!first.elementwise && !second.elementwise) {
    AffineForm form = first;
    for (int64_t i = 0; i < n; ++i) {
      double c = second.bias[i];
      for (int64_t j = 0; j < n; ++j) {
        double m = 0;
        for (int64_t k = 0; k < n; ++k)
          m += second.matrix[i * n + k] * first.matrix[k * n + j];
        form.matrix[i * n + j] = m;
        c += second.matrix[i * n + j] * first.bias[j];
      }
      form.bias[i] = c;
    }
    return form;
  }
  // Elementwise maps compose with each other and with diagonal ones.
  if ((!first.elementwise && !first.isDiagonal()) ||
      (!second.elementwise && !second.isDiagonal()))
    return std::nullopt;
  AffineForm a = first.toElementwise(), b = second.toElementwise();
  for (size_t i = 0; i < a.scale.size(); ++i) {
    a.shift[i] = b.scale[i] * a.shift[i] + b.shift[i];
    a.scale[i] = b.scale[i] * a.scale[i];
  }
  return a;
}

/// The layer computing `form` on `input`: nf.affine (elementwise), nf.actnorm
/// (diagonal) or nf.linear.
Value buildAffineForm(OpBuilder &b, Location loc, Value input,
                      const AffineForm &form) {
  auto type = cast<RankedTensorType>(input.getType());
  Type element = type.getElementType();
  int64_t n = form.channels;
  if (form.elementwise) {
    ArrayRef<int64_t> event = type.getShape().drop_front();
    return AffineOp::create(b, loc, input,
                            createConstant(b, loc, event, element, form.scale),
                            createConstant(b, loc, event, element, form.shift));
  }
  if (form.isDiagonal()) {
    Values scale;
    for (int64_t c = 0; c < n; ++c)
      scale.push_back(form.matrix[c * n + c]);
    return ActNormOp::create(b, loc, input,
                             createConstant(b, loc, {n}, element, scale),
                             createConstant(b, loc, {n}, element, form.bias));
  }
  return LinearOp::create(b, loc, input,
                          createConstant(b, loc, {n, n}, element, form.matrix),
                          createConstant(b, loc, {n}, element, form.bias));
}

/// Folds the model's runs of affine-type layers; returns how many layers the
/// runs had and how many replaced them.
std::pair<int64_t, int64_t> foldAffineLayers(ModelOp model) {
  int64_t before = 0, after = 0;
  SmallVector<FlowLayerOpInterface> run;
  std::optional<AffineForm> form;
  auto flush = [&] {
    // A single layer is rewritten only when that saves work per call.
    bool worthIt =
        run.size() > 1 ||
        (run.size() == 1 && isa<BatchNormOp, LULinearOp>(run.front()));
    if (worthIt) {
      OpBuilder b(run.back());
      b.setInsertionPointAfter(run.back());
      Value folded = buildAffineForm(b, run.back().getLoc(),
                                     run.front().getInput(), *form);
      run.back().getOutput().replaceAllUsesWith(folded);
      for (FlowLayerOpInterface layer : llvm::reverse(run))
        layer->erase();
      before += run.size();
      ++after;
    }
    run.clear();
    form.reset();
  };
  for (FlowLayerOpInterface layer : model.getLayers()) {
    std::optional<AffineForm> next = getAffineForm(layer);
    if (next && form) {
      if (std::optional<AffineForm> composed = compose(*form, *next)) {
        run.push_back(layer);
        form = composed;
        continue;
      }
    }
    flush();
    if (next) {
      run.push_back(layer);
      form = next;
    }
  }
  flush();
  return {before, after};
}

//===----------------------------------------------------------------------===//
// Permutations
//===----------------------------------------------------------------------===//

using Permutation = SmallVector<int64_t>;

bool isIdentity(ArrayRef<int64_t> p) {
  for (auto [i, v] : llvm::enumerate(p))
    if (static_cast<int64_t>(i) != v)
      return false;
  return true;
}

/// Rows of `values` (rows x rowSize) reordered: result row i = row
/// `from[i]`.
Values gatherRows(ArrayRef<double> values, ArrayRef<int64_t> from,
                  int64_t rowSize) {
  Values result;
  for (int64_t row : from)
    result.append(values.begin() + row * rowSize,
                  values.begin() + (row + 1) * rowSize);
  return result;
}

/// Columns of `values` (rows x cols) reordered: result column j = column
/// `from[j]`.
Values gatherColumns(ArrayRef<double> values, ArrayRef<int64_t> from,
                     int64_t cols) {
  Values result(values.size());
  int64_t rows = values.size() / cols;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      result[r * cols + j] = values[r * cols + from[j]];
  return result;
}

/// Replaces operand `index` of `op` with a constant of the operand's type
/// holding `values`.
void setConstantOperand(Operation *op, unsigned index,
                        ArrayRef<double> values) {
  OpBuilder b(op);
  auto type = cast<RankedTensorType>(op->getOperand(index).getType());
  op->setOperand(index, createConstant(b, op->getLoc(), type.getShape(),
                                       type.getElementType(), values));
}

/// Rewrites a parameter whose dimension 0 runs along the features: result
/// row j = row `from[j]`. Fails unless it is a constant.
LogicalResult permuteFeatureParameter(Operation *op, Value param,
                                      ArrayRef<int64_t> from) {
  auto type = cast<RankedTensorType>(param.getType());
  if (type.getRank() == 0)
    return success();
  std::optional<Values> values = readConstant(param);
  if (!values)
    return failure();
  unsigned index = llvm::find(op->getOperands(), param) - op->operand_begin();
  setConstantOperand(op, index,
                     gatherRows(*values, from, values->size() / from.size()));
  return success();
}

/// Where a conditioner's MLP weights are among its layer's parameters.
struct ConditionerWeights {
  unsigned firstWeight, lastWeight, lastBias;
};

/// The first weight and last weight and bias of the layer's MLP conditioner,
/// if it is one with those parameters constant.
std::optional<ConditionerWeights>
getConditionerWeights(ConditionedLayerOpInterface layer) {
  std::optional<ConditionerMLP> mlp = getConditionerMLP(layer);
  if (!mlp)
    return std::nullopt;
  ArrayRef<unsigned> indices = mlp->paramIndices;
  ConditionerWeights weights{indices.front(), indices[indices.size() - 2],
                             indices.back()};
  for (unsigned index :
       {weights.firstWeight, weights.lastWeight, weights.lastBias})
    if (!readConstant(layer.getParams()[index]))
      return std::nullopt;
  return weights;
}

/// Reorders a conditioner's inputs and outputs: new input row k = old row
/// `inputFrom[k]` (the conditioned features only, context rows stay), new
/// output group k = old group `outputFrom[k]` in `transformer`'s layout.
void permuteConditioner(ConditionedLayerOpInterface layer,
                        const ConditionerWeights &weights,
                        ArrayRef<int64_t> inputFrom,
                        ArrayRef<int64_t> outputFrom) {
  unsigned base = layer.getParams().getBeginOperandIndex();
  Operation *op = layer.getOperation();
  Transformer transformer = layer.getTransformer();
  int64_t groups = outputFrom.size(), perGroup = transformer.numParams;
  // Old output column of every new column.
  SmallVector<int64_t> columns(groups * perGroup);
  for (int64_t k = 0; k < groups; ++k)
    for (int64_t r = 0; r < perGroup; ++r) {
      bool blocked = transformer.layout == ParamLayout::Blocked;
      int64_t to = blocked ? r * groups + k : k * perGroup + r;
      int64_t from =
          blocked ? r * groups + outputFrom[k] : outputFrom[k] * perGroup + r;
      columns[to] = from;
    }
  auto values = [&](unsigned index) {
    return *readConstant(layer.getParams()[index]);
  };
  Values first = values(weights.firstWeight);
  auto firstType =
      cast<RankedTensorType>(layer.getParams()[weights.firstWeight].getType());
  int64_t hidden = firstType.getDimSize(1);
  // Rows of the conditioned features, then the context's (unchanged).
  SmallVector<int64_t> rows(firstType.getDimSize(0));
  for (int64_t i = 0; i < static_cast<int64_t>(rows.size()); ++i)
    rows[i] = i < static_cast<int64_t>(inputFrom.size()) ? inputFrom[i] : i;
  first = gatherRows(first, rows, hidden);
  if (weights.firstWeight == weights.lastWeight) {
    setConstantOperand(op, base + weights.firstWeight,
                       gatherColumns(first, columns, columns.size()));
  } else {
    setConstantOperand(op, base + weights.firstWeight, first);
    setConstantOperand(
        op, base + weights.lastWeight,
        gatherColumns(values(weights.lastWeight), columns, columns.size()));
  }
  setConstantOperand(
      op, base + weights.lastBias,
      gatherColumns(values(weights.lastBias), columns, columns.size()));
}

/// The position of every value of `values` in `sorted`.
SmallVector<int64_t> positionsIn(ArrayRef<int64_t> values,
                                 ArrayRef<int64_t> sorted) {
  return llvm::to_vector(llvm::map_range(values, [&](int64_t v) -> int64_t {
    return llvm::find(sorted, v) - sorted.begin();
  }));
}

/// Outcome of moving a permutation through a layer.
enum class Move {
  Passed,   ///< the layer now acts on the unpermuted data; the permutation
            ///< applies to its output
  Absorbed, ///< the layer took the permutation in
  Blocked,  ///< the permutation must be applied before the layer
};

/// Moves the permutation `p` (the layer's original input is y with y[:, i] =
/// v[:, p[i]] for the data v it now gets) through `layer`.
Move movePermutation(FlowLayerOpInterface layer, ArrayRef<int64_t> p) {
  Operation *op = layer.getOperation();
  Permutation inverse = invertPermutation(p);
  // Parameter-free elementwise maps commute with any permutation.
  if (isa<ElementwiseBijectionOpInterface>(op) && op->getNumOperands() == 1)
    return Move::Passed;
  // Per-feature parameters: new row j = old row p^-1(j).
  auto permuteParameters = [&](ValueRange params) {
    for (Value param : params)
      if (failed(permuteFeatureParameter(op, param, inverse)))
        return Move::Blocked;
    return Move::Passed;
  };
  if (auto affine = dyn_cast<AffineOp>(op)) {
    // Parameters of the full batch shape are per sample, not constants.
    return permuteParameters({affine.getScale(), affine.getShift()});
  }
  if (auto actnorm = dyn_cast<ActNormOp>(op))
    return permuteParameters({actnorm.getScale(), actnorm.getShift()});
  if (auto norm = dyn_cast<BatchNormOp>(op))
    return permuteParameters({norm.getMean(), norm.getVariance(),
                              norm.getLogGamma(), norm.getBeta()});
  if (auto spline = dyn_cast<RQSplineOp>(op))
    return permuteParameters(spline->getOperands().drop_front());
  if (auto radial = dyn_cast<RadialOp>(op))
    return permuteParameters({radial.getCenter()});
  if (auto linear = dyn_cast<LinearOp>(op)) {
    // W (P v): new column j = old column p^-1(j).
    std::optional<Values> weight = readConstant(linear.getWeight());
    if (!weight)
      return Move::Blocked;
    setConstantOperand(op, 1, gatherColumns(*weight, inverse, p.size()));
    return Move::Absorbed;
  }
  auto conditioned = dyn_cast<ConditionedLayerOpInterface>(op);
  if (!conditioned)
    return Move::Blocked;
  std::optional<ConditionerWeights> weights =
      getConditionerWeights(conditioned);
  if (!weights)
    return Move::Blocked;
  if (auto identity = op->getAttrOfType<DenseI64ArrayAttr>("identity")) {
    // A coupling: identity set A and transformed set B move to p(A), p(B).
    ArrayRef<int64_t> a = identity.asArrayRef();
    SmallVector<int64_t> b;
    for (int64_t i = 0; i < static_cast<int64_t>(p.size()); ++i)
      if (!llvm::is_contained(a, i))
        b.push_back(i);
    SmallVector<int64_t> newA, newB;
    for (int64_t i : a)
      newA.push_back(p[i]);
    for (int64_t i : b)
      newB.push_back(p[i]);
    SmallVector<int64_t> sortedA(newA), sortedB(newB);
    llvm::sort(sortedA);
    llvm::sort(sortedB);
    // Old conditioner input j feeds new input sigma(j); old output group j
    // goes to new group rho(j).
    SmallVector<int64_t> sigma = positionsIn(newA, sortedA);
    SmallVector<int64_t> rho = positionsIn(newB, sortedB);
    permuteConditioner(conditioned, *weights, invertPermutation(sigma),
                       invertPermutation(rho));
    op->setAttr("identity", DenseI64ArrayAttr::get(op->getContext(), sortedA));
    return Move::Passed;
  }
  // An autoregressive layer: its order becomes p's.
  permuteConditioner(conditioned, *weights, inverse, inverse);
  return Move::Passed;
}

/// The permutation a permute or reverse layer applies, if it is one.
std::optional<Permutation> getPermutation(FlowLayerOpInterface layer) {
  if (auto permute = dyn_cast<PermuteOp>(layer.getOperation()))
    return llvm::to_vector(permute.getPermutation());
  if (isa<ReverseOp>(layer.getOperation())) {
    int64_t n =
        cast<RankedTensorType>(layer.getInput().getType()).getDimSize(1);
    return llvm::to_vector(llvm::reverse(llvm::seq<int64_t>(0, n)));
  }
  return std::nullopt;
}

/// Applies permutation `p` to `value` before `before`.
Value applyPermutation(OpBuilder &b, Location loc, Value value,
                       ArrayRef<int64_t> p) {
  return PermuteOp::create(b, loc, value, b.getDenseI64ArrayAttr(p));
}

/// Moves the model's permutations towards its latent; returns how many
/// permutation layers it had and how many are left.
std::pair<int64_t, int64_t> absorbPermutations(ModelOp model) {
  int64_t before = 0, left = 0;
  Permutation pending;
  for (FlowLayerOpInterface layer : model.getLayers()) {
    if (std::optional<Permutation> q = getPermutation(layer)) {
      ++before;
      // y' = q(y) = q(p(v)): composed, p'(i) = p(q(i)).
      Permutation composed(*q);
      if (!pending.empty())
        for (int64_t &i : composed)
          i = pending[i];
      pending = composed;
      layer.getOutput().replaceAllUsesWith(layer.getInput());
      layer->erase();
      continue;
    }
    if (pending.empty() || isIdentity(pending)) {
      pending.clear();
      continue;
    }
    Move move = movePermutation(layer, pending);
    if (move == Move::Blocked) {
      OpBuilder b(layer);
      layer->setOperand(
          0, applyPermutation(b, layer.getLoc(), layer.getInput(), pending));
      ++left;
    }
    if (move != Move::Passed)
      pending.clear();
  }
  if (!pending.empty() && !isIdentity(pending)) {
    Operation *yield = model.getBodyBlock().getTerminator();
    OpBuilder b(yield);
    yield->setOperand(
        0, applyPermutation(b, yield->getLoc(), yield->getOperand(0), pending));
    ++left;
  }
  return {before, left};
}

//===----------------------------------------------------------------------===//
// Elementwise chains
//===----------------------------------------------------------------------===//

/// Replaces the run `run` of consecutive elementwise bijections with one
/// nf.elementwise_chain holding them.
void buildChain(ArrayRef<Operation *> run) {
  Operation *last = run.back();
  OpBuilder b(last);
  b.setInsertionPointAfter(last);
  Value input = run.front()->getOperand(0);
  auto chain = ElementwiseChainOp::create(b, last->getLoc(), input);
  Block *body =
      b.createBlock(&chain.getBody(), {}, {input.getType()}, {last->getLoc()});
  last->getResult(0).replaceAllUsesWith(chain.getOutput());
  Value current = body->getArgument(0);
  for (Operation *op : run) {
    // Members of chains being merged move in one by one.
    SmallVector<Operation *> members;
    if (auto inner = dyn_cast<ElementwiseChainOp>(op)) {
      for (ElementwiseBijectionOpInterface member : inner.getMembers())
        members.push_back(member);
    } else {
      members.push_back(op);
    }
    for (Operation *member : members) {
      member->moveBefore(body, body->end());
      member->setOperand(0, current);
      current = member->getResult(0);
    }
  }
  b.setInsertionPointToEnd(body);
  ChainYieldOp::create(b, last->getLoc(), current);
  for (Operation *op : llvm::reverse(run))
    if (isa<ElementwiseChainOp>(op))
      op->erase();
}

/// Composes the model's runs of elementwise bijections; returns how many
/// layers the runs had and how many chains replaced them.
std::pair<int64_t, int64_t> chainElementwiseLayers(ModelOp model) {
  int64_t before = 0, after = 0;
  SmallVector<Operation *> run;
  auto flush = [&] {
    if (run.size() > 1) {
      before += run.size();
      ++after;
      buildChain(run);
    }
    run.clear();
  };
  for (FlowLayerOpInterface layer : model.getLayers()) {
    Operation *op = layer.getOperation();
    bool elementwise =
        isa<ElementwiseBijectionOpInterface>(op) && op->getNumOperands() == 1;
    if (elementwise && !run.empty() &&
        op->getOperand(0) != run.back()->getResult(0))
      flush();
    if (elementwise)
      run.push_back(op);
    else
      flush();
  }
  flush();
  return {before, after};
}

struct NFFuseLayersPass
    : public nf::impl::NFFuseLayersPassBase<NFFuseLayersPass> {
  using Base::Base;

  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>()) {
      int64_t layers = model.getLayers().size();
      // Permutations first: one between two linear layers would keep them
      // apart.
      auto [permutations, permutationsLeft] = absorbPermutations(model);
      auto [affineBefore, affineAfter] = foldAffineLayers(model);
      auto [elementwiseBefore, chains] = chainElementwiseLayers(model);
      if (report)
        llvm::errs() << "nf-fuse-layers: model @" << model.getSymName() << ": "
                     << layers << " layers -> " << model.getLayers().size()
                     << "; " << affineBefore << " affine-type layers -> "
                     << affineAfter << ", " << permutations
                     << " permutations -> " << permutationsLeft << ", "
                     << elementwiseBefore << " elementwise layers -> " << chains
                     << " chains\n";
    }
  }
};

} // namespace
