#!/usr/bin/python3
"""Runs a flow compiled by nf-compile: samples, log_prob, throughput, and a
figure of a 2-D model's samples and density (at context 0 for a conditional one).

    /usr/bin/python3 examples/run_compiled.py build/examples/librealnvp2d.so out/realnvp2d.png
"""

import sys
import time

import numpy as np

import nfmlir  # noqa: E402
from nfmlir import plots  # noqa: E402


def throughput(fn, rows):
    fn()
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.5:
        fn()
        calls += 1
    return rows * calls / (time.perf_counter() - start)


def main(library, picture):
    for name, model in nfmlir.load(library).models.items():
        print(f"model @{name}: {model.dtype.name}, dim {model.dim}, context {model.context_dim}")
        ctx = (lambda n: np.zeros((n, model.context_dim), model.dtype)) if model.context_dim else (lambda n: None)
        x, logp = model.sample_with_log_prob(100_000, seed=0, context=ctx(100_000))
        check = np.abs(model.log_prob(x, ctx(len(x))) - logp).max()
        print(f"  100000 samples: mean {np.round(x.mean(0), 3)}, std {np.round(x.std(0), 3)}")
        print(f"  mean log p(x) of its samples {logp.mean():.4f} (log_prob agrees to {check:.1e})")
        batch = np.ascontiguousarray(x[:4096])
        print(f"  throughput (batch 4096): log_prob {throughput(lambda: model.log_prob(batch, ctx(4096)), 4096):,.0f} rows/s, "
              f"sample {throughput(lambda: model.sample(4096, 1, ctx(4096)), 4096):,.0f} rows/s")
        if model.dim == 2 and picture:
            extent = plots.square_extent(x)
            grid = plots.grid(extent)
            density = np.exp(model.log_prob(grid.astype(model.dtype), ctx(len(grid))).astype(np.float64))
            at = ", context 0" if model.context_dim else ""
            fig, (ax_samples, ax_density) = plots.figure(2, f"@{name} compiled by nf-mlir ({model.dtype.name}{at})")
            plots.histogram(ax_samples, x, extent, "samples")
            plots.grid_image(ax_density, density, extent, "density", "$p(x)$")
            plots.save(fig, picture)
            print(f"  wrote {picture} (samples, density)")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)
