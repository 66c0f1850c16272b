// Bad input: a located error and a non-zero exit, never a crash.
// RUN: not nf-compile %S/Inputs/invalid-model.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=VERIFY
// RUN: not nf-compile %S/Inputs/syntax-error.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=SYNTAX
// RUN: not nf-compile %S/Inputs/no-model.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=NOMODEL
// RUN: not nf-compile %S/Inputs/does-not-exist.mlir 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not nf-compile %S/Inputs/no-model.mlir -O5 2>&1 | FileCheck %s --check-prefix=OPT
// RUN: not nf-compile %S/Inputs/no-model.mlir --emit=exe 2>&1 | FileCheck %s --check-prefix=EMIT
// RUN: not nf-compile %S/Inputs/bad-resource.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=RESOURCE
// RUN: not nf-compile %s --emit=obj -o /nonexistent/dir/out.o 2>&1 | FileCheck %s --check-prefix=OUTPUT
// Binary garbage, a truncated model and brackets nested 5000 deep (the
// parser would overflow its stack): located errors, no crash.
// RUN: printf 'nf\x00\x01\xff\xfe{{{\x80' > %t.bin.mlir && not nf-compile %t.bin.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=GARBAGE
// RUN: head -c -60 %S/cuda.mlir > %t.trunc.mlir && not nf-compile %t.trunc.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=TRUNC
// RUN: %python -c "print('module {' * 5000 + '}' * 5000)" > %t.deep.mlir && not nf-compile %t.deep.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=DEEP
// Inputs on which MLIR's own parsers crash (found by fuzzing, kept in
// test/fuzz/regressions): an error, exit 1, no crash.
// RUN: not nf-compile %S/../../fuzz/regressions/nf-fuzz-ir/linalg-broadcast-bad-dimensions.mlir -o %t.so 2>&1 | FileCheck %s --check-prefix=PARSERCRASH
// A library that cannot be linked (a directory in its place) leaves no
// header behind either.
// RUN: rm -rf %t.d && mkdir -p %t.d/libm.so && not nf-compile %s -o %t.d/libm.so 2>&1 | FileCheck %s --check-prefix=LINK
// RUN: not test -e %t.d/m.h

// VERIFY: invalid-model.mlir:4:8: error: 'nf.permute' op permutation repeats entry 1
// SYNTAX: syntax-error.mlir:3:{{[0-9]+}}: error:
// NOMODEL: nf-compile: error: '{{.*}}no-model.mlir' holds no nf.model
// MISSING: nf-compile: error: {{.*}}does-not-exist.mlir
// OPT: nf-compile: error: optimization level must be 0 to 3
// EMIT: Cannot find option named 'exe'
// RESOURCE: bad-resource.mlir:4:8: error: 'arith.constant' op resource 'half' is missing or does not hold one 'f32'
// OUTPUT: nf-compile: error: {{.*}}/nonexistent/dir/out.o
// GARBAGE: bin.mlir:1:{{[0-9]+}}: error:
// TRUNC: trunc.mlir:{{[0-9]+}}:{{[0-9]+}}: error:
// DEEP: deep.mlir:1:{{[0-9]+}}: error: brackets nested deeper than 1000 levels
// PARSERCRASH: linalg-broadcast-bad-dimensions.mlir:2:91: error: expected ']'
// PARSERCRASH: error: MLIR's parser crashed on this input (an upstream bug
// PARSERCRASH-NOT: PLEASE submit
// LINK: nf-compile: error: linking '{{.*}}libm.so' failed

nf.model @m(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}
