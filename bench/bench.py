#!/usr/bin/python3
"""nf-mlir against eager PyTorch on the same RealNVP, in one run.

RealNVP-style flows (8 affine couplings, conditioner MLP with two hidden
layers of 128 ReLU units, a reverse between couplings) with D = 8 and 64.
Times log_prob and sample at batch 1 (latency) and 4096 (throughput), on 1
thread and on all threads, and prints PyTorch time / nf time.

    /usr/bin/python3 bench/bench.py [--quick]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import nfmlir  # noqa: E402


class TorchRealNVP(torch.nn.Module):
    """Eager PyTorch twin of the nf model: same layers, same weights."""

    def __init__(self, model):
        super().__init__()
        self.dim = model.dim
        self.couplings = []
        for layer in model.layers:
            if isinstance(layer, nfmlir.AffineCoupling):
                linears = []
                for w, b in layer.conditioner.layers:
                    lin = torch.nn.Linear(*w.shape)
                    lin.weight.data = torch.tensor(w.T, dtype=torch.float32)
                    lin.bias.data = torch.tensor(b, dtype=torch.float32)
                    linears.append(lin)
                self.couplings.append((layer.identity, torch.nn.ModuleList(linears)))
            else:
                assert isinstance(layer, nfmlir.Reverse)
                self.couplings.append("reverse")

    @staticmethod
    def net(linears, h):
        for k, lin in enumerate(linears):
            h = lin(h)
            if k + 1 < len(linears):
                h = torch.relu(h)
        return h

    def log_prob(self, x):
        ldj = torch.zeros(x.shape[0])
        for layer in self.couplings:
            if layer == "reverse":
                x = x.flip(1)
                continue
            identity, linears = layer
            a = len(identity)
            xa, xb = x[:, :a], x[:, a:]
            h = self.net(linears, xa)
            shift, raw = h[:, : xb.shape[1]], h[:, xb.shape[1]:]
            x = torch.cat([xa, xb * torch.exp(raw) + shift], 1)
            ldj = ldj + raw.sum(1)
        return -0.5 * (x**2).sum(1) - 0.5 * self.dim * np.log(2 * np.pi) + ldj

    def sample(self, n):
        z = torch.randn(n, self.dim)
        for layer in reversed(self.couplings):
            if layer == "reverse":
                z = z.flip(1)
                continue
            identity, linears = layer
            a = len(identity)
            za, zb = z[:, :a], z[:, a:]
            h = self.net(linears, za)
            shift, raw = h[:, : zb.shape[1]], h[:, zb.shape[1]:]
            z = torch.cat([za, (zb - shift) * torch.exp(-raw)], 1)
        return z


def realnvp(dim, rng):
    layers = []
    half = dim // 2
    for k in range(8):
        net = nfmlir.MLP.random([half, 128, 128, 2 * (dim - half)], "relu", rng, scale=0.3)
        layers.append(nfmlir.AffineCoupling(list(range(half)), net, "exp"))
        if k < 7:
            layers.append(nfmlir.Reverse())
    return nfmlir.Model(layers, nfmlir.StandardNormal(dim), name=f"realnvp{dim}")


def best_time(fn, min_time):
    """Median of repeated calls, after a warm-up, taking at least min_time."""
    fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter timing runs")
    args = parser.parse_args()
    min_time = 0.3 if args.quick else 1.0
    rng = np.random.default_rng(0)
    all_threads = os.cpu_count() or 1
    out = Path(tempfile.mkdtemp(prefix="nf-bench-"))
    print(f"{'model':<10} {'entry':<9} {'batch':>5} {'threads':>7} {'PyTorch':>11} {'nf-mlir':>11} {'ratio':>7}")
    rows = []
    for dim in (8, 64):
        model = realnvp(dim, rng)
        lib = model.compile(opt=3, out_dir=out / model.name)
        twin = TorchRealNVP(model)
        x_check = rng.normal(size=(256, dim)).astype(np.float32)
        with torch.no_grad():
            err = np.abs(lib.log_prob(x_check) - twin.log_prob(torch.from_numpy(x_check)).numpy()).max()
        assert err < 1e-3, f"the twins disagree: {err}"
        for threads in sorted({1, all_threads}):
            torch.set_num_threads(threads)
            os.environ["NF_NUM_THREADS"] = str(threads)
            for batch in (1, 4096):
                x = rng.normal(size=(batch, dim)).astype(np.float32)
                xt = torch.from_numpy(x)
                with torch.no_grad():
                    cases = {
                        "log_prob": (lambda: twin.log_prob(xt), lambda: lib.log_prob(x)),
                        "sample": (lambda: twin.sample(batch), lambda: lib.sample(batch, seed=1)),
                    }
                    for entry, (torch_fn, nf_fn) in cases.items():
                        t_torch = best_time(torch_fn, min_time)
                        t_nf = best_time(nf_fn, min_time)
                        ratio = t_torch / t_nf
                        rows.append((model.name, entry, batch, threads, t_torch, t_nf, ratio))
                        print(f"{model.name:<10} {entry:<9} {batch:>5} {threads:>7} "
                              f"{t_torch * 1e6:>9.1f}us {t_nf * 1e6:>9.1f}us {ratio:>6.2f}x", flush=True)
    return rows


if __name__ == "__main__":
    main()
