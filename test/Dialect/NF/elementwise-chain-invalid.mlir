// nf.elementwise_chain verifier errors.
// RUN: nf-opt %s --split-input-file --verify-diagnostics

nf.model @not_elementwise(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.elementwise_chain %x : tensor<?x2xf32> {
  ^bb0(%a: tensor<?x2xf32>):
    // expected-error @+1 {{'nf.reverse' op is not an elementwise bijection; an nf.elementwise_chain holds only those}}
    %1 = nf.reverse %a : tensor<?x2xf32>
    nf.chain_yield %1 : tensor<?x2xf32>
  }
  nf.yield %0 : tensor<?x2xf32>
}

// -----

nf.model @not_a_chain(%x: tensor<?x2xf32>) base #nf.std_normal {
  %0 = nf.elementwise_chain %x : tensor<?x2xf32> {
  ^bb0(%a: tensor<?x2xf32>):
    %1 = nf.tanh %a : tensor<?x2xf32>
    // expected-error @+1 {{'nf.sigmoid' op must take the previous member's result (or the chain's argument) as its only operand}}
    %2 = nf.sigmoid %a : tensor<?x2xf32>
    nf.chain_yield %2 : tensor<?x2xf32>
  }
  nf.yield %0 : tensor<?x2xf32>
}

// -----

nf.model @not_last(%x: tensor<?x2xf32>) base #nf.std_normal {
  // expected-error @+1 {{'nf.elementwise_chain' op must yield its last member's result}}
  %0 = nf.elementwise_chain %x : tensor<?x2xf32> {
  ^bb0(%a: tensor<?x2xf32>):
    %1 = nf.tanh %a : tensor<?x2xf32>
    %2 = nf.sigmoid %1 : tensor<?x2xf32>
    nf.chain_yield %1 : tensor<?x2xf32>
  }
  nf.yield %0 : tensor<?x2xf32>
}

// -----

nf.model @argument(%x: tensor<?x2xf32>) base #nf.std_normal {
  // expected-error @+1 {{'nf.elementwise_chain' op body must take one argument of the data's type 'tensor<?x2xf32>'}}
  %0 = nf.elementwise_chain %x : tensor<?x2xf32> {
  ^bb0(%a: tensor<?x3xf32>):
    %1 = nf.tanh %a : tensor<?x3xf32>
    nf.chain_yield %1 : tensor<?x3xf32>
  }
  nf.yield %0 : tensor<?x2xf32>
}
