// RUN: nf-opt %s --nf-reorder-contractions | FileCheck %s --check-prefix=REORDER
// RUN: nf-opt %s --nf-approximate-math | FileCheck %s --check-prefix=APPROX
// RUN: nf-opt %s --nf-inline-scalar-resources | FileCheck %s --check-prefix=RESOURCE

// Matmul loops run (m, k, n): the reduction loop k moves out of the inner
// position.
// REORDER-DAG: #[[$A:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// REORDER-DAG: #[[$B:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// REORDER-DAG: #[[$C:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// REORDER-LABEL: func.func @matmul
// REORDER: linalg.generic {indexing_maps = [#[[$A]], #[[$B]], #[[$C]]], iterator_types = ["parallel", "reduction", "parallel"]}
func.func @matmul(%a: tensor<?x4xf32>, %b: tensor<4x8xf32>, %c: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<?x4xf32>, tensor<4x8xf32>) outs(%c : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// f32 transcendentals become polynomials; f64 ones stay exact.
// APPROX-LABEL: func.func @transcendentals
// APPROX-NOT: math.exp %{{.*}} : f32
// APPROX-NOT: math.tanh
// APPROX: math.fma
// APPROX: math.exp %{{.*}} : f64
func.func @transcendentals(%x: f32, %y: f64) -> (f32, f32, f64) {
  %0 = math.exp %x : f32
  %1 = math.tanh %x : f32
  %2 = math.exp %y : f64
  return %0, %1, %2 : f32, f32, f64
}

// Rank-0 blobs become literals; larger ones stay blobs.
// RESOURCE-LABEL: func.func @resources
// RESOURCE: arith.constant dense<2.000000e+00> : tensor<f32>
// RESOURCE: arith.constant dense_resource<pair> : tensor<2xf32>
func.func @resources() -> (tensor<f32>, tensor<2xf32>) {
  %0 = arith.constant dense_resource<two> : tensor<f32>
  %1 = arith.constant dense_resource<pair> : tensor<2xf32>
  return %0, %1 : tensor<f32>, tensor<2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      two: "0x0400000000000040",
      pair: "0x040000000000803F00000040"
    }
  }
#-}
