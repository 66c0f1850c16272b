#!/usr/bin/python3
"""nf-mlir against eager PyTorch on OpenBLAS and against this core's FMA peak, in one run.

Models (f32, random weights; each has an eager PyTorch twin holding the same
weights, checked at start: log_prob and the inverse agree on 256 samples):

  realnvp8, realnvp64  8 affine couplings (exp scale), conditioner MLP 2x128 ReLU, a reverse between
  nsf8                 8 rational-quadratic spline couplings (8 bins, linear tails at +-3), MLP 2x128
                       ReLU, a reverse between; the twin's spline follows nflows
  maf8, maf32          5 masked affine autoregressive layers (nflows' layout, softplus scale), MADE
                       2x128 ReLU, a reverse between; the twin is nflows' algorithm (one MADE pass per
                       layer for log_prob, D sequential passes per layer for sample)
  glow                 Glow-tiny on 4x8x8 images: 3 steps of ActNorm, 1x1 convolution and an affine
                       coupling (sigmoid scale, shift first) with a 3x3-1x1-3x3 conv conditioner

Entries log_prob and sample, batch 1 and 4096, 1 and 2 threads; for maf32 also
sample through nf-mlir's naive D-pass loop (--incremental-autoregressive-inverse=false).
Each time is the median of repeated calls after a warm-up. PyTorch runs in a child
process per thread count (without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE; glibc malloc told to
keep freed memory, see PEER_MALLOC; with 2 threads the best of PEER_THREAD_SETUPS), nf-mlir in
this process with NF_NUM_THREADS. The bench refuses to report ratios against the
reference BLAS. GFLOP/s counts the dense work of the minimal algorithm (see model_flops).

    /usr/bin/python3 bench/bench.py [--quick] [--models realnvp8,maf8] [--write-docs]
    /usr/bin/python3 bench/bench.py --check      # only the twin agreement checks; exit 0/1
"""

import argparse
import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if "--peer" not in sys.argv and "--probe-blas" not in sys.argv:
    # This process only checks the twins and times nf-mlir: keep torch's and
    # OpenBLAS's worker threads out of nf-mlir's way (the peer sets its own).
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
import nfmlir  # noqa: E402
from nfmlir import builder as nfb  # noqa: E402
from nfmlir import torch_flows as tf  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
ENTRIES = ("log_prob", "sample")
NAIVE = "sample naive"  # maf32's sample through the D-pass loop
NAIVE_ARGS = ["--incremental-autoregressive-inverse=false"]
NATIVE_ARGS = ["--mcpu=native"]  # the best code for this machine (the default is a portable baseline)
CHECK_BATCH = 256
TOL = 1e-3  # log_prob: absolute; inverse: relative to 1 + |x|
PEER_ENV_DROP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# glibc malloc serves eager PyTorch's MB-sized temporaries by mmap and
# returns them to the kernel on free, so every call page-faults them in again:
# on this VM that made whole peer runs 5-10x slower (bimodal, 11 vs 115 ms per
# RealNVP call). Keeping freed memory in the heap is the peer's best setup.
PEER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
               "MALLOC_TOP_PAD_": str(1 << 28)}


# -- models --------------------------------------------------------------------------------------

def realnvp(dim, rng):
    layers = []
    half = dim // 2
    for k in range(8):
        net = nfmlir.MLP.random([half, 128, 128, 2 * (dim - half)], "relu", rng, scale=0.3)
        layers.append(nfmlir.AffineCoupling(list(range(half)), net, "exp"))
        if k < 7:
            layers.append(nfmlir.Reverse())
    return nfmlir.Model(layers, nfmlir.StandardNormal(dim), name=f"realnvp{dim}")


def nsf(dim, rng, bins=8, tail_bound=3.0):
    layers = []
    half = dim // 2
    for k in range(8):
        net = nfmlir.MLP.random([half, 128, 128, (3 * bins - 1) * (dim - half)], "relu", rng, scale=0.3)
        layers.append(nfmlir.SplineCoupling(list(range(half)), net, bins=bins, tail_bound=tail_bound))
        if k < 7:
            layers.append(nfmlir.Reverse())
    return nfmlir.Model(layers, nfmlir.StandardNormal(dim), name=f"nsf{dim}")


def maf(dim, rng):
    layers = []
    for k in range(5):
        made = nfmlir.MADE.random(dim, [128, 128], 2, rng=rng, scale=0.3)
        layers.append(nfmlir.MaskedAffineAutoregressive(made, "softplus"))
        if k < 4:
            layers.append(nfmlir.Reverse())
    return nfmlir.Model(layers, nfmlir.StandardNormal(dim), name=f"maf{dim}")


def glow(rng, shape=(4, 8, 8), steps=3, hidden=16):
    c = shape[0]
    a = c // 2

    def conv(c_in, c_out, k):
        bound = 0.3 * np.sqrt(6.0 / ((c_in + c_out) * k * k))
        return rng.uniform(-bound, bound, (c_out, c_in, k, k)), rng.uniform(-0.1, 0.1, c_out)

    layers = []
    for _ in range(steps):
        # Glow's conditioner shape: 3x3, 1x1, 3x3 convolutions.
        net = nfmlir.ConvNet([conv(a, hidden, 3), conv(hidden, hidden, 1), conv(hidden, 2 * (c - a), 3)], "relu")
        layers += [nfmlir.ActNorm(rng.uniform(0.7, 1.3, c), 0.1 * rng.normal(size=c)),
                   nfmlir.Linear(np.linalg.qr(rng.normal(size=(c, c)))[0], 0.1 * rng.normal(size=c)),
                   nfmlir.AffineCoupling(list(range(a)), net, "sigmoid", shift_first=True)]
    return nfmlir.Model(layers, nfmlir.StandardNormal(int(np.prod(shape))), name="glow", event_shape=shape)


# Each model draws from its own seed, so any subset builds the same weights.
MODELS = {
    "realnvp8": lambda: realnvp(8, np.random.default_rng(8)),
    "realnvp64": lambda: realnvp(64, np.random.default_rng(64)),
    "nsf8": lambda: nsf(8, np.random.default_rng(108)),
    "maf8": lambda: maf(8, np.random.default_rng(208)),
    "maf32": lambda: maf(32, np.random.default_rng(232)),
    "glow": lambda: glow(np.random.default_rng(300)),
}


def model_flops(model):
    """FLOPs per sample of the minimal algorithm, the same for log_prob and
    sample: 2 * in * out per dense layer of each conditioner (MADE weights
    counted dense, ONE pass per autoregressive layer), 2 * Cin * Cout * kh *
    kw * H * W per convolution, 2 * C * C * H * W per 1x1 convolution
    (Linear over channels); elementwise work, permutations and ActNorm are
    not counted."""
    pixels = int(np.prod(model.event_shape[1:]))
    flops = 0
    for layer in model.layers:
        net = getattr(layer, "conditioner", None)
        if isinstance(net, nfmlir.ConvNet):
            flops += sum(2 * w.shape[0] * w.shape[1] * w.shape[2] * w.shape[3] * pixels for w, _ in net.layers)
        elif isinstance(net, nfmlir.MLP):
            flops += sum(2 * w.shape[0] * w.shape[1] for w, _ in net.layers)
        elif isinstance(layer, nfmlir.Linear):
            flops += 2 * layer.weight.shape[0] * layer.weight.shape[1] * pixels
    return flops


# -- the model on disk, for the peer process (json structure + npz arrays) -------------------------

def _encode(value, arrays, key):
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays, f"{key}.{i}") for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if hasattr(value, "__dict__"):
        cls = type(value).__name__
        if getattr(nfb, cls, None) is not type(value):
            raise TypeError(f"cannot store a {cls}")
        return {"__class__": cls, "attrs": {k: _encode(v, arrays, f"{key}.{k}") for k, v in vars(value).items()}}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {value!r}")


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if isinstance(value, dict):
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__tuple__" in value:
            return tuple(_decode(v, arrays) for v in value["__tuple__"])
        cls = getattr(nfb, value["__class__"])
        obj = cls.__new__(cls)
        obj.__dict__.update({k: _decode(v, arrays) for k, v in value["attrs"].items()})
        return obj
    return value


def save_model(model, path):
    arrays = {}
    path.with_suffix(".json").write_text(json.dumps(_encode(model, arrays, "m")))
    np.savez(path.with_suffix(".npz"), **arrays)


def load_model(path):
    with np.load(path.with_suffix(".npz")) as arrays:
        return _decode(json.loads(path.with_suffix(".json").read_text()), dict(arrays))


# -- the PyTorch twins ---------------------------------------------------------------------------

def _linears(net):
    assert net.activation == "relu"
    linears = []
    for w, b in net.layers:
        lin = torch.nn.Linear(*w.shape)
        lin.weight.data = torch.tensor(w.T, dtype=torch.float32)
        lin.bias.data = torch.tensor(b, dtype=torch.float32)
        linears.append(lin)
    return torch.nn.ModuleList(linears)


def _run_net(layers, h):
    for k, layer in enumerate(layers):
        h = layer(h)
        if k + 1 < len(layers):
            h = torch.relu(h)
    return h


def _std_normal_log_prob(z):
    return -0.5 * (z**2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


def _nflows_searchsorted(bin_locations, inputs, eps=1e-6):
    bin_locations[..., -1] += eps
    return torch.sum(inputs[..., None] >= bin_locations, dim=-1) - 1


def _nflows_knots(unnormalized, low, high, minimum):
    """(knots, bin sizes) as nflows: min + (1 - K min) softmax, cumulated,
    scaled to [low, high], both ends pinned."""
    k = unnormalized.shape[-1]
    sizes = minimum + (1 - minimum * k) * F.softmax(unnormalized, dim=-1)
    knots = F.pad(torch.cumsum(sizes, dim=-1), pad=(1, 0), mode="constant", value=0.0)
    knots = (high - low) * knots + low
    knots[..., 0] = low
    knots[..., -1] = high
    return knots, knots[..., 1:] - knots[..., :-1]


def _nflows_rq_spline(inputs, unnormalized_widths, unnormalized_heights, unnormalized_derivatives, inverse,
                      low, high, min_bin_width, min_bin_height, min_derivative):
    """nflows' rational_quadratic_spline on [low, high]^2 (elementwise)."""
    if inputs.numel() and (torch.min(inputs) < low or torch.max(inputs) > high):
        raise ValueError("input outside the spline's domain")
    cumwidths, widths = _nflows_knots(unnormalized_widths, low, high, min_bin_width)
    cumheights, heights = _nflows_knots(unnormalized_heights, low, high, min_bin_height)
    derivatives = min_derivative + F.softplus(unnormalized_derivatives)
    bin_idx = _nflows_searchsorted(cumheights if inverse else cumwidths, inputs)[..., None]

    def take(values):
        return values.gather(-1, bin_idx)[..., 0]

    x0, w, y0, h = take(cumwidths), take(widths), take(cumheights), take(heights)
    delta = take(heights / widths)
    d0, d1 = take(derivatives), take(derivatives[..., 1:])
    curvature = d0 + d1 - 2 * delta
    if inverse:
        r = inputs - y0
        a = r * curvature + h * (delta - d0)
        b = h * d0 - r * curvature
        c = -delta * r
        discriminant = b.pow(2) - 4 * a * c
        # nflows asserts discriminant >= 0 here; f32 rounding can dip below,
        # so the same check clamps instead of aborting the benchmark.
        if not (discriminant >= 0).all():
            discriminant = discriminant.clamp(min=0)
        theta = (2 * c) / (-b - torch.sqrt(discriminant))
        outputs = theta * w + x0
    else:
        theta = (inputs - x0) / w
    t = theta * (1 - theta)
    denominator = delta + curvature * t
    if not inverse:
        outputs = y0 + h * (delta * theta.pow(2) + d0 * t) / denominator
    numerator = delta.pow(2) * (d1 * theta.pow(2) + 2 * delta * t + d0 * (1 - theta).pow(2))
    logabsdet = torch.log(numerator) - 2 * torch.log(denominator)
    return outputs, (-logabsdet if inverse else logabsdet)


def nflows_unconstrained_rq_spline(inputs, widths, heights, derivatives, inverse, tail_bound):
    """nflows' unconstrained_rational_quadratic_spline with tails="linear":
    the identity outside [-B, B], boundary derivatives 1 (padding with
    log(exp(1 - min_d) - 1)), min bin width/height/derivative 1e-3 (the
    builder's constants); the spline runs on the inside elements only."""
    inside = (inputs >= -tail_bound) & (inputs <= tail_bound)
    outside = ~inside
    outputs = torch.zeros_like(inputs)
    logabsdet = torch.zeros_like(inputs)
    derivatives = F.pad(derivatives, pad=(1, 1))
    constant = np.log(np.exp(1 - nfb._SPLINE_MIN) - 1)
    derivatives[..., 0] = constant
    derivatives[..., -1] = constant
    outputs[outside] = inputs[outside]
    outputs[inside], logabsdet[inside] = _nflows_rq_spline(
        inputs[inside], widths[inside, :], heights[inside, :], derivatives[inside, :], inverse,
        -tail_bound, tail_bound, nfb._SPLINE_MIN, nfb._SPLINE_MIN, nfb._SPLINE_MIN)
    return outputs, logabsdet


class TorchCouplingFlow(torch.nn.Module):
    """Eager twin of a stack of couplings (RealNVP exp-affine or RQ spline)
    with reverses between, identity features first."""

    def __init__(self, model):
        super().__init__()
        self.dim = model.dim
        self.nets = torch.nn.ModuleList()
        self.layers = []
        for layer in model.layers:
            if isinstance(layer, nfmlir.Reverse):
                self.layers.append(None)
                continue
            assert layer.identity == list(range(len(layer.identity)))
            assert isinstance(layer, nfmlir.SplineCoupling) or layer.scale_fn == "exp"
            self.nets.append(_linears(layer.conditioner))
            self.layers.append((layer, self.nets[-1]))

    @staticmethod
    def couple(layer, xb, params, inverse):
        """(new x_B, log|det| of this direction) per row."""
        b = xb.shape[1]
        if isinstance(layer, nfmlir.SplineCoupling):
            params = params.reshape(params.shape[0], b, -1)  # nflows: contiguous per feature
            k = layer.bins
            out, logabsdet = nflows_unconstrained_rq_spline(
                xb, params[..., :k], params[..., k:2 * k], params[..., 2 * k:], inverse, layer.tail_bound)
            return out, logabsdet.sum(1)
        shift, raw = params[:, :b], params[:, b:]
        if inverse:
            return (xb - shift) * torch.exp(-raw), -raw.sum(1)
        return xb * torch.exp(raw) + shift, raw.sum(1)

    def log_prob(self, x):
        ldj = x.new_zeros(x.shape[0])
        for entry in self.layers:
            if entry is None:
                x = x.flip(1)
                continue
            layer, net = entry
            a = len(layer.identity)
            xa, xb = x[:, :a], x[:, a:]
            xb, logabsdet = self.couple(layer, xb, _run_net(net, xa), False)
            x = torch.cat([xa, xb], 1)
            ldj = ldj + logabsdet
        return _std_normal_log_prob(x) + ldj

    def inverse(self, z):
        for entry in reversed(self.layers):
            if entry is None:
                z = z.flip(1)
                continue
            layer, net = entry
            a = len(layer.identity)
            za, zb = z[:, :a], z[:, a:]
            zb, _ = self.couple(layer, zb, _run_net(net, za), True)
            z = torch.cat([za, zb], 1)
        return z

    def sample(self, n):
        return self.inverse(torch.randn(n, self.dim))


class TorchMAF(torch.nn.Module):
    """Eager twin of a MAF: nfmlir.torch_flows' nflows-layout modules
    (MaskedLinear multiplies weight by mask per call, as nflows does)."""

    def __init__(self, model):
        super().__init__()
        self.dim = model.dim
        transforms = []
        for layer in model.layers:
            if isinstance(layer, nfmlir.Reverse):
                transforms.append(tf.ReversePermutation(self.dim))
                continue
            made = layer.conditioner
            assert made.activation == "relu" and not layer.inverted
            t = tf.MaskedAffineAutoregressiveTransform(self.dim, made.layers[0][0].shape[1],
                                                       num_blocks=len(made.layers) - 2, scale_fn=layer.scale_fn)
            net = t.autoregressive_net
            targets = [net.initial_layer] + [block.linear for block in net.blocks] + [net.final_layer]
            for target, (w, b), mask in zip(targets, made.layers, made.masks):
                assert torch.equal(target.mask, torch.tensor(mask.T, dtype=torch.float32))
                target.weight.data = torch.tensor(w.T, dtype=torch.float32)
                target.bias.data = torch.tensor(b, dtype=torch.float32)
            transforms.append(t)
        self.flow = tf.Flow(transforms, self.dim)

    def log_prob(self, x):
        return self.flow.log_prob(x)

    def inverse(self, z):
        return self.flow._transform.inverse(z)[0]

    def sample(self, n):
        return self.flow.sample(n)


class TorchGlow(torch.nn.Module):
    """Eager twin of Glow-tiny with conv2d: ActNorm, 1x1 convolution
    (slogdet and, for sampling, the inverse weight computed per call, as
    survae's Conv1x1), affine coupling z_B = (x_B + shift) * scale."""

    def __init__(self, model):
        super().__init__()
        self.shape = model.event_shape
        self.dim = model.dim
        self.layers = []
        for layer in model.layers:
            if isinstance(layer, nfmlir.ActNorm):
                self.layers.append(("actnorm", torch.tensor(layer.scale, dtype=torch.float32).view(1, -1, 1, 1),
                                    torch.tensor(layer.shift, dtype=torch.float32).view(1, -1, 1, 1)))
            elif isinstance(layer, nfmlir.Linear):
                self.layers.append(("conv1x1", torch.tensor(layer.weight, dtype=torch.float32),
                                    torch.tensor(layer.bias, dtype=torch.float32)))
            else:
                assert isinstance(layer, nfmlir.AffineCoupling) and layer.shift_first and layer.scale_fn == "sigmoid"
                assert layer.identity == list(range(len(layer.identity)))
                assert layer.conditioner.activation == "relu"
                convs = []
                for w, b in layer.conditioner.layers:
                    conv = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2:], padding=(w.shape[2] // 2,
                                                                                       w.shape[3] // 2))
                    conv.weight.data = torch.tensor(w, dtype=torch.float32)
                    conv.bias.data = torch.tensor(b, dtype=torch.float32)
                    convs.append(conv)
                self.layers.append(("coupling", len(layer.identity), torch.nn.ModuleList(convs)))

    def log_prob(self, x):
        n = x.shape[0]
        x = x.view(n, *self.shape)
        pixels = self.shape[1] * self.shape[2]
        ldj = x.new_zeros(n)
        for kind, p, q in self.layers:
            if kind == "actnorm":
                x = x * p + q
                ldj = ldj + pixels * torch.log(torch.abs(p)).sum()
            elif kind == "conv1x1":
                x = F.conv2d(x, p.view(*p.shape, 1, 1), q)
                ldj = ldj + pixels * torch.slogdet(p)[1]
            else:
                xa, xb = x[:, :p], x[:, p:]
                h = _run_net(q, xa)
                b = xb.shape[1]
                shift, scale = h[:, :b], torch.sigmoid(h[:, b:] + 2) + 1e-3
                x = torch.cat([xa, (xb + shift) * scale], 1)
                ldj = ldj + torch.log(scale).sum((1, 2, 3))
        return _std_normal_log_prob(x.reshape(n, -1)) + ldj

    def inverse(self, z):
        n = z.shape[0]
        z = z.view(n, *self.shape)
        for kind, p, q in reversed(self.layers):
            if kind == "actnorm":
                z = (z - q) / p
            elif kind == "conv1x1":
                w_inv = torch.inverse(p)
                z = F.conv2d(z - q.view(1, -1, 1, 1), w_inv.view(*w_inv.shape, 1, 1))
            else:
                za, zb = z[:, :p], z[:, p:]
                h = _run_net(q, za)
                b = zb.shape[1]
                shift, scale = h[:, :b], torch.sigmoid(h[:, b:] + 2) + 1e-3
                z = torch.cat([za, zb / scale - shift], 1)
        return z.reshape(n, -1)

    def sample(self, n):
        return self.inverse(torch.randn(n, self.dim))


def make_twin(model):
    kinds = {type(layer) for layer in model.layers}
    if nfmlir.MaskedAffineAutoregressive in kinds:
        twin = TorchMAF(model)
    elif nfmlir.ActNorm in kinds:
        twin = TorchGlow(model)
    else:
        twin = TorchCouplingFlow(model)
    return twin.eval()


# -- checks --------------------------------------------------------------------------------------

def check_twin(name, lib, twin, dim, rng):
    """Max errors of log_prob (absolute) and of the inverse (relative to
    1 + |x|) between nf-mlir and the twin on CHECK_BATCH samples."""
    x = rng.normal(size=(CHECK_BATCH, dim)).astype(np.float32)
    z = rng.normal(size=(CHECK_BATCH, dim)).astype(np.float32)
    with torch.no_grad():
        lp_twin = twin.log_prob(torch.from_numpy(x)).numpy().astype(np.float64)
        x_twin = twin.inverse(torch.from_numpy(z)).numpy().astype(np.float64)
        sample_ok = bool(np.isfinite(twin.sample(CHECK_BATCH).numpy()).all())
    lp_err = float(np.abs(lib.log_prob(x) - lp_twin).max())
    inv_err = float((np.abs(lib.inverse(z) - x_twin) / (1 + np.abs(x_twin))).max())
    sample_ok = sample_ok and bool(np.isfinite(lib.sample(CHECK_BATCH, seed=1)).all())
    ok = lp_err <= TOL and inv_err <= TOL and sample_ok
    print(f"  check {name:<14} log_prob max |err| {lp_err:.2e}   inverse max rel err {inv_err:.2e}   "
          f"samples finite: {sample_ok}   {'ok' if ok else 'FAILED'}", flush=True)
    return ok


def compile_models(names, out_dir):
    """{name: (model, lib, compile seconds)}, with 'maf32 naive' when maf32
    is among them (the same model, nf-mlir's naive D-pass sampling)."""
    built = {}
    for name in names:
        model = MODELS[name]()
        start = time.perf_counter()
        path = nfmlir.compile_mlir(model.to_mlir(), name=model.name, opt=3, out_dir=out_dir / name,
                                   extra_args=NATIVE_ARGS)
        lib = nfmlir.load(path)[model.name]
        built[name] = (model, lib, time.perf_counter() - start)
        print(f"  compiled {name:<10} in {built[name][2]:.2f} s", flush=True)
        if name == "maf32":
            start = time.perf_counter()
            path = nfmlir.compile_mlir(model.to_mlir(), name=model.name, opt=3, out_dir=out_dir / "maf32_naive",
                                       extra_args=NATIVE_ARGS + NAIVE_ARGS)
            naive = nfmlir.load(path)[model.name]
            built["maf32 naive"] = (model, naive, time.perf_counter() - start)
            print(f"  compiled maf32 naive in {built['maf32 naive'][2]:.2f} s", flush=True)
    return built


def run_checks(built):
    rng = np.random.default_rng(12345)
    ok = True
    for name, (model, lib, _) in built.items():
        ok &= check_twin(name, lib, make_twin(model), model.dim, rng)
    return ok


# -- BLAS, CPU and FMA peak ----------------------------------------------------------------------

def loaded_blas():
    """Paths of the BLAS-like libraries this process has mapped."""
    paths = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and re.search(r"blas|blis|mkl|atlas", Path(fields[5]).name):
                paths.add(fields[5])
    return sorted(paths)


def blas_kind(paths):
    text = " ".join(paths).lower()
    for key, kind in (("openblas", "OpenBLAS"), ("blis", "BLIS"), ("mkl", "MKL"), ("atlas", "ATLAS")):
        if key in text:
            return kind
    if "libblas" in text:
        return "reference"
    return "none mapped (torch's own kernels)"


def probe_main():
    """--probe-blas: which BLAS torch loads, as JSON on stdout."""
    a = torch.randn(256, 256)
    (a @ a).sum().item()
    print(json.dumps({"torch": torch.__version__, "paths": loaded_blas()}))


def peer_env(threads, blas_threads=None, wait_policy=None):
    env = {k: v for k, v in os.environ.items() if k not in PEER_ENV_DROP}
    env.update(PEER_MALLOC)
    env["OMP_NUM_THREADS"] = str(threads)
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(blas_threads or threads)
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    return env


# With several threads, OpenBLAS's spinning workers and torch's OpenMP pool
# compete for the same cores; which setup is fastest differs per model (on
# this VM by up to 5x), so the peer gets the best of these per case.
PEER_THREAD_SETUPS = ({}, {"wait_policy": "PASSIVE"}, {"blas_threads": 1})


def probe_blas():
    out = subprocess.run([sys.executable, __file__, "--probe-blas"], env=peer_env(1), capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def alternatives_value():
    try:
        out = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"],
                             capture_output=True, text=True).stdout
    except OSError:
        return None
    match = re.search(r"^Value: (.*)$", out, re.M)
    return match.group(1) if match else None


def ensure_optimized_blas():
    """The BLAS torch loads in the peer's environment; installs OpenBLAS when
    it is the reference BLAS and exits when that does not help."""
    probe = probe_blas()
    kind = blas_kind(probe["paths"])
    print(f"torch {probe['torch']} loads BLAS: {kind} ({', '.join(probe['paths']) or '-'}); "
          f"update-alternatives libblas.so.3: {alternatives_value()}", flush=True)
    if kind != "reference":
        return probe, kind
    print("torch runs on the reference BLAS: apt-get install -y libopenblas0-pthread", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "libopenblas0-pthread"], env=env)
    probe = probe_blas()
    kind = blas_kind(probe["paths"])
    print(f"torch now loads BLAS: {kind} ({', '.join(probe['paths']) or '-'})", flush=True)
    if kind == "reference":
        print("error: PyTorch still uses the reference BLAS, so ratios against it would mislead; not reporting "
              "them. Install libopenblas0-pthread and select it with 'update-alternatives --config "
              "libblas.so.3-x86_64-linux-gnu'.", file=sys.stderr)
        sys.exit(2)
    return probe, kind


def cpu_model():
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def measure_peak(thread_counts, seconds, work_dir):
    """{threads: GFLOP/s} from bench/fma_peak.c, compiled here with clang-22."""
    compiler = shutil.which("clang-22")
    if compiler is None:
        print("warning: clang-22 not found; no FMA peak, no % of peak", file=sys.stderr)
        return {}, "-"
    exe = work_dir / "fma_peak"
    subprocess.run([compiler, "-O2", "-march=native", "-pthread", str(Path(__file__).with_name("fma_peak.c")),
                    "-o", str(exe)], check=True)
    peak, isa = {}, "-"
    for threads in thread_counts:
        out = subprocess.run([str(exe), "-t", str(threads), "-s", str(seconds)], capture_output=True, text=True,
                             check=True).stdout
        fields = dict(item.split("=") for item in out.split())
        peak[threads] = float(fields["gflops"])
        isa = fields["isa"]
    return peak, isa


def measure_latency(built, work_dir):
    """{name: (log_prob s, sample s)} at batch 1 through the C ABI
    (bench/latency.c, compiled here with clang-22): the library's own latency,
    without the Python wrapper's."""
    compiler = shutil.which("clang-22")
    if compiler is None:
        return {}
    exe = work_dir / "latency"
    subprocess.run([compiler, "-O2", str(Path(__file__).with_name("latency.c")), "-o", str(exe), "-ldl"],
                   check=True)
    result = {}
    for name, (model, lib, _) in built.items():
        if name not in MODELS:
            continue
        command = [str(exe), lib.library_path, model.name, str(model.dim)]
        out = subprocess.run(command, capture_output=True, text=True, check=True,
                             env=dict(os.environ, NF_NUM_THREADS="1")).stdout
        fields = dict(item.split("=") for item in out.split())
        result[name] = (float(fields["log_prob_ns"]) * 1e-9, float(fields["sample_ns"]) * 1e-9)
    return result


def git_revision():
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"
    return (rev or "unknown") + ("+dirty" if dirty else "")


# -- timing --------------------------------------------------------------------------------------

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


def peer_main(work_dir, threads):
    """--peer: times the PyTorch twins with `threads` threads; writes
    peer-<threads>.json with {"name|entry|batch": seconds}."""
    torch.set_num_threads(threads)
    spec = json.loads((work_dir / "peer.json").read_text())
    times = {}
    with np.load(work_dir / "inputs.npz") as inputs, torch.no_grad():
        for name, cases in spec["models"].items():
            twin = make_twin(load_model(work_dir / name))
            for entry, batch in cases:
                x = torch.from_numpy(inputs[f"{name}_{batch}"])
                fn = (lambda: twin.log_prob(x)) if entry == "log_prob" else (lambda: twin.sample(batch))
                times[f"{name}|{entry}|{batch}"] = best_time(fn, spec["min_time"])
    result = {"threads": torch.get_num_threads(), "blas": loaded_blas(), "times": times}
    (work_dir / f"peer-{threads}.json").write_text(json.dumps(result))


def run_peer(work_dir, threads):
    """The peer's times with `threads` threads: the best per case over
    PEER_THREAD_SETUPS when threads > 1."""
    best = None
    for setup in PEER_THREAD_SETUPS if threads > 1 else ({},):
        subprocess.run([sys.executable, __file__, "--peer", str(work_dir), "--threads", str(threads)],
                       env=peer_env(threads, **setup), check=True)
        result = json.loads((work_dir / f"peer-{threads}.json").read_text())
        if best is None:
            best = result
        else:
            best["times"] = {k: min(t, result["times"][k]) for k, t in best["times"].items()}
    return best


# -- the table -----------------------------------------------------------------------------------

COLUMNS = ("model", "entry", "batch", "threads", "PyTorch", "nf-mlir", "ratio", "GFLOP/s", "% peak", "compile s")


def fmt_time(t):
    if t < 1e-3:
        return f"{t * 1e6:.1f} us"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.3f} s"


def format_row(row):
    pct = "-" if row["pct"] is None else f"{row['pct']:.1f}"
    return (row["model"], row["entry"], str(row["batch"]), str(row["threads"]), fmt_time(row["torch"]),
            fmt_time(row["nf"]), f"{row['ratio']:.2f}x", f"{row['gflops']:.1f}", pct, f"{row['compile']:.2f}")


def text_table(rows):
    cells = [COLUMNS] + [format_row(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = []
    for k, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * (len(COLUMNS) - 2)]
    lines += ["| " + " | ".join(format_row(r)) + " |" for r in rows]
    return "\n".join(lines)


def write_docs(info_lines, rows, path=DOCS):
    """Replaces the text between the bench-table markers of `path` (creating
    the file, or appending a section with the markers, when missing)."""
    block = "\n".join([BEGIN, *info_lines, "", markdown_table(rows), END])
    if not path.exists():
        path.write_text("# Performance\n\n"
                        "`/usr/bin/python3 bench/bench.py --write-docs` measures nf-mlir against eager PyTorch on "
                        "OpenBLAS (same models and weights, same batch and threads, in one run) and against this "
                        "machine's FMA peak, and rewrites the table below; `--quick` times shorter, `--models` "
                        "picks a subset.\n\n" + block + "\n")
        return
    text = path.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        text = text.rstrip("\n") + "\n\n## Benchmark table\n\n" + block + "\n"
    else:
        text = text[:start] + block + text[end + len(END):]
    path.write_text(text)


# -- main ----------------------------------------------------------------------------------------

def int_list(text):
    return [int(v) for v in text.split(",") if v]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter timing (>= 0.2 s per case)")
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite the table in {DOCS.relative_to(ROOT)}")
    parser.add_argument("--check", action="store_true", help="only the twin agreement checks; exit 0/1")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    dev = parser.add_argument_group("development")
    dev.add_argument("--batches", type=int_list, default=[1, 4096], help="batch sizes (default 1,4096)")
    dev.add_argument("--threads", type=int_list, default=[1, 2], help="thread counts (default 1,2)")
    dev.add_argument("--min-time", type=float, help="seconds per timed case (default 1.0, --quick 0.2)")
    dev.add_argument("--fma-seconds", type=float, default=0.3, help="seconds per FMA peak run")
    parser.add_argument("--peer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--probe-blas", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if args.min_time is None:
        args.min_time = 0.2 if args.quick else 1.0
    return args


def main():
    args = parse_args()
    if args.probe_blas:
        return probe_main()
    if args.peer:
        return peer_main(args.peer, args.threads[0])
    work_dir = Path(tempfile.mkdtemp(prefix="nf-bench-"))
    try:
        if args.check:
            print(f"twin checks (batch {CHECK_BATCH}):", flush=True)
            ok = run_checks(compile_models(args.models, work_dir))
            print("all twins agree" if ok else "some twins DISAGREE", flush=True)
            return 0 if ok else 1
        return bench(args, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def bench(args, work_dir):
    probe, kind = ensure_optimized_blas()
    peak, isa = measure_peak(args.threads, args.fma_seconds, work_dir)
    print("compiling:", flush=True)
    built = compile_models(args.models, work_dir / "lib")
    print(f"twin checks (batch {CHECK_BATCH}):", flush=True)
    if not run_checks(built):
        print("error: the PyTorch twins disagree with nf-mlir; no timings", file=sys.stderr)
        return 1

    print("timing batch-1 latency through the C ABI ...", flush=True)
    latency = measure_latency(built, work_dir)

    # The peer's inputs and models, on disk.
    rng = np.random.default_rng(2024)
    inputs, spec = {}, {"min_time": args.min_time, "models": {}}
    for name in args.models:
        model = built[name][0]
        save_model(model, work_dir / name)
        spec["models"][name] = [(entry, batch) for entry in ENTRIES for batch in args.batches]
        for batch in args.batches:
            inputs[f"{name}_{batch}"] = rng.normal(size=(batch, model.dim)).astype(np.float32)
    np.savez(work_dir / "inputs.npz", **inputs)
    (work_dir / "peer.json").write_text(json.dumps(spec))

    rows = []
    for threads in args.threads:
        print(f"timing PyTorch, {threads} thread(s) ...", flush=True)
        peer = run_peer(work_dir, threads)
        if blas_kind(peer["blas"]) == "reference":
            print("error: the PyTorch peer loaded the reference BLAS; not reporting ratios", file=sys.stderr)
            return 2
        print(f"timing nf-mlir, {threads} thread(s) ...", flush=True)
        os.environ["NF_NUM_THREADS"] = str(threads)
        for name, (model, lib, compile_s) in built.items():
            base = name.split()[0]
            flops = model_flops(model)
            for entry in ENTRIES:
                if name != base and entry != "sample":
                    continue
                for batch in args.batches:
                    x = inputs[f"{base}_{batch}"]
                    fn = (lambda: lib.log_prob(x)) if entry == "log_prob" else (lambda: lib.sample(batch, seed=1))
                    t_nf = best_time(fn, args.min_time)
                    t_torch = peer["times"][f"{base}|{entry}|{batch}"]
                    gflops = flops * batch / t_nf * 1e-9
                    rows.append({"model": base, "entry": NAIVE if name != base else entry, "batch": batch,
                                 "threads": threads, "torch": t_torch, "nf": t_nf, "ratio": t_torch / t_nf,
                                 "gflops": gflops, "pct": 100 * gflops / peak[threads] if threads in peak else None,
                                 "compile": compile_s})

    order = {name: k for k, name in enumerate(MODELS)}
    entry_order = {e: k for k, e in enumerate(ENTRIES + (NAIVE,))}
    rows.sort(key=lambda r: (order[r["model"]], entry_order[r["entry"]], r["batch"], r["threads"]))
    peaks = ", ".join(f"{t} thread{'s' if t > 1 else ''} {peak[t]:.1f}" for t in args.threads if t in peak)
    timing = f"median of repeated calls after a warm-up, >= {args.min_time:g} s per case"
    info = [f"- CPU: {cpu_model()}, {os.cpu_count()} CPUs; FMA peak (f32, {isa}, bench/fma_peak.c): "
            f"{peaks or '-'} GFLOP/s",
            f"- PyTorch {probe['torch']} eager (no_grad), BLAS: {kind} ({', '.join(peer['blas']) or '-'}); "
            f"peer process without {' / '.join(PEER_ENV_DROP)}, with "
            f"{' '.join(f'{k}={v}' for k, v in PEER_MALLOC.items())}; with 2 threads the best per case of "
            "OpenMP and OpenBLAS threads both 2, the same with OMP_WAIT_POLICY=PASSIVE, and OpenBLAS 1",
            f"- nf-mlir: nf-compile -O3 at {git_revision()}; {timing}; "
            f"{datetime.date.today().isoformat()}",
            "- ratio = PyTorch time / nf-mlir time; GFLOP/s = dense FLOPs of the minimal algorithm per sample "
            "(bench.py model_flops) x batch / nf-mlir time; compile s = wall time of the compile call; "
            f"'{NAIVE}' = nf-compile {' '.join(NAIVE_ARGS)}"]
    speedups = []
    for r in rows:
        if r["entry"] == NAIVE:
            inc = next(q for q in rows if q["model"] == r["model"] and q["entry"] == "sample"
                       and q["batch"] == r["batch"] and q["threads"] == r["threads"])
            speedups.append(f"batch {r['batch']}, {r['threads']} thread(s): {r['nf'] / inc['nf']:.2f}x")
    if latency:
        info.append("- batch 1 through the C ABI, 1 thread (bench/latency.c, no Python; the table's batch-1 rows "
                    "include the Python wrapper's few microseconds): "
                    + "; ".join(f"{name} log_prob {fmt_time(lp)}, sample {fmt_time(sp)}"
                                for name, (lp, sp) in latency.items()))
    if speedups:
        info.append(f"- maf32 sample, incremental inverse against the naive D-pass loop: {'; '.join(speedups)}")
    print()
    print("\n".join(info))
    print()
    print(text_table(rows))
    if args.write_docs:
        write_docs(info, rows)
        print(f"\nwrote the table to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
