//===- StageConstants.cpp - Conditioner weights in shared memory ----------===//
//
// With one row per thread, every thread of a block reads the same weight at
// the same time. The constants a kernel reads (conditioner weights and
// biases, permutations) are copied once per block into shared memory by all
// its threads, then read from there. Which constants go is decided for the
// whole gpu.module, smallest first, so that a function shared by several
// kernels reads a constant from the same place in each: a constant is
// staged only if it fits the budget of every kernel that reaches it.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/GPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::nf {
#define GEN_PASS_DEF_NFGPUSTAGECONSTANTSPASS
#include "nf/Codegen/GPU/Passes.h.inc"
} // namespace mlir::nf

using namespace mlir;
using namespace mlir::nf;

namespace {

/// Bytes of a constant global that can be staged (static shape, identity
/// layout, no memory space, an initial value), else 0.
int64_t getStageableBytes(memref::GlobalOp global) {
  MemRefType type = global.getType();
  if (!global.getConstant() || !global.getInitialValue() ||
      !type.hasStaticShape() || !type.getLayout().isIdentity() ||
      type.getMemorySpace())
    return 0;
  Type element = type.getElementType();
  int64_t bits = element.isIndex() ? 64 : element.getIntOrFloatBitWidth();
  return type.getNumElements() * llvm::divideCeil(bits, 8);
}

/// The symbols of the functions `fn` calls.
SmallVector<StringRef> getCallees(Operation *fn) {
  SmallVector<StringRef> callees;
  fn->walk([&](func::CallOp call) { callees.push_back(call.getCallee()); });
  return callees;
}

/// Copies `from` into `to` (same static shape) with the block's threads,
/// element i by thread i mod blockDim.
void buildBlockCopy(OpBuilder &b, Location loc, Value from, Value to) {
  auto type = cast<MemRefType>(from.getType());
  auto flatten = [&](Value v) -> Value {
    if (type.getRank() == 1)
      return v;
    ReassociationIndices all =
        llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
    return memref::CollapseShapeOp::create(b, loc, v,
                                           ArrayRef<ReassociationIndices>{all});
  };
  Value src = flatten(from), dst = flatten(to);
  Value begin = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value step = gpu::BlockDimOp::create(b, loc, gpu::Dimension::x);
  Value end = arith::ConstantIndexOp::create(b, loc, type.getNumElements());
  scf::ForOp::create(b, loc, begin, end, step, ValueRange{},
                     [&](OpBuilder &nested, Location l, Value i, ValueRange) {
                       Value v = memref::LoadOp::create(nested, l, src, i);
                       memref::StoreOp::create(nested, l, v, dst, i);
                       scf::YieldOp::create(nested, l);
                     });
}

struct NFGPUStageConstantsPass
    : public nf::impl::NFGPUStageConstantsPassBase<NFGPUStageConstantsPass> {
  using Base::Base;

  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SymbolTable symbols(module);

    // The constants each kernel reaches through its calls.
    llvm::MapVector<gpu::GPUFuncOp, llvm::SetVector<memref::GlobalOp>> reads;
    for (auto kernel : module.getOps<gpu::GPUFuncOp>()) {
      if (!kernel.isKernel())
        continue;
      llvm::SetVector<Operation *> reached;
      reached.insert(kernel);
      for (unsigned i = 0; i < reached.size(); ++i)
        for (StringRef callee : getCallees(reached[i]))
          if (Operation *fn = symbols.lookup(callee))
            reached.insert(fn);
      auto &globals = reads[kernel];
      for (Operation *fn : reached)
        fn->walk([&](memref::GetGlobalOp get) {
          auto global = symbols.lookup<memref::GlobalOp>(get.getName());
          if (global && getStageableBytes(global) > 0)
            globals.insert(global);
        });
    }

    // Smallest first, each where it fits every kernel that reaches it.
    SmallVector<memref::GlobalOp> candidates;
    for (auto global : module.getOps<memref::GlobalOp>())
      if (getStageableBytes(global) > 0)
        candidates.push_back(global);
    llvm::sort(candidates, [](memref::GlobalOp a, memref::GlobalOp b) {
      return std::make_pair(getStageableBytes(a), a.getSymName()) <
             std::make_pair(getStageableBytes(b), b.getSymName());
    });
    DenseMap<Operation *, int64_t> used;
    llvm::SetVector<memref::GlobalOp> staged;
    for (memref::GlobalOp global : candidates) {
      int64_t bytes = llvm::alignTo(getStageableBytes(global), 16);
      auto readers = llvm::make_filter_range(
          reads, [&](auto &entry) { return entry.second.contains(global); });
      if (llvm::all_of(readers, [&](auto &entry) {
            return used[entry.first] + bytes <= sharedMemoryBytes;
          })) {
        for (auto &entry : readers)
          used[entry.first] += bytes;
        staged.insert(global);
      }
    }
    if (staged.empty())
      return;

    // A shared twin of each staged constant; its readers read the twin.
    OpBuilder b(ctx);
    auto workgroup =
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    DenseMap<memref::GlobalOp, memref::GlobalOp> twins;
    for (memref::GlobalOp global : staged) {
      MemRefType type = global.getType();
      b.setInsertionPointAfter(global);
      auto twin = memref::GlobalOp::create(
          b, global.getLoc(), (global.getSymName() + "_shared").str(),
          b.getStringAttr("private"),
          MemRefType::get(type.getShape(), type.getElementType(),
                          MemRefLayoutAttrInterface(), workgroup),
          /*initial_value=*/Attribute(), /*constant=*/false,
          b.getI64IntegerAttr(16));
      symbols.insert(twin);
      twins[global] = twin;
    }
    module.walk([&](memref::GetGlobalOp get) {
      auto global = symbols.lookup<memref::GlobalOp>(get.getName());
      auto twin = twins.lookup(global);
      if (!twin)
        return;
      b.setInsertionPoint(get);
      Value shared = memref::GetGlobalOp::create(
          b, get.getLoc(), twin.getType(), twin.getSymName());
      get.replaceAllUsesWith(memref::MemorySpaceCastOp::create(
                                 b, get.getLoc(), get.getType(), shared)
                                 .getResult());
      get.erase();
    });

    // Each kernel first fills the twins it reads, then waits for the block.
    for (auto &[kernel, globals] : reads) {
      bool any = false;
      b.setInsertionPointToStart(&kernel.getBody().front());
      for (memref::GlobalOp global : globals) {
        memref::GlobalOp twin = twins.lookup(global);
        if (!twin)
          continue;
        Location loc = kernel.getLoc();
        Value from = memref::GetGlobalOp::create(b, loc, global.getType(),
                                                 global.getSymName());
        Value to = memref::GetGlobalOp::create(b, loc, twin.getType(),
                                               twin.getSymName());
        buildBlockCopy(b, loc, from, to);
        any = true;
      }
      if (any)
        gpu::BarrierOp::create(b, kernel.getLoc());
    }
  }
};

} // namespace
