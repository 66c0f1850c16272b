# lit configuration that runs the GoogleTest binaries of build/unittests.
import os

import lit.formats

config.name = "NF-Unit"
config.suffixes = []
config.test_source_root = os.path.join(config.nf_obj_root, "unittests")
config.test_exec_root = config.test_source_root
config.test_format = lit.formats.GoogleTest(config.llvm_build_mode, "Tests")
