//===- RuntimeKernels.cpp - The runtime's row helpers as IR ---------------===//

#include "nf/Codegen/GPU/RuntimeKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::nf;

void mlir::nf::buildForEachRow(
    OpBuilder &b, Location loc, Value n, bool gpu,
    function_ref<void(OpBuilder &, Location, Value)> body) {
  OpBuilder::InsertionGuard guard(b);
  if (!gpu) {
    auto loop =
        scf::ForOp::create(b, loc, arith::ConstantIndexOp::create(b, loc, 0), n,
                           arith::ConstantIndexOp::create(b, loc, 1));
    b.setInsertionPointToStart(loop.getBody());
    body(b, loc, loop.getInductionVar());
    return;
  }
  Value row = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc,
                            gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
                            gpu::BlockDimOp::create(b, loc, gpu::Dimension::x)),
      gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x));
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, n);
  auto guardRow = scf::IfOp::create(b, loc, inside, /*withElseRegion=*/false);
  b.setInsertionPointToStart(guardRow.thenBlock());
  body(b, loc, row);
}

void mlir::nf::addRuntimeKernels(ModuleOp module, FloatType elementType,
                                 bool gpu) {
  addNoiseKernels(module, elementType, gpu);
  addEstimateKernels(module, elementType, gpu);
}
