#!/usr/bin/python3
"""Runs two compiled examples with surjective and stochastic layers:

- examples/abs_flow.mlir (abs surjection: exact likelihood): its density is
  symmetric under sign flips, and log_prob of its samples is what sampling
  reported;
- examples/vae_flow_prior.mlir (a VAE layer with a flow prior: a bound):
  the ELBO and the importance-weighted estimates with k = 1, 8, 64 paths,
  which rise with k toward log p(x).

Usage: run_surjective.py LIBDIR (where libabs_flow.so and
libvae_flow_prior.so were compiled)."""

import sys
from pathlib import Path

import numpy as np

import nfmlir  # noqa: E402

libdir = Path(sys.argv[1] if len(sys.argv) > 1 else "build/examples")
flow = nfmlir.load(libdir / "libabs_flow.so")["abs_flow"]
x, logp = flow.sample_with_log_prob(10000, seed=1)
flipped = x * np.array([-1.0, 1.0], np.float32)
print(f"abs_flow: log_prob(samples) - sampled log p: max {np.abs(flow.log_prob(x) - logp).max():.2e}; "
      f"log p(x) - log p(x with x1 negated): max {np.abs(flow.log_prob(x) - flow.log_prob(flipped)).max():.2e}")

vae = nfmlir.load(libdir / "libvae_flow_prior.so")["vae_flow_prior"]
data = vae.sample(2000, seed=2)
print(f"vae_flow_prior on 2000 of its own samples: ELBO {vae.elbo(data, seed=3).mean():.4f}", end="")
for k in (1, 8, 64):
    print(f", IWAE k={k} {vae.log_prob_iwae(data, k, seed=3).mean():.4f}", end="")
print(f"; log_prob (IWAE, 32 paths) {vae.log_prob(data).mean():.4f}")
