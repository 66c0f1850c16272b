"""Row ranges (issue: scale-out): `nf_M_<entry>_rows(first_row, n, ...)`
computes rows first_row .. first_row + n - 1 of one global batch. Their
random draws are keyed by the global row, and every kernel block holds the
rows it holds in a call from row 0, so any split of [0, N) into ranges gives
the single call's rows bit for bit, for every example model (exact,
conditional, surjective, bound, stochastic, sequential and iterative
inverses)."""

import ctypes

import numpy as np
import pytest

from conftest import ROOT

import nfmlir
from nfmlir.compiler import compile_mlir

EXAMPLES = sorted((ROOT / "examples").glob("*.mlir"))
N = 700
# Splits of [0, N): unaligned, single rows, and ranges across block edges.
SPLITS = [[0, 5, 133, 300, 301, 700], [0, 1, 2, 255, 256, 257, 699, 700], [0, 700]]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("examples")
    built = {}
    for path in EXAMPLES:
        lib = nfmlir.load(compile_mlir(path.read_text(), name=path.stem, out_dir=out / path.stem))
        built[path.stem] = lib._only()
    return built


def context_for(model, rows):
    if model.context_dim == 0:
        return None
    return np.random.default_rng(1).normal(size=(rows, model.context_dim)).astype(model.dtype)


def ranges(split):
    return list(zip(split, split[1:]))


def assert_bits_equal(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, what
    # Bit for bit: compare the bytes, so that NaN and -0.0 count too.
    assert got.tobytes() == want.tobytes(), f"{what}: max diff {np.nanmax(np.abs(got - want))}"


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_any_split_reproduces_the_single_call(models, name):
    model = models[name]
    ctx = context_for(model, N)
    sub = (lambda a, b: None) if ctx is None else (lambda a, b: ctx[a:b])
    x, logp = model.sample_with_log_prob(N, seed=11, context=ctx)
    whole = {
        "sample": model.sample(N, seed=11, context=ctx),
        "log_prob": model.log_prob(x, context=ctx),
        "elbo": model.elbo(x, seed=3, context=ctx),
        "iwae": model.log_prob_iwae(x, 4, seed=3, context=ctx),
        "forward": model.forward(x, seed=5, context=ctx),
        "inverse": model.inverse(model.forward(x, seed=5, context=ctx)[0], seed=5, context=ctx),
    }
    for split in SPLITS:
        parts = {key: [] for key in whole}
        pairs = []
        for a, b in ranges(split):
            parts["sample"].append(model.sample_rows(a, b - a, seed=11, context=sub(a, b)))
            pairs.append(model.sample_with_log_prob_rows(a, b - a, seed=11, context=sub(a, b)))
            parts["log_prob"].append(model.log_prob_rows(x[a:b], a, context=sub(a, b)))
            parts["elbo"].append(model.elbo_rows(x[a:b], a, seed=3, context=sub(a, b)))
            parts["iwae"].append(model.log_prob_iwae_rows(x[a:b], a, 4, seed=3, context=sub(a, b)))
            parts["forward"].append(model.forward_rows(x[a:b], a, seed=5, context=sub(a, b)))
            z = whole["forward"][0][a:b]
            parts["inverse"].append(model.inverse_rows(z, a, seed=5, context=sub(a, b)))
        for key in ("sample", "log_prob", "elbo", "iwae", "inverse"):
            assert_bits_equal(np.concatenate(parts[key]), whole[key], f"{name} {key} split {split}")
        for i in range(2):
            assert_bits_equal(np.concatenate([p[i] for p in parts["forward"]]), whole["forward"][i],
                              f"{name} forward[{i}] split {split}")
        assert_bits_equal(np.concatenate([p[0] for p in pairs]), x, f"{name} sample_with_log_prob x")
        assert_bits_equal(np.concatenate([p[1] for p in pairs]), logp, f"{name} sample_with_log_prob logp")


@pytest.mark.parametrize("name", ["vae_flow_prior", "snf_double_well", "realnvp2d"])
def test_ranges_far_out(models, name):
    """Rows near 2^40 are rows of that global sample: any split of a range
    there agrees with the range in one call, and the rows differ from the
    first rows of the sample."""
    model = models[name]
    first = (1 << 40) - 100
    ctx = context_for(model, 300)
    one = model.sample_rows(first, 300, seed=2, context=ctx)
    split = np.concatenate([model.sample_rows(first + a, b - a, seed=2, context=None if ctx is None else ctx[a:b])
                            for a, b in ranges([0, 1, 100, 229, 300])])
    assert_bits_equal(split, one, f"{name} near 2^40")
    assert not np.array_equal(one, model.sample(300, seed=2, context=ctx))
    assert np.all(np.isfinite(one))


@pytest.mark.parametrize("name", ["maf", "conditional_realnvp", "iresnet"])
def test_rows_are_those_of_every_large_call(models, name):
    """Row r of sample_rows(first_row, n) is row first_row + r of
    sample(N) for every N >= first_row + n of at least one block (128
    rows): such calls compute whole blocks. (A plain call of fewer rows may
    take the kernels' one-row path, for latency; see docs/scale-out.md.)"""
    model = models[name]
    for first, n in [(0, 1), (17, 1), (3, 200), (127, 2), (128, 300), (600, 100)]:
        for total in {max(first + n, 128), first + n + 77, 1000}:
            ctx = context_for(model, total)
            want = model.sample(total, seed=9, context=ctx)[first:first + n]
            got = model.sample_rows(first, n, seed=9, context=None if ctx is None else ctx[first:first + n])
            assert_bits_equal(got, want, f"{name} rows {first}+{n} of {total}")


def test_range_errors(models):
    model = models["realnvp2d"]
    lib = ctypes.CDLL(model.library_path)
    fn = getattr(lib, f"nf_{model.name}_sample_rows")
    fn.argtypes = [ctypes.c_int64, ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p]
    out = np.zeros((4, model.dim), model.dtype)
    assert fn(-1, 4, 0, None, out.ctypes.data) == 1
    assert fn((1 << 63) - 2, 4, 0, None, out.ctypes.data) == 1  # first_row + n overflows
    assert fn(5, -1, 0, None, out.ctypes.data) == 1
    assert fn(5, 4, 0, None, None) == 2
    assert fn(5, 0, 0, None, None) == 0
    with pytest.raises(ValueError):
        model.sample_rows(-3, 4)
