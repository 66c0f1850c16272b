"""Every example flow under examples/ compiles with nf-compile and runs:
round trips, sample/log_prob consistency, finite densities in the support."""

import subprocess

import numpy as np
import pytest
from conftest import ROOT

import nfmlir

EXAMPLES = sorted((ROOT / "examples").glob("*.mlir"))
SURJECTIVE = {"abs_flow", "multiscale", "vae_flow_prior", "dequantized_augmented", "snf_double_well"}
BOUND = {"vae_flow_prior", "dequantized_augmented", "snf_double_well"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_compiles_and_runs(path, tmp_path):
    library = tmp_path / f"lib{path.stem}.so"
    subprocess.run([nfmlir.find_nf_compile(), str(path), "-o", str(library)], check=True)
    assert (tmp_path / f"{path.stem}.h").exists()
    for model in nfmlir.load(library).models.values():
        contexts = [None] if model.context_dim == 0 else [
            np.full((500, model.context_dim), v, model.dtype) for v in (-1.0, 0.0, 2.0)]
        for ctx in contexts:
            x, logp = model.sample_with_log_prob(500, seed=4, context=ctx)
            assert np.isfinite(x).all() and np.isfinite(logp).all()
            if path.stem in BOUND:
                # A bound: more importance paths, a higher estimate.
                assert np.isfinite(model.log_prob(x, ctx)).all()
                one = model.log_prob_iwae(x, 1, seed=1, context=ctx).mean()
                assert model.log_prob_iwae(x, 16, seed=1, context=ctx).mean() > one
                continue
            tol = 1e-3 * max(1.0, np.abs(logp).max())
            assert np.abs(model.log_prob(x, ctx) - logp).max() <= tol
            z, _ = model.forward(x, ctx)
            if path.stem in SURJECTIVE:  # a right inverse: z = forward(inverse(z))
                assert np.abs(model.forward(model.inverse(z, ctx, seed=2), ctx)[0] - z).max() <= 1e-3 * max(
                    1.0, np.abs(z).max())
            else:
                assert np.abs(model.inverse(z, ctx) - x).max() <= 1e-3 * max(1.0, np.abs(x).max())


def test_examples_are_current():
    """examples/make_examples.py reproduces the committed generated files."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "examples" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for make in module.MAKERS:
        model = make()
        text = (ROOT / "examples" / f"{model.name}.mlir").read_text()
        assert text.endswith(model.to_mlir()), f"regenerate examples/{model.name}.mlir"
