// Energies the gradient cannot be derived for get an error at the op in the
// way and at the block that needs it.
// RUN: nf-opt %s --nf-derive-energy-gradients -split-input-file -verify-diagnostics

// A reduction that is not a sum.
func.func @max_energy(%y: tensor<?x2xf64>) -> tensor<?xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x2xf64>
  %init = tensor.empty(%n) : tensor<?xf64>
  // expected-error @+1 {{'linalg.generic' op cannot be differentiated: its payload combines the accumulator other than by a sum}}
  %u = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%y : tensor<?x2xf64>) outs(%init : tensor<?xf64>) {
  ^bb0(%v: f64, %acc: f64):
    %m = arith.maximumf %acc, %v : f64
    linalg.yield %m : f64
  } -> tensor<?xf64>
  return %u : tensor<?xf64>
}
nf.model @m(%x: tensor<?x2xf64>) base #nf.std_normal {
  // expected-error @+1 {{cannot derive the gradient of energy @max_energy (see the error above); give one as `gradient`}}
  %0 = nf.langevin %x energy @max_energy {step_size = 0.1} : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// -----

// A payload op without a derivative rule.
func.func @erf_energy(%y: tensor<?x2xf64>) -> tensor<?xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x2xf64>
  %zero = arith.constant 0.0 : f64
  %e = tensor.empty(%n) : tensor<?xf64>
  %init = linalg.fill ins(%zero : f64) outs(%e : tensor<?xf64>) -> tensor<?xf64>
  %u = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%y : tensor<?x2xf64>) outs(%init : tensor<?xf64>) {
  ^bb0(%v: f64, %acc: f64):
    // expected-error @+1 {{'math.erf' op cannot be differentiated (in the payload of linalg.generic; the energy gradient knows arith/math ops such as add, mul, div, exp, log, tanh, sqrt, powf, sin)}}
    %r = math.erf %v : f64
    %s = arith.addf %acc, %r : f64
    linalg.yield %s : f64
  } -> tensor<?xf64>
  return %u : tensor<?xf64>
}
nf.model @m(%x: tensor<?x2xf64>) base #nf.std_normal {
  // expected-error @+1 {{cannot derive the gradient of energy @erf_energy}}
  %0 = nf.langevin %x energy @erf_energy {step_size = 0.1} : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// -----

// Calls are not followed.
func.func private @inner(%y: tensor<?x2xf64>) -> tensor<?xf64>
func.func @calling_energy(%y: tensor<?x2xf64>) -> tensor<?xf64> {
  // expected-error @+1 {{'func.call' op cannot be differentiated: the energy gradient knows linalg ops, tensor slices, reshapes and casts, and nf.mlp}}
  %u = func.call @inner(%y) : (tensor<?x2xf64>) -> tensor<?xf64>
  return %u : tensor<?xf64>
}
nf.model @m(%x: tensor<?x2xf64>) base #nf.std_normal {
  // expected-error @+1 {{cannot derive the gradient of energy @calling_energy}}
  %0 = nf.langevin %x energy @calling_energy {step_size = 0.1} : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// -----

// expected-error @+1 {{'func.func' op cannot be differentiated: the energy gradient needs a defined function with one block and one result}}
func.func private @external(%y: tensor<?x2xf64>) -> tensor<?xf64>
nf.model @m(%x: tensor<?x2xf64>) base #nf.std_normal {
  // expected-error @+1 {{cannot derive the gradient of energy @external}}
  %0 = nf.langevin %x energy @external {step_size = 0.1} : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// -----

// An x-dependent value captured by a payload instead of passed as an operand.
func.func @captured_energy(%y: tensor<?x2xf64>) -> tensor<?xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x2xf64>
  %first = tensor.extract %y[%c0, %c0] : tensor<?x2xf64>
  %init = tensor.empty(%n) : tensor<?xf64>
  // expected-error @+1 {{'linalg.generic' op cannot be differentiated: its region uses an x-dependent value defined outside it (pass it as an operand)}}
  %u = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      outs(%init : tensor<?xf64>) {
  ^bb0(%out: f64):
    linalg.yield %first : f64
  } -> tensor<?xf64>
  return %u : tensor<?xf64>
}
nf.model @m(%x: tensor<?x2xf64>) base #nf.std_normal {
  // expected-error @+1 {{cannot derive the gradient of energy @captured_energy}}
  %0 = nf.langevin %x energy @captured_energy {step_size = 0.1} : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}

// -----

// A reduction that overwrites its accumulator keeps one term only.
func.func @last_energy(%y: tensor<?x2xf64>) -> tensor<?xf64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %y, %c0 : tensor<?x2xf64>
  %init = tensor.empty(%n) : tensor<?xf64>
  // expected-error @+1 {{'linalg.generic' op cannot be differentiated: it reduces without reading its accumulator}}
  %u = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%y : tensor<?x2xf64>) outs(%init : tensor<?xf64>) {
  ^bb0(%v: f64, %acc: f64):
    linalg.yield %v : f64
  } -> tensor<?xf64>
  return %u : tensor<?xf64>
}
nf.model @m(%x: tensor<?x2xf64>) base #nf.std_normal {
  // expected-error @+1 {{cannot derive the gradient of energy @last_energy}}
  %0 = nf.langevin %x energy @last_energy {step_size = 0.1} : tensor<?x2xf64>
  nf.yield %0 : tensor<?x2xf64>
}
