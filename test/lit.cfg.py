# lit configuration of the nf regression tests (FileCheck over nf-opt).
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "NF"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "python", "fuzz"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.nf_obj_root, "test")
# Captured FileCheck names do not leak past a CHECK-LABEL.
config.environment["FILECHECK_OPTS"] = "-enable-var-scope"

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["nf-opt", "nf-compile", "nf-translate", "nf-lsp-server", "mlir-opt", "mlir-translate", "mlir-runner", "llvm-nm"],
    [os.path.join(config.nf_obj_root, "bin"), config.llvm_tools_dir],
)
config.substitutions.append(("%nf_src_root", config.nf_src_root))
# mlir-runner's support libraries (printMemrefF32, ...).
for lib in ("mlir_runner_utils", "mlir_c_runner_utils"):
    config.substitutions.append((f"%{lib}", os.path.join(config.llvm_lib_dir, f"lib{lib}.so")))
config.substitutions.append(("%nf_obj_root", config.nf_obj_root))
