"""Load libraries written by nf-compile and call their C ABI with numpy."""

import ctypes

import numpy as np

_ERRORS = {
    1: "invalid argument",
    2: "NULL pointer where data is needed",
    3: "out of memory",
}


class NFRuntimeError(RuntimeError):
    """A compiled model returned a non-zero code."""


_I64 = ctypes.c_int64
_U64 = ctypes.c_uint64
_PTR = ctypes.c_void_p


class CompiledModel:
    """One model of a compiled library: numpy in, numpy out."""

    def __init__(self, lib, name, dtype, dim, latent_dim, context_dim):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.dim = dim
        self.latent_dim = latent_dim
        self.context_dim = context_dim
        self._lib = lib
        prefix = f"nf_{name}_"
        signatures = {
            "log_prob": [_PTR, _I64, _PTR, _PTR],
            "elbo": [_PTR, _I64, _U64, _PTR, _PTR],
            "log_prob_iwae": [_PTR, _I64, _I64, _U64, _PTR, _PTR],
            "forward": [_PTR, _I64, _U64, _PTR, _PTR, _PTR],
            "inverse": [_PTR, _I64, _U64, _PTR, _PTR],
            "sample": [_I64, _U64, _PTR, _PTR],
            "sample_with_log_prob": [_I64, _U64, _PTR, _PTR, _PTR],
        }
        self._fn = {}
        for entry, argtypes in signatures.items():
            fn = getattr(lib, prefix + entry)
            fn.argtypes = argtypes
            fn.restype = ctypes.c_int
            self._fn[entry] = fn
        for query, expected in (("dim", dim), ("latent_dim", latent_dim), ("context_dim", context_dim)):
            fn = getattr(lib, prefix + query)
            fn.restype = _I64
            if fn() != expected:
                raise NFRuntimeError(f"{prefix}{query}() disagrees with the library manifest")

    def __repr__(self):
        return (f"CompiledModel({self.name!r}, dtype={self.dtype.name}, dim={self.dim}, "
                f"latent_dim={self.latent_dim}, context_dim={self.context_dim})")

    # -- argument checks -------------------------------------------------
    def _rows(self, array, width, what):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{what} must be a numpy array of {self.dtype.name}, not {type(array).__name__}")
        if array.dtype != self.dtype:
            raise TypeError(f"{what} must have dtype {self.dtype.name} (model @{self.name}), not {array.dtype.name}")
        if array.ndim != 2 or array.shape[1] != width:
            raise ValueError(f"{what} must have shape (n, {width}), not {array.shape}")
        return np.ascontiguousarray(array)

    def _context(self, context, n):
        if self.context_dim == 0:
            if context is not None:
                raise ValueError(f"model @{self.name} takes no context")
            return None
        if context is None:
            raise ValueError(f"model @{self.name} needs a context of shape (n, {self.context_dim})")
        context = self._rows(context, self.context_dim, "context")
        if context.shape[0] != n:
            raise ValueError(f"context has {context.shape[0]} rows, but the batch has {n}")
        return context

    @staticmethod
    def _count(n):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be an integer, not {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        return int(n)

    @staticmethod
    def _ptr(array):
        """The array's address; the fast path matters for batch-1 latency."""
        if array is None:
            return None
        try:
            return ctypes.addressof(ctypes.c_char.from_buffer(array))
        except (TypeError, ValueError):  # read-only or empty arrays
            return array.ctypes.data

    def _call(self, entry, *args):
        rc = self._fn[entry](*args)
        if rc != 0:
            raise NFRuntimeError(f"nf_{self.name}_{entry} failed: {_ERRORS.get(rc, rc)}")

    # -- the C ABI ---------------------------------------------------------
    def log_prob(self, x, context=None):
        """log p(x) per row."""
        x = self._rows(x, self.dim, "x")
        n = x.shape[0]
        ctx = self._context(context, n)
        out = np.empty(n, self.dtype)
        self._call("log_prob", self._ptr(x), n, self._ptr(ctx), self._ptr(out))
        return out

    def elbo(self, x, seed=0, context=None):
        """One-path lower bound on log p(x) per row (log p(x) itself for
        exact models); the layers' randomness comes from `seed`."""
        x = self._rows(x, self.dim, "x")
        n = x.shape[0]
        ctx = self._context(context, n)
        out = np.empty(n, self.dtype)
        self._call("elbo", self._ptr(x), n, seed, self._ptr(ctx), self._ptr(out))
        return out

    def log_prob_iwae(self, x, k, seed=0, context=None):
        """Importance-weighted estimate of log p(x) with k paths per row:
        logsumexp of k one-path bounds minus log k."""
        x = self._rows(x, self.dim, "x")
        n = x.shape[0]
        ctx = self._context(context, n)
        k = self._count(k)
        if k < 1:
            raise ValueError("k must be >= 1")
        out = np.empty(n, self.dtype)
        self._call("log_prob_iwae", self._ptr(x), n, k, seed, self._ptr(ctx), self._ptr(out))
        return out

    def forward(self, x, context=None, seed=0):
        """(z, V): the normalizing map and the per-row log-likelihood term."""
        x = self._rows(x, self.dim, "x")
        n = x.shape[0]
        ctx = self._context(context, n)
        z = np.empty((n, self.latent_dim), self.dtype)
        ldj = np.empty(n, self.dtype)
        self._call("forward", self._ptr(x), n, seed, self._ptr(ctx), self._ptr(z), self._ptr(ldj))
        return z, ldj

    def inverse(self, z, context=None, seed=0):
        """x from latents z (the generative map)."""
        z = self._rows(z, self.latent_dim, "z")
        n = z.shape[0]
        ctx = self._context(context, n)
        x = np.empty((n, self.dim), self.dtype)
        self._call("inverse", self._ptr(z), n, seed, self._ptr(ctx), self._ptr(x))
        return x

    def sample(self, n, seed=0, context=None):
        """n samples; row i depends only on (seed, i)."""
        n = self._count(n)
        ctx = self._context(context, n)
        x = np.empty((n, self.dim), self.dtype)
        self._call("sample", n, seed, self._ptr(ctx), self._ptr(x))
        return x

    def sample_with_log_prob(self, n, seed=0, context=None):
        """(x, log p(x)) for n samples."""
        n = self._count(n)
        ctx = self._context(context, n)
        x = np.empty((n, self.dim), self.dtype)
        logp = np.empty(n, self.dtype)
        self._call("sample_with_log_prob", n, seed, self._ptr(ctx), self._ptr(x), self._ptr(logp))
        return x, logp


class Library:
    """A library written by nf-compile; `models` maps names to CompiledModel.

    With a single model, the library forwards log_prob, sample, ... to it.
    """

    def __init__(self, path):
        self.path = str(path)
        self._lib = ctypes.CDLL(self.path)
        try:
            symbol = getattr(self._lib, "nf_library_manifest")
        except AttributeError:
            raise NFRuntimeError(f"{self.path} was not written by nf-compile (no nf_library_manifest)") from None
        # A char array: read the string at the symbol's address.
        text = ctypes.string_at(ctypes.cast(symbol, _PTR).value)
        self.models = {}
        for line in (text or b"").decode().splitlines():
            name, dtype, dim, latent, context = line.split()
            dtype = {"f32": np.float32, "f64": np.float64}[dtype]
            self.models[name] = CompiledModel(self._lib, name, dtype, int(dim), int(latent), int(context))
        if not self.models:
            raise NFRuntimeError(f"{self.path} lists no nf models")

    def __getitem__(self, name):
        return self.models[name]

    def _only(self):
        if len(self.models) != 1:
            raise AttributeError(f"{self.path} holds {len(self.models)} models; pick one: lib['name']")
        return next(iter(self.models.values()))

    def __getattr__(self, attr):
        if attr.startswith("_") or attr in ("models", "path"):
            raise AttributeError(attr)
        return getattr(self._only(), attr)


def load(path):
    """Loads a library written by nf-compile."""
    return Library(path)
