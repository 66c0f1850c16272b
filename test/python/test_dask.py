"""nfmlir.dask on a LocalCluster of 2 worker processes on loopback: chunks
of one global sample and block-wise densities are computed on the workers
from the library's path and come back bit for bit equal to one call in this
process."""

import os

import numpy as np
import pytest

from conftest import ROOT

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import nfmlir  # noqa: E402
import nfmlir.dask as nfdask  # noqa: E402
from nfmlir.compiler import compile_mlir  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       env={"NF_NUM_THREADS": "1"})
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def libs(tmp_path_factory):
    out = tmp_path_factory.mktemp("dask")
    return {name: compile_mlir((ROOT / "examples" / f"{name}.mlir").read_text(), name=name, out_dir=out / name)
            for name in ["realnvp2d", "vae_flow_prior", "conditional_realnvp", "snf_double_well"]}


def bits(a):
    return np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize("chunks", [1000, 333, (5, 995, 1000, 1)])
def test_sample_matches_one_call(client, libs, chunks):
    path = libs["realnvp2d"]
    x = nfdask.sample(path, 2001, seed=4, chunks=chunks)
    assert x.numblocks[0] > 1
    got = x.compute()
    want = nfmlir.load(path).sample(2001, seed=4)
    assert bits(got) == bits(want)
    # The workers did the work: each holds the library.
    assert len(client.run(lambda: os.getpid())) == 2


def test_sample_with_log_prob_and_log_prob(client, libs):
    path = libs["snf_double_well"]  # f64, stochastic layers
    x, logp = nfdask.sample_with_log_prob(path, 1500, seed=8, chunks=256)
    lib = nfmlir.load(path)
    want_x, want_logp = lib.sample_with_log_prob(1500, seed=8)
    got_x, got_logp = client.compute([x, logp], sync=True)
    assert bits(got_x) == bits(want_x) and bits(got_logp) == bits(want_logp)
    data = da.from_array(want_x, chunks=(300, 2))
    assert bits(nfdask.log_prob(path, data).compute()) == bits(lib.log_prob(want_x))


def test_bound_model_entries(client, libs):
    path = libs["vae_flow_prior"]
    lib = nfmlir.load(path)
    x = lib.sample(900, seed=1)
    data = da.from_array(x, chunks=(200, x.shape[1]))
    assert bits(nfdask.log_prob(path, data).compute()) == bits(lib.log_prob(x))
    assert bits(nfdask.elbo(path, data, seed=3).compute()) == bits(lib.elbo(x, seed=3))
    assert bits(nfdask.log_prob_iwae(path, data, 5, seed=3).compute()) == bits(lib.log_prob_iwae(x, 5, seed=3))


def test_conditional_model(client, libs):
    path = libs["conditional_realnvp"]
    lib = nfmlir.load(path)
    ctx = np.random.default_rng(2).normal(size=(700, lib.context_dim)).astype(lib.dtype)
    x = nfdask.sample(path, 700, seed=6, chunks=128, context=da.from_array(ctx, chunks=(300, lib.context_dim)))
    want = lib.sample(700, seed=6, context=ctx)
    assert bits(x.compute()) == bits(want)
    logp = nfdask.log_prob(path, da.from_array(want, chunks=(100, lib.dim)), context=ctx)
    assert bits(logp.compute()) == bits(lib.log_prob(want, context=ctx))


def test_errors(libs):
    with pytest.raises(ValueError, match="context"):
        nfdask.sample(libs["conditional_realnvp"], 10)
    with pytest.raises(ValueError, match="shape"):
        nfdask.log_prob(libs["realnvp2d"], da.zeros((10, 3), chunks=5))
    with pytest.raises(ValueError, match="n must be"):
        nfdask.sample(libs["realnvp2d"], -1)
