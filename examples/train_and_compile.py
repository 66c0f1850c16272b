#!/usr/bin/python3
"""Train a 2-D neural spline flow in PyTorch, compile it with nf-mlir, run it.

Trains a small RQ-NSF (LU linear + rational-quadratic spline couplings,
nflows' layout: nfmlir.torch_flows) on two moons for a few seconds,
imports it with nfmlir.from_torch, compiles it to a native library with
nf-compile (float32), checks that the library's log_prob is PyTorch's,
draws a figure (training data, compiled-model samples, compiled density,
and its log-density error against PyTorch on a grid), and times log_prob at
batch 4096 against PyTorch eager on the same flow.

    /usr/bin/python3 examples/train_and_compile.py [out/two_moons.png]
"""

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
import nfmlir  # noqa: E402
from nfmlir import plots  # noqa: E402
from nfmlir import torch_flows as tf  # noqa: E402
from nfmlir.datasets import two_moons  # noqa: E402

BATCH = 4096
EXTENT = (-3.5, 3.5, -3.2, 3.8)  # x0, x1, y0, y1: square, around the moons


def make_flow(steps=4, bins=8, hidden=48):
    """`steps` x [LU linear, spline coupling on one coordinate given the other]."""
    layers = []
    for k in range(steps):
        layers.append(tf.LULinear(2))
        mask = [1, -1] if k % 2 == 0 else [-1, 1]
        net = tf.MLP(1, 3 * bins - 1, hidden, num_blocks=2)
        layers.append(tf.PiecewiseRationalQuadraticCouplingTransform(mask, net, num_bins=bins, tail_bound=4.0))
    return tf.Flow(layers, 2)


def train(flow, data, steps=500, batch=256):
    data = torch.as_tensor(data, dtype=torch.float32)
    optimizer = torch.optim.Adam(flow.parameters(), lr=5e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for step in range(steps):
        loss = -flow.log_prob(data[torch.randint(0, len(data), (batch,))]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step:4d}/{steps}: -log p = {loss.item():.3f}", flush=True)
    return flow.eval()


def throughput(fn, rows, seconds=0.4):
    fn()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return rows * calls / (time.perf_counter() - start)


def best_throughputs(fns, rows, rounds=3):
    """Rows/s of each function, the best of `rounds` alternating runs (so
    that a busy machine slows both alike)."""
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = max(best[i], throughput(fn, rows))
    return best


def main(picture):
    start = time.perf_counter()
    data = two_moons(50_000, rng=0)
    torch.set_num_threads(1)  # small batches: one thread trains fastest
    print("== training a 2-D RQ-NSF on two moons in PyTorch (4 x [LU linear, spline coupling, 8 bins])")
    t = time.perf_counter()
    torch.manual_seed(0)
    flow = train(make_flow(), data)
    print(f"  trained in {time.perf_counter() - t:.1f} s")

    print("== nfmlir.from_torch(flow).compile()")
    t = time.perf_counter()
    model = nfmlir.from_torch(flow, dtype="float32", name="two_moons")
    out_dir = ROOT / "build" / "examples" / "two_moons"
    print(f"  compiling {len(model.layers)} layers -> {out_dir / 'libtwo_moons.so'} ...", end=" ", flush=True)
    lib = model.compile(out_dir=out_dir)
    print(f"done in {time.perf_counter() - t:.1f} s")

    held_out = two_moons(10_000, rng=1).astype(np.float32)
    twin = make_flow()
    twin.load_state_dict(flow.state_dict())
    with torch.no_grad():
        exact = twin.double().eval().log_prob(torch.from_numpy(held_out.astype(np.float64))).numpy()
    compiled = lib.log_prob(held_out)
    rel = np.max(np.abs(compiled - exact) / np.abs(exact))
    print(f"  held-out mean log p = {compiled.mean():.4f}; compiled float32 vs PyTorch float64: max rel error "
          f"{rel:.1e}")

    grid = plots.grid(EXTENT)
    grid_compiled = lib.log_prob(grid.astype(np.float32)).astype(np.float64)
    with torch.no_grad():
        grid_torch = twin.log_prob(torch.from_numpy(grid)).numpy()
    error = np.abs(grid_compiled - grid_torch)
    print(f"  on a {plots.GRID}x{plots.GRID} grid: max |log p compiled - log p PyTorch| = {error.max():.1e} "
          f"(mean {error.mean():.1e})")

    fig, (ax_data, ax_samples, ax_density, ax_error) = plots.figure(
        4, "Two moons: RQ-NSF trained in PyTorch, compiled by nf-mlir (float32)", columns=2)
    plots.histogram(ax_data, data, EXTENT, "(a) training data")
    plots.histogram(ax_samples, lib.sample(200_000, seed=0), EXTENT, "(b) compiled-model samples")
    plots.grid_image(ax_density, np.exp(grid_compiled), EXTENT, "(c) compiled density", "$p(x)$")
    plots.contours(ax_density, np.exp(grid_torch), EXTENT, "PyTorch density (contours)")
    plots.grid_image(ax_error, error, EXTENT, "(d) log-density error vs PyTorch (float64)",
                     r"$|\log p_\mathrm{compiled} - \log p_\mathrm{PyTorch}|$", log=True, cmap="magma")
    plots.save(fig, picture)
    print(f"  wrote {picture} (training data, compiled samples, compiled density, its error against PyTorch)")

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    os.environ["NF_NUM_THREADS"] = str(threads)
    batch = np.ascontiguousarray(held_out[:BATCH])
    batch_t = torch.from_numpy(batch)

    def eager():
        with torch.no_grad():
            flow.log_prob(batch_t)

    nf_rate, torch_rate = best_throughputs([lambda: lib.log_prob(batch), eager], BATCH)
    print(f"== throughput at batch {BATCH}, float32, {threads} thread{'s' if threads > 1 else ''} each")
    print(f"log_prob: {nf_rate:,.0f} rows/s compiled vs {torch_rate:,.0f} rows/s PyTorch eager "
          f"({nf_rate / torch_rate:.1f}x)")
    print(f"  total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    main(sys.argv[1] if len(sys.argv) == 2 else str(ROOT / "out" / "two_moons.png"))
