// Model names are checked where they are declared: each becomes part of C
// symbols (nf_<model>_<entry>), so it must be a C identifier, and two models
// of one module must not generate the same symbol.
// RUN: nf-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{'nf.model' op name 'two-moons' must be a C identifier ([A-Za-z_][A-Za-z0-9_]*): the compiled library's functions are named nf_<model>_<entry>}}
nf.model @"two-moons"(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{'nf.model' op name '2d' must be a C identifier}}
nf.model @"2d"(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-note @+1 {{model @x is here}}
nf.model @x(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}
// expected-error @+1 {{'nf.model' op name 'x_sample_with' cannot share a library with model @x: both would define 'nf_x_sample_with_log_prob'}}
nf.model @x_sample_with(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// Names that extend each other without generating a common symbol are
// fine: @m's glue descriptor is m_model, @m_model's is m_model_model.
nf.model @m(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}
nf.model @m_model(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}

// -----

// expected-note @+1 {{model @m is here}}
nf.model @m(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}
// expected-error @+1 {{'nf.model' op name 'm_latent' cannot share a library with model @m: both would define 'nf_m_latent_dim'}}
nf.model @m_latent(%x: tensor<?x2xf32>) base #nf.std_normal {
  nf.yield %x : tensor<?x2xf32>
}
