"""Compiled models on Dask: one global sample in chunks, and the density of
a dask array, computed on the workers from the library's path.

Every chunk runs a row-range entry of the library (`nf_M_sample_rows`,
`nf_M_log_prob_rows`, ...): its random draws are keyed by the global row, so
the assembled array is bit for bit the one a single call on one machine
returns, whatever the chunks and however many workers compute them
(docs/scale-out.md). Each worker process loads a library once and keeps it.

    import nfmlir.dask
    x = nfmlir.dask.sample("libflow.so", 10**8, seed=1, chunks=10**6)
    logp = nfmlir.dask.log_prob("libflow.so", x)
    print(logp.mean().compute())
"""

import numpy as np
import dask.array as da
from dask.base import tokenize

__all__ = ["sample", "sample_with_log_prob", "log_prob", "elbo", "log_prob_iwae"]

# (path, model name) -> CompiledModel, per process: workers load once.
_models = {}


def _model(path, name=None):
    from .runtime import load

    key = (str(path), name)
    model = _models.get(key)
    if model is None:
        library = load(path)
        model = library[name] if name is not None else library._only()
        _models[key] = model
    return model


def _first_row(block_info):
    return block_info[None]["array-location"][0][0]


def _context_blocks(model, context, row_chunks):
    """The context as a dask array chunked like the rows, or None."""
    if not model._takes_context(context):
        return None
    context = da.asarray(context).astype(model.dtype)
    return context.rechunk((row_chunks, context.shape[1]))


def _rows(n, chunks, model):
    """Row chunks: `chunks` as dask reads it, or with "auto" about 16 MiB of
    rows, a multiple of 128 (the runtime's block grid)."""
    if isinstance(chunks, str) and chunks == "auto":
        row_bytes = model.dim * np.dtype(model.dtype).itemsize
        chunks = max(128, (16 << 20) // row_bytes // 128 * 128)
    return da.core.normalize_chunks(chunks, shape=(int(n),))[0]


def _generate(lib_path, n, seed, chunks, model, context, entry):
    local = _model(lib_path, model)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an integer >= 0, not {n!r}")
    row_chunks = _rows(n, chunks, local)
    width = local.dim + (1 if entry == "sample_with_log_prob_rows" else 0)
    ctx = _context_blocks(local, context, row_chunks)

    def block(*arrays, block_info=None):
        rows = block_info[None]["chunk-shape"][0]
        m = _model(lib_path, model)
        out = getattr(m, entry)(_first_row(block_info), rows, seed=seed,
                                context=arrays[0] if arrays else None)
        if isinstance(out, tuple):
            return np.concatenate([out[0], out[1][:, None]], axis=1)
        return out

    args = [] if ctx is None else [ctx]
    name = f"nf-{local.name}-{entry}-" + tokenize(str(lib_path), model, n, seed, row_chunks, ctx)
    return da.map_blocks(block, *args, chunks=(row_chunks, (width,)), dtype=local.dtype,
                         meta=np.empty((0, width), local.dtype), name=name)


def sample(lib_path, n, seed=0, chunks="auto", model=None, context=None):
    """n samples as a dask array of shape (n, dim): the rows of
    `load(lib_path).sample(n, seed)`, in row chunks `chunks` computed where
    the graph runs. `model` picks one of several models in the library;
    `context` (conditional models) is an array of n context rows."""
    return _generate(lib_path, n, seed, chunks, model, context, "sample_rows")


def sample_with_log_prob(lib_path, n, seed=0, chunks="auto", model=None, context=None):
    """(x, log_prob) as dask arrays of shapes (n, dim) and (n,): the rows of
    `load(lib_path).sample_with_log_prob(n, seed)`."""
    both = _generate(lib_path, n, seed, chunks, model, context, "sample_with_log_prob_rows")
    dim = both.shape[1] - 1
    return both[:, :dim], both[:, dim]


def _evaluate(lib_path, x, model, context, entry, **kwargs):
    local = _model(lib_path, model)
    x = da.asarray(x).astype(local.dtype)
    if x.ndim != 2 or x.shape[1] != local.dim:
        raise ValueError(f"x must have shape (n, {local.dim}), not {x.shape}")
    x = x.rechunk((x.chunks[0], local.dim))
    ctx = _context_blocks(local, context, x.chunks[0])

    def block(xb, *arrays, block_info=None):
        m = _model(lib_path, model)
        return getattr(m, entry)(xb, _first_row(block_info), context=arrays[0] if arrays else None, **kwargs)

    args = [x] if ctx is None else [x, ctx]
    return da.map_blocks(block, *args, drop_axis=1, dtype=local.dtype, meta=np.empty((0,), local.dtype))


def log_prob(lib_path, x, model=None, context=None):
    """log p(x) per row of the dask array x (n, dim), by row blocks: for
    bound models the library's IWAE estimate, keyed by the global row as in
    one call."""
    return _evaluate(lib_path, x, model, context, "log_prob_rows")


def elbo(lib_path, x, seed=0, model=None, context=None):
    """A one-path lower bound on log p(x) per row of the dask array x."""
    return _evaluate(lib_path, x, model, context, "elbo_rows", seed=seed)


def log_prob_iwae(lib_path, x, k, seed=0, model=None, context=None):
    """The importance-weighted estimate over k paths per row of x."""
    return _evaluate(lib_path, x, model, context, "log_prob_iwae_rows", k=k, seed=seed)
