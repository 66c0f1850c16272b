"""The library describes its own C ABI: the manifest the Python runtime
builds its ctypes signatures and methods from is written from the same ABI
table as the C header."""

import ctypes
import inspect
import re

import numpy as np
import pytest

import nfmlir
from nfmlir.runtime import NFRuntimeError, _parse_manifest


def small_model(context_dim=0, name="m"):
    rng = np.random.default_rng(3)
    net = nfmlir.MLP.random([1 + context_dim, 8, 2], "tanh", rng)
    return nfmlir.Model([nfmlir.Affine([2.0, 0.5], 0.1), nfmlir.AffineCoupling([0], net)],
                        nfmlir.StandardNormal(2), context_dim=context_dim, name=name)


def manifest_text(lib):
    symbol = getattr(lib._lib, "nf_library_manifest")
    return ctypes.string_at(ctypes.cast(symbol, ctypes.c_void_p).value).decode()


def header_functions(path):
    """name -> parameter declarations, from the C header."""
    text = path.read_text()
    return {m.group(2): [p.strip() for p in m.group(3).split(",")]
            for m in re.finditer(r"^(int|int64_t) nf_m_(\w+)\((.*)\);$", text, re.M)}


def test_manifest_and_header_list_the_same_entries(tmp_path):
    model = small_model(context_dim=1)
    lib = model.compile(out_dir=tmp_path)
    models = _parse_manifest(manifest_text(lib))
    fields, entries = models["m"]
    assert fields == ["f32", "2", "2", "1", "exact", "64"]
    header = header_functions(tmp_path / "m.h")
    assert [e.name for e in entries] == list(header)
    for entry in entries:
        declared = header[entry.name]
        if declared == ["void"]:
            declared = []
        # Same arguments, in the same order, with the same C names.
        assert [a.name for a in entry.args] == [d.split()[-1].lstrip("*") for d in declared], entry.name


def test_methods_come_from_the_manifest(tmp_path):
    lib = small_model(context_dim=1).compile(out_dir=tmp_path)
    whole = {"log_prob", "elbo", "log_prob_iwae", "forward", "inverse", "sample", "sample_with_log_prob"}
    assert set(lib.entries) == whole | {name + "_rows" for name in whole}
    assert str(inspect.signature(lib.sample_rows)) == "(first_row, n, seed=0, context=None)"
    assert str(inspect.signature(lib.log_prob_rows)) == "(x, first_row, context=None)"
    assert str(inspect.signature(lib.forward)) == "(x, context=None, seed=0)"
    assert str(inspect.signature(lib.sample)) == "(n, seed=0, context=None)"
    assert str(inspect.signature(lib.log_prob_iwae)) == "(x, k, seed=0, context=None)"
    assert "n samples" in lib.sample.__doc__
    # The ctypes argument types follow the C signature.
    fn = lib._fn["log_prob_iwae"]
    assert fn.argtypes == [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p,
                           ctypes.c_void_p]
    x = np.zeros((3, 2), np.float32)
    ctx = np.ones((3, 1), np.float32)
    z, ldj = lib.forward(x, ctx)
    assert z.shape == (3, 2) and ldj.shape == (3,)
    np.testing.assert_array_equal(lib.inverse(z, context=ctx), lib.inverse(z, ctx, 0))


def test_manifest_format_is_checked():
    with pytest.raises(NFRuntimeError, match="nf-manifest 1"):
        _parse_manifest("m f32 2 2 0\n")
    with pytest.raises(NFRuntimeError, match="unexpected line"):
        _parse_manifest("nf-manifest 1\nmodel m f32 2 2 0 exact 64\nsurprise\n")
