// nf-lsp-server over stdio (-lit-test: messages separated by "// -----"):
// initialize, then open a model whose context type the nf.model verifier
// rejects on its third line; the server publishes that error at line 2
// (0-based) with the verifier's message.
// RUN: nf-lsp-server -lit-test < %s | FileCheck -strict-whitespace %s
{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"processId":123,"rootPath":"nf","capabilities":{},"trace":"off"}}
// CHECK: "id": 0,
// CHECK: "capabilities": {
// -----
{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{
  "uri":"test:///flow.mlir",
  "languageId":"mlir",
  "version":1,
  "text":"// A conditional model.\nfunc.func private @f(%a: f32) -> f32\nnf.model @m(%x: tensor<?x2xf32>, %c: tensor<?x1xf64>) base #nf.std_normal {\n  nf.yield %x : tensor<?x2xf32>\n}\n"
}}}
// CHECK: "method": "textDocument/publishDiagnostics",
// CHECK-NEXT: "params": {
// CHECK-NEXT:     "diagnostics": [
// CHECK-NEXT:       {
// CHECK-NEXT:         "category": "Parse Error",
// CHECK-NEXT:         "message": "'nf.model' op context must be a tensor<?xCxT> with the data's element type 'f32', but is 'tensor<?x1xf64>'",
// CHECK-NEXT:         "range": {
// CHECK-NEXT:           "end": {
// CHECK-NEXT:             "character": 8,
// CHECK-NEXT:             "line": 2
// CHECK-NEXT:           },
// CHECK-NEXT:           "start": {
// CHECK-NEXT:             "character": 0,
// CHECK-NEXT:             "line": 2
// CHECK-NEXT:           }
// CHECK-NEXT:         },
// CHECK:              "severity": 1,
// CHECK-NEXT:         "source": "mlir"
// CHECK-NEXT:       }
// CHECK-NEXT:     ],
// CHECK-NEXT:     "uri": "test:///flow.mlir",
// CHECK-NEXT:     "version": 1
// CHECK-NEXT:   }
// -----
{"jsonrpc":"2.0","id":3,"method":"shutdown"}
// -----
{"jsonrpc":"2.0","method":"exit"}
