"""nfmlir: build normalizing flows, compile them with nf-compile, run them.

    import numpy as np, nfmlir
    model = nfmlir.Model([nfmlir.AffineCoupling([0], nfmlir.MLP(...)),
                          nfmlir.Reverse()],
                         base=nfmlir.StandardNormal(2))
    lib = model.compile()
    logp = lib.log_prob(np.zeros((4, 2), np.float32))

Only numpy is needed (PyTorch only for importing trained flows).
"""

from .builder import (
    MLP,
    ActNorm,
    AdditiveCoupling,
    Affine,
    AffineCoupling,
    BatchNorm,
    DiagNormal,
    Elementwise,
    Exp,
    LeakyReLU,
    Linear,
    Log,
    Logit,
    Model,
    Permute,
    Radial,
    Reverse,
    Sigmoid,
    Softplus,
    Squeeze,
    StandardNormal,
    Tanh,
    Uniform,
    parity_mask,
)
from .compiler import CompileError, compile_mlir, find_nf_compile
from .runtime import CompiledModel, Library, NFRuntimeError, load

__all__ = [
    "MLP",
    "ActNorm",
    "AdditiveCoupling",
    "Affine",
    "AffineCoupling",
    "BatchNorm",
    "CompileError",
    "CompiledModel",
    "DiagNormal",
    "Elementwise",
    "Exp",
    "LeakyReLU",
    "Linear",
    "Log",
    "Logit",
    "Library",
    "Model",
    "NFRuntimeError",
    "Permute",
    "Radial",
    "Reverse",
    "Sigmoid",
    "Softplus",
    "Squeeze",
    "StandardNormal",
    "Tanh",
    "Uniform",
    "compile_mlir",
    "find_nf_compile",
    "load",
    "parity_mask",
]
