//===- DeviceEstimate.cpp - The IWAE log-sum-exp as IR --------------------===//
//
// Mirrors Runtime.cpp's runIwae: per row, the largest bound so far and the
// sum of exp(bound - largest) over the paths, rescaled when a larger bound
// comes; -inf bounds are skipped. The CUDA runtime launches the step after
// each path's body run and the finish once.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/GPU/RuntimeKernels.h"

#include "nf/Target/EntryPoints.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/SymbolTable.h"

#include <limits>

using namespace mlir;
using namespace mlir::nf;

namespace {

/// A public function `name(i64, memref<?xT> x rows)` with the kernel
/// marking of `gpu`, whose body `body(b, scalar, arrays, row)` is built for
/// every row; unless the module has it.
void addRowKernel(
    ModuleOp module, StringRef name, FloatType type, int numArrays, bool gpu,
    function_ref<void(ImplicitLocOpBuilder &, Value, ValueRange, Value)> body) {
  if (SymbolTable::lookupSymbolIn(module, name))
    return;
  ImplicitLocOpBuilder b(module.getLoc(), module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> args = {b.getI64Type()};
  args.append(numArrays, MemRefType::get({ShapedType::kDynamic}, type));
  auto fn = func::FuncOp::create(b, name, b.getFunctionType(args, {}));
  fn->setAttr(gpu ? "nf.gpu_kernel" : "llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ValueRange arrays = entry->getArguments().drop_front();
  Value n = memref::DimOp::create(b, arrays[0], 0);
  buildForEachRow(b, b.getLoc(), n, gpu, [&](OpBuilder &, Location, Value row) {
    body(b, entry->getArgument(0), arrays, row);
  });
  func::ReturnOp::create(b);
}

} // namespace

void mlir::nf::addEstimateKernels(ModuleOp module, FloatType type, bool gpu) {
  bool f64 = type.isF64();
  auto real = [&](ImplicitLocOpBuilder &b, double v) -> Value {
    return arith::ConstantOp::create(b, b.getFloatAttr(type, v));
  };
  double inf = std::numeric_limits<double>::infinity();
  using Pred = arith::CmpFPredicate;

  // step(first, bound, largest, total).
  addRowKernel(
      module, abi::getIwaeStepSymbol(f64), type, 3, gpu,
      [&](ImplicitLocOpBuilder &b, Value first, ValueRange a, Value row) {
        Value bound = memref::LoadOp::create(b, a[0], row);
        Value isFirst = arith::CmpIOp::create(
            b, arith::CmpIPredicate::ne, first,
            arith::ConstantIntOp::create(b, b.getI64Type(), 0));
        Value largest = arith::SelectOp::create(
            b, isFirst, real(b, -inf), memref::LoadOp::create(b, a[1], row));
        Value total = arith::SelectOp::create(
            b, isFirst, real(b, 0.0), memref::LoadOp::create(b, a[2], row));
        // bound > largest: total * exp(largest - bound) + 1, largest = bound
        // (total is 0 while largest is -inf: no exp of -inf needed);
        // else total + exp(bound - largest).
        Value larger = arith::CmpFOp::create(b, Pred::OGT, bound, largest);
        Value empty =
            arith::CmpFOp::create(b, Pred::OEQ, largest, real(b, -inf));
        Value rescaled = arith::AddFOp::create(
            b,
            arith::SelectOp::create(
                b, empty, real(b, 0.0),
                arith::MulFOp::create(
                    b, total,
                    math::ExpOp::create(
                        b, arith::SubFOp::create(b, largest, bound)))),
            real(b, 1.0));
        Value added = arith::AddFOp::create(
            b, total,
            math::ExpOp::create(b, arith::SubFOp::create(b, bound, largest)));
        Value skip = arith::CmpFOp::create(b, Pred::OEQ, bound, real(b, -inf));
        Value newTotal = arith::SelectOp::create(
            b, skip, total,
            arith::SelectOp::create(b, larger, rescaled, added));
        Value newLargest = arith::SelectOp::create(
            b,
            arith::AndIOp::create(
                b, larger,
                arith::XOrIOp::create(
                    b, skip,
                    arith::ConstantIntOp::create(b, b.getI1Type(), 1))),
            bound, largest);
        memref::StoreOp::create(b, newLargest, a[1], row);
        memref::StoreOp::create(b, newTotal, a[2], row);
      });

  // finish(k, largest, total, out).
  addRowKernel(
      module, abi::getIwaeFinishSymbol(f64), type, 3, gpu,
      [&](ImplicitLocOpBuilder &b, Value k, ValueRange a, Value row) {
        Value largest = memref::LoadOp::create(b, a[0], row);
        Value total = memref::LoadOp::create(b, a[1], row);
        Value mean = arith::DivFOp::create(b, total,
                                           arith::SIToFPOp::create(b, type, k));
        Value estimate =
            arith::AddFOp::create(b, largest, math::LogOp::create(b, mean));
        Value some = arith::CmpFOp::create(b, Pred::OGT, total, real(b, 0.0));
        memref::StoreOp::create(
            b, arith::SelectOp::create(b, some, estimate, real(b, -inf)), a[2],
            row);
      });
}
