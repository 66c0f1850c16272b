#!/usr/bin/python3
"""A stochastic normalizing flow on the double well, after Wu, Koehler and
Noe (2020), experiment 1.

Trains a RealNVP (3 blocks of 2 affine couplings) by maximum likelihood in
PyTorch on exact draws of exp(-u), u = x1^4 - 6 x1^2 - 0.5 x1 + 0.5 x2^2,
imports it with nfmlir.from_torch, and compiles it twice: alone, and as an
SNF whose samples then take 50 Metropolis steps on the target (one
nf.metropolis block before the couplings in the normalizing direction).
(The paper's layout with blocks on the interpolated energies between the
couplings, as in examples/snf_double_well.mlir, pays off when the flow is
trained together with them; compiled models are not trained.)
For 100,000 samples of each it prints the error of the reduced free energy
F(x1) = -log p(x1) on 30 bins over |x1| < 2.25 (kT, RMS over bins after
removing the free constant), unweighted and reweighted by the importance
weights w = exp(-u(x)) / q(x), where q(x) is what sample_with_log_prob
returns: the exact density for the RealNVP, the path's model part for the
SNF.

    /usr/bin/python3 examples/run_snf.py
"""

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
import nfmlir  # noqa: E402
from nfmlir import torch_flows as tf  # noqa: E402

GRID = np.linspace(-4, 4, 400001)
DENSITY = np.exp(-(GRID**4 - 6 * GRID**2 - 0.5 * GRID))
EDGES = np.linspace(-2.25, 2.25, 31)


def energy(x):
    return x[:, 0] ** 4 - 6 * x[:, 0] ** 2 - 0.5 * x[:, 0] + 0.5 * x[:, 1] ** 2


def exact_samples(n, rng):
    """x1 by inverting the tabulated CDF of exp(-u(x1, 0)), x2 ~ N(0, 1)."""
    cdf = np.cumsum(DENSITY) / DENSITY.sum()
    return np.stack([np.interp(rng.uniform(size=n), cdf, GRID), rng.normal(size=n)], 1)


def exact_free_energy():
    mass = np.array([DENSITY[(GRID >= a) & (GRID < b)].sum() for a, b in zip(EDGES[:-1], EDGES[1:])])
    return -np.log(mass)


def free_energy_error(x, log_weights=None):
    """RMS over bins of F_estimate - F_exact after removing their mean
    difference; bins the samples miss count as one sample."""
    weights = np.ones(len(x)) if log_weights is None else np.exp(log_weights - log_weights.max())
    mass, _ = np.histogram(x[:, 0], EDGES, weights=weights)
    mass = np.maximum(mass, weights.max() * (mass == 0) + mass)
    difference = -np.log(mass) - exact_free_energy()
    return np.sqrt(np.mean((difference - difference.mean()) ** 2))


def train_realnvp(data, steps=300, batch=128):
    torch.manual_seed(0)
    layers = []
    for _ in range(3):
        for mask in ([1, -1], [-1, 1]):
            layers.append(tf.AffineCouplingTransform(mask, tf.MLP(1, 2, 64, num_blocks=2, activation="tanh"),
                                                     scale_fn="exp"))
    flow = tf.Flow(layers, 2).double()
    data = torch.as_tensor(data)
    optimizer = torch.optim.Adam(flow.parameters(), lr=5e-3)
    for step in range(steps):
        loss = -flow.log_prob(data[torch.randint(0, len(data), (batch,))]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            print(f"  step {step:3d}/{steps}: -log p = {loss.item():.3f}", flush=True)
    print(f"  RealNVP trained by maximum likelihood ({steps} steps, batch {batch}): -log p = {loss.item():.3f}")
    return flow.eval()


def main():
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    flow = train_realnvp(exact_samples(10_000, rng))
    realnvp = nfmlir.from_torch(flow, dtype="float64", name="realnvp")
    # Layers run data first: the Metropolis block is the sampler's last step.
    mc = nfmlir.Metropolis(nfmlir.double_well(), proposal_scale=0.25, steps=50)
    snf = nfmlir.Model([mc, *realnvp.layers], nfmlir.StandardNormal(2), dtype="float64", name="snf")
    out = Path(tempfile.mkdtemp(prefix="nfmlir-snf-"))
    n = 100_000
    print(f"  free-energy error along x1 (kT, 30 bins, |x1| < 2.25, {n:,} samples):")
    for label, model in (("RealNVP", realnvp), ("RealNVP + 50 Metropolis steps", snf)):
        t = time.perf_counter()
        print(f"    compiling {label} ...", end=" ", flush=True)
        lib = model.compile(out_dir=out / model.name)
        print(f"done in {time.perf_counter() - t:.1f} s")
        x, log_q = lib.sample_with_log_prob(n, seed=1)
        log_w = -energy(x) - log_q
        w = np.exp(log_w - log_w.max())
        ess = w.sum() ** 2 / (w**2).sum() / n
        print(f"    {label:31s} unweighted {free_energy_error(x):.2f}, reweighted {free_energy_error(x, log_w):.2f}"
              f"  (effective sample size {100 * ess:.1f} %)")
    print(f"  done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
