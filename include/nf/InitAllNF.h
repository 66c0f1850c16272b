//===- InitAllNF.h - Register the nf dialect and passes ---------*- C++ -*-===//

#ifndef NF_INITALLNF_H
#define NF_INITALLNF_H

#include "mlir/IR/DialectRegistry.h"
#include "nf/Codegen/CPU/Passes.h"
#include "nf/Codegen/Common/Passes.h"
#include "nf/Codegen/GPU/Passes.h"
#include "nf/Conversion/Passes.h"
#include "nf/Dialect/NF/IR/NFDialect.h"
#include "nf/Dialect/NF/Transforms/Passes.h"
#include "nf/Pipelines/Pipelines.h"

namespace mlir::nf {

/// Adds the nf dialect (and the upstream dialects it builds IR in).
inline void registerAllNFDialects(DialectRegistry &registry) {
  registry.insert<NFDialect>();
}

/// Registers every nf pass and pipeline with the global registry.
inline void registerAllNFPasses() {
  registerNFPasses();
  registerNFConversionPasses();
  registerNFCodegenCommonPasses();
  registerNFCodegenCPUPasses();
  registerNFCodegenGPUPasses();
  registerNFPipelines();
}

} // namespace mlir::nf

#endif // NF_INITALLNF_H
