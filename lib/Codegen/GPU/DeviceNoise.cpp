//===- DeviceNoise.cpp - The runtime's noise streams as IR ----------------===//
//
// Mirrors Runtime.cpp's noisePair operation for operation: Philox4x32-10 on
// the counter (row low, row high, pair, attempt) under the key (seed low,
// seed high); uniforms from the top bits of a word (f32) or of a word pair
// (f64); normals by Marsaglia's polar method, retrying with the next attempt
// until a point lands in the unit disc. Uniform noise is bit for bit the
// runtime's; normal noise differs by the rounding of log and sqrt.
//
//===----------------------------------------------------------------------===//

#include "nf/Codegen/GPU/RuntimeKernels.h"

#include "nf/Target/EntryPoints.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;
using namespace mlir::nf;

namespace {

class NoiseBuilder {
public:
  NoiseBuilder(ModuleOp module, FloatType type)
      : b(module.getLoc(), module.getContext()), module(module), type(type),
        f64(type.isF64()) {}

  /// The noise kernel of `uniform` noise, unless the module has it.
  void addKernel(bool uniform, bool gpu) {
    std::string name = abi::getNoiseKernelSymbol(uniform, f64);
    if (SymbolTable::lookupSymbolIn(module, name))
      return;
    func::FuncOp pair = addPairFunction(name + "_pair", uniform);
    b.setInsertionPointToEnd(module.getBody());
    auto out =
        MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, type);
    Type i64 = b.getI64Type();
    auto fn = func::FuncOp::create(b, name,
                                   b.getFunctionType({i64, i64, i64, out}, {}));
    if (gpu)
      fn->setAttr("nf.gpu_kernel", b.getUnitAttr());
    else
      fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value seed = entry->getArgument(0), firstRow = entry->getArgument(1),
          first = entry->getArgument(2), rows = entry->getArgument(3);
    Value n = memref::DimOp::create(b, rows, 0);
    auto fillRow = [&](Value row) {
      Value cols = memref::DimOp::create(b, rows, 1);
      Value two = index(2), one = index(1);
      scf::ForOp::create(
          b, b.getLoc(), index(0), cols, two, ValueRange{},
          [&](OpBuilder &nested, Location loc, Value col, ValueRange) {
            ImplicitLocOpBuilder ib(loc, nested);
            Value pairIndex = arith::AddIOp::create(
                ib, first,
                arith::IndexCastOp::create(
                    ib, ib.getI64Type(), arith::DivUIOp::create(ib, col, two)));
            // Keyed by the global row: first_row + the row of `out`.
            Value row64 = arith::AddIOp::create(
                ib, firstRow,
                arith::IndexCastOp::create(ib, ib.getI64Type(), row));
            auto values = func::CallOp::create(
                ib, pair, ValueRange{seed, row64, pairIndex});
            memref::StoreOp::create(ib, values.getResult(0), rows,
                                    ValueRange{row, col});
            Value next = arith::AddIOp::create(ib, col, one);
            Value inside = arith::CmpIOp::create(ib, arith::CmpIPredicate::ult,
                                                 next, cols);
            scf::IfOp::create(ib, inside, [&](OpBuilder &then, Location l) {
              memref::StoreOp::create(then, l, values.getResult(1), rows,
                                      ValueRange{row, next});
              scf::YieldOp::create(then, l);
            });
            scf::YieldOp::create(ib);
          });
    };
    buildForEachRow(b, b.getLoc(), n, gpu,
                    [&](OpBuilder &, Location, Value row) { fillRow(row); });
    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b);
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value i32(uint32_t v) {
    return arith::ConstantIntOp::create(b, b.getI32Type(), v);
  }
  Value i64(int64_t v) {
    return arith::ConstantIntOp::create(b, b.getI64Type(), v);
  }
  Value real(double v) {
    return arith::ConstantOp::create(b, b.getFloatAttr(type, v));
  }
  Value low32(Value v) { return arith::TruncIOp::create(b, b.getI32Type(), v); }
  Value high32(Value v) { return low32(arith::ShRUIOp::create(b, v, i64(32))); }

  /// Philox4x32-10 (Salmon et al.), as nfrt_philox4x32_10.
  SmallVector<Value, 4> philox(SmallVector<Value, 4> c, Value k0, Value k1) {
    Value mul0 = i32(0xD2511F53), mul1 = i32(0xCD9E8D57);
    Value weyl0 = i32(0x9E3779B9), weyl1 = i32(0xBB67AE85);
    for (int round = 0; round < 10; ++round) {
      auto p0 = arith::MulUIExtendedOp::create(b, c[0], mul0);
      auto p1 = arith::MulUIExtendedOp::create(b, c[2], mul1);
      c = {arith::XOrIOp::create(
               b, arith::XOrIOp::create(b, p1.getHigh(), c[1]), k0),
           p1.getLow(),
           arith::XOrIOp::create(
               b, arith::XOrIOp::create(b, p0.getHigh(), c[3]), k1),
           p0.getLow()};
      k0 = arith::AddIOp::create(b, k0, weyl0);
      k1 = arith::AddIOp::create(b, k1, weyl1);
    }
    return c;
  }

  /// A uniform in [0, 1): f32 from the top 24 bits of `hi`; f64 from 53
  /// bits of (hi, lo).
  Value unit(Value hi, Value lo) {
    if (!f64) {
      Value bits = arith::ShRUIOp::create(b, hi, i32(8));
      return arith::MulFOp::create(b, arith::UIToFPOp::create(b, type, bits),
                                   real(0x1.0p-24));
    }
    Value h = arith::ExtUIOp::create(b, b.getI64Type(), hi);
    Value l = arith::ExtUIOp::create(b, b.getI64Type(), lo);
    Value bits = arith::AndIOp::create(
        b,
        arith::XOrIOp::create(b, arith::ShLIOp::create(b, h, i64(21)),
                              arith::ShRUIOp::create(b, l, i64(11))),
        i64((int64_t(1) << 53) - 1));
    return arith::MulFOp::create(b, arith::UIToFPOp::create(b, type, bits),
                                 real(0x1.0p-53));
  }

  /// 2 * unit - 1.
  Value centered(Value hi, Value lo) {
    return arith::SubFOp::create(
        b, arith::MulFOp::create(b, real(2.0), unit(hi, lo)), real(1.0));
  }

  /// `<name>(seed, row, pair) -> (T, T)`: noise values (row, 2 pair) and
  /// (row, 2 pair + 1).
  func::FuncOp addPairFunction(StringRef name, bool uniform) {
    b.setInsertionPointToEnd(module.getBody());
    Type i64Type = b.getI64Type();
    auto fn = func::FuncOp::create(
        b, name, b.getFunctionType({i64Type, i64Type, i64Type}, {type, type}));
    fn.setPrivate();
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value seed = entry->getArgument(0), row = entry->getArgument(1),
          pair = entry->getArgument(2);
    Value k0 = low32(seed), k1 = high32(seed);
    auto block = [&](Value attempt) {
      return philox({low32(row), high32(row), low32(pair), attempt}, k0, k1);
    };
    if (uniform) {
      SmallVector<Value, 4> r = block(i32(0));
      func::ReturnOp::create(b, ValueRange{unit(r[0], r[1]), unit(r[2], r[3])});
      return fn;
    }
    Type i32Type = b.getI32Type();
    auto loop = scf::WhileOp::create(
        b, TypeRange{i32Type, type, type, type}, ValueRange{i32(0)},
        [&](OpBuilder &, Location, ValueRange args) {
          SmallVector<Value, 4> r = block(args[0]);
          // (u, v, s, inside the disc) of a point of the square.
          auto point = [&](Value wu0, Value wu1, Value wv0, Value wv1) {
            Value u = centered(wu0, wu1), v = centered(wv0, wv1);
            Value s = arith::AddFOp::create(b, arith::MulFOp::create(b, u, u),
                                            arith::MulFOp::create(b, v, v));
            Value inside = arith::AndIOp::create(
                b,
                arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, s,
                                      real(0.0)),
                arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, s,
                                      real(1.0)));
            return std::make_tuple(u, v, s, inside);
          };
          Value u, v, s, found;
          if (!f64) {
            // Two points per block, 32 bits per coordinate.
            auto [u0, v0, s0, in0] = point(r[0], r[0], r[1], r[1]);
            auto [u1, v1, s1, in1] = point(r[2], r[2], r[3], r[3]);
            u = arith::SelectOp::create(b, in0, u0, u1);
            v = arith::SelectOp::create(b, in0, v0, v1);
            s = arith::SelectOp::create(b, in0, s0, s1);
            found = arith::OrIOp::create(b, in0, in1);
          } else {
            auto [u0, v0, s0, in0] = point(r[0], r[1], r[2], r[3]);
            u = u0, v = v0, s = s0, found = in0;
          }
          Value retry = arith::XOrIOp::create(
              b, found, arith::ConstantIntOp::create(b, b.getI1Type(), 1));
          Value next = arith::AddIOp::create(b, args[0], i32(1));
          scf::ConditionOp::create(b, retry, ValueRange{next, u, v, s});
        },
        [&](OpBuilder &nested, Location loc, ValueRange args) {
          scf::YieldOp::create(nested, loc, args[0]);
        });
    b.setInsertionPointAfter(loop);
    Value u = loop.getResult(1), v = loop.getResult(2), s = loop.getResult(3);
    Value factor = math::SqrtOp::create(
        b,
        arith::DivFOp::create(
            b, arith::MulFOp::create(b, real(-2.0), math::LogOp::create(b, s)),
            s));
    func::ReturnOp::create(b, ValueRange{arith::MulFOp::create(b, u, factor),
                                         arith::MulFOp::create(b, v, factor)});
    return fn;
  }

  ImplicitLocOpBuilder b;
  ModuleOp module;
  FloatType type;
  bool f64;
};

} // namespace

void mlir::nf::addNoiseKernels(ModuleOp module, FloatType elementType,
                               bool gpu) {
  NoiseBuilder builder(module, elementType);
  builder.addKernel(/*uniform=*/false, gpu);
  builder.addKernel(/*uniform=*/true, gpu);
}
