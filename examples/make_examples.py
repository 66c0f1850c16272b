#!/usr/bin/python3
"""Writes the example flows of examples/ from the Python builder (fixed
seeds, so the files are reproducible): a conditional RealNVP on 2-D data
with a 1-D context, a Glow-style image flow, a MAF, a rational-quadratic
spline coupling flow (RQ-NSF (C)), planar and radial flows, an i-ResNet,
and a flow with user-defined elementwise bijections. Run from anywhere; the
tests compile and run them. (examples/realnvp2d.mlir is written by hand.)"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
import nfmlir  # noqa: E402


def conditional_realnvp():
    rng = np.random.default_rng(1)
    layers = []
    for k in range(4):
        net = nfmlir.MLP.random([1 + 1, 32, 32, 2], "relu", rng, scale=0.7)
        layers += [nfmlir.AffineCoupling([k % 2], net, "sigmoid")]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), context_dim=1, name="conditional_realnvp")


def glow_tiny():
    rng = np.random.default_rng(2)
    c, h, w = 2, 4, 4
    layers = [nfmlir.Logit(alpha=0.05), nfmlir.ActNorm(rng.uniform(0.5, 1.5, c), rng.normal(size=c) * 0.1),
              nfmlir.Squeeze()]
    # Two Glow steps on 8 x 2 x 2: ActNorm, invertible 1x1 convolution (dense,
    # then LU-parameterized), affine coupling with a convolutional conditioner.
    for step in range(2):
        c4 = 4 * c
        mixing = (nfmlir.Linear(np.linalg.qr(rng.normal(size=(c4, c4)))[0], np.zeros(c4)) if step == 0 else
                  nfmlir.LULinear(np.tril(rng.normal(size=(c4, c4)), -1) * 0.2,
                                  np.triu(rng.normal(size=(c4, c4)), 1) * 0.2, rng.uniform(0.7, 1.3, c4),
                                  np.zeros(c4), permutation=rng.permutation(c4)))
        layers += [nfmlir.ActNorm(rng.uniform(0.5, 1.5, 4 * c), np.zeros(4 * c)), mixing,
                   nfmlir.AffineCoupling(list(range(4)), nfmlir.ConvNet.random([4, 16, 8], 3, "relu", rng, 0.5),
                                         "sigmoid", shift_first=True)]
    return nfmlir.Model(layers, nfmlir.StandardNormal(c * h * w), name="glow_tiny", event_shape=(c, h, w))


def maf():
    rng = np.random.default_rng(4)
    d = 4
    layers = []
    for k in range(3):
        made = nfmlir.MADE.random(d, [32, 32], 2, rng=rng, scale=0.5)
        layers += [nfmlir.MaskedAffineAutoregressive(made, "softplus"), nfmlir.Reverse()]
    layers.append(nfmlir.BatchNorm(rng.normal(size=d) * 0.1, rng.uniform(0.5, 2.0, d), np.zeros(d), np.zeros(d)))
    return nfmlir.Model(layers, nfmlir.StandardNormal(d), name="maf")


def nsf_coupling():
    rng = np.random.default_rng(5)
    d, bins = 4, 8
    layers = []
    for k in range(3):
        identity = nfmlir.parity_mask(d, even=k % 2 == 0)
        net = nfmlir.MLP.random([len(identity), 32, (3 * bins - 1) * (d - len(identity))], "relu", rng, 0.5)
        layers += [nfmlir.SplineCoupling(identity, net, bins=bins, tail_bound=3.0),
                   nfmlir.LULinear(np.tril(rng.normal(size=(d, d)), -1) * 0.3, np.triu(rng.normal(size=(d, d)), 1) * 0.3,
                                   nfmlir.LULinear.nflows_diag(rng.normal(size=d) * 0.1), np.zeros(d))]
    return nfmlir.Model(layers, nfmlir.StandardNormal(d), name="nsf_coupling")


def planar_radial():
    rng = np.random.default_rng(6)
    d = 2
    layers = []
    for k in range(4):
        layers.append(nfmlir.Planar.reparameterized(rng.normal(size=d), rng.normal(size=d), rng.normal()))
        layers.append(nfmlir.Radial(rng.normal(size=d), 0.5 + rng.uniform(), rng.uniform(-0.4, 1.0)))
    return nfmlir.Model(layers, nfmlir.StandardNormal(d), name="planar_radial")


def iresnet():
    rng = np.random.default_rng(7)
    layers = [nfmlir.IResNet(nfmlir.IResNet.contractive([2, 32, 32, 2], "elu", 0.8, rng), logdet="exact")
              for _ in range(3)]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), name="iresnet")


def user_elementwise():
    rng = np.random.default_rng(3)
    body = """%c = arith.constant 0.3 : {T}
              %sq = arith.mulf %v, %v : {T}
              %cu = arith.mulf %sq, %v : {T}
              %s = arith.mulf %cu, %c : {T}
              %r = arith.addf %s, %v : {T}"""
    layers = [nfmlir.Elementwise(body, "%r", monotone="increasing", tolerance=1e-7),
              nfmlir.AffineCoupling([0], nfmlir.MLP.random([1, 16, 2], "tanh", rng)),
              nfmlir.Elementwise("""%two = arith.constant 2.0 : {T}
                                    %a = arith.mulf %v, %two : {T}
                                    %r = math.sinh %a : {T}""", "%r")]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), name="user_elementwise")


def abs_flow():
    rng = np.random.default_rng(8)
    # x -> |x| -> log: the positive orthant onto R^2, then couplings; the
    # density is symmetric under sign flips of either coordinate.
    layers = [nfmlir.Abs(), nfmlir.Log()]
    for k in range(3):
        layers.append(nfmlir.AffineCoupling([k % 2], nfmlir.MLP.random([1, 32, 2], "tanh", rng, 0.5), "softplus"))
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), name="abs_flow")


def multiscale():
    rng = np.random.default_rng(9)
    c, h, w = 2, 4, 4
    layers = [nfmlir.Squeeze(),
              nfmlir.AffineCoupling(list(range(4)), nfmlir.ConvNet.random([4, 16, 8], 3, "relu", rng, 0.5),
                                    "sigmoid"),
              # Factor out half the channels with a learned conditional prior.
              nfmlir.Slice(4, nfmlir.ConvNet.random([4, 16, 8], 3, "relu", rng, 0.5)),
              nfmlir.AffineCoupling([0, 1], nfmlir.ConvNet.random([2, 16, 4], 3, "relu", rng, 0.5), "sigmoid")]
    return nfmlir.Model(layers, nfmlir.StandardNormal(16), name="multiscale", event_shape=(c, h, w))


def vae_flow_prior():
    rng = np.random.default_rng(10)
    d, latent = 6, 2
    layers = [nfmlir.VAE(latent, nfmlir.MLP.random([d, 32, 2 * latent], "tanh", rng, 0.5),
                         nfmlir.MLP.random([latent, 32, 2 * d], "tanh", rng, 0.5))]
    for k in range(3):
        layers.append(nfmlir.AffineCoupling([k % 2], nfmlir.MLP.random([1, 16, 2], "tanh", rng, 0.5), "softplus"))
    return nfmlir.Model(layers, nfmlir.StandardNormal(latent), name="vae_flow_prior", event_shape=(d,),
                        iwae_paths=32)


def dequantized_augmented():
    rng = np.random.default_rng(11)
    d = 3
    layers = [nfmlir.UniformDequantize(16), nfmlir.Logit(alpha=0.05),
              nfmlir.Augment(2, nfmlir.MLP.random([d, 16, 4], "tanh", rng, 0.5))]
    # An augmented-flow step: couplings across the x / e split.
    encode = nfmlir.MLP.random([d, 32, 4], "tanh", rng, 0.5)
    decode = nfmlir.MLP.random([2, 32, 2 * d], "tanh", rng, 0.5)
    layers.append(nfmlir.AugmentedFlowStep(d, encode, decode, "softplus"))
    return nfmlir.Model(layers, nfmlir.StandardNormal(d + 2), name="dequantized_augmented", event_shape=(d,),
                        iwae_paths=16)


def snf_double_well():
    """Wu, Koehler and Noe's RNVP + MC layout (their experiment 1): in the
    sampling direction, three RealNVP blocks with a Metropolis block after
    each, on u_lambda for lambda = 0, 0.5 and the target; listed here in
    the normalizing direction (data first)."""
    rng = np.random.default_rng(12)
    energy = nfmlir.double_well()
    blocks = [[nfmlir.AffineCoupling([k], nfmlir.MLP.random([1, 32, 32, 2], "tanh", rng, 0.3), "exp")
               for k in (0, 1)] for _ in range(3)]
    layers = []
    for lam, block in zip((1.0, 0.5, 0.0), blocks):
        layers += [nfmlir.Metropolis(energy, proposal_scale=0.25, steps=20, lam=lam), *block]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), dtype="float64", name="snf_double_well", iwae_paths=16)


MAKERS = (conditional_realnvp, glow_tiny, maf, nsf_coupling, planar_radial, iresnet, user_elementwise, abs_flow,
          multiscale, vae_flow_prior, dequantized_augmented, snf_double_well)
# Examples with surjective or stochastic layers, and those whose log_prob is
# a bound (IWAE estimate).
SURJECTIVE = {"abs_flow", "multiscale", "vae_flow_prior", "dequantized_augmented", "snf_double_well"}
BOUND = {"vae_flow_prior", "dequantized_augmented", "snf_double_well"}

HEADERS = {
    "abs_flow": "An abs-surjection flow for densities symmetric under sign flips: |x|, log,\n"
                "then couplings; exact likelihood, random signs when sampling.",
    "multiscale": "A multi-scale image flow: squeeze, a convolutional coupling, a slice\n"
                  "factor-out of half the channels with a convolutional conditional prior,\n"
                  "another coupling.",
    "vae_flow_prior": "A VAE with a flow prior: a VAE layer (6-D data, 2-D latent) and couplings\n"
                      "on the latent; log_prob is the IWAE estimate with 32 paths.",
    "dequantized_augmented": "Uniform dequantization of 16-level data, logit, then an augmented flow:\n"
                             "2 features drawn from a conditional encoder, couplings across the\n"
                             "x / e split; log_prob is the IWAE estimate with 16 paths.",
    "snf_double_well": "A stochastic normalizing flow on the double well u = x1^4 - 6 x1^2 - 0.5 x1 +\n"
                       "0.5 x2^2 (Wu et al. 2020): three RealNVP blocks, each followed (sampling\n"
                       "direction) by 20 Metropolis steps on u_lambda, lambda = 0, 0.5, 1. V holds\n"
                       "the path terms; log_prob is the IWAE estimate with 16 paths. Untrained\n"
                       "weights: examples/run_snf.py trains the flow first.",
    "conditional_realnvp": "A conditional RealNVP on 2-D data given a 1-D context: each coupling's\n"
                           "conditioner sees x_A and the context.",
    "glow_tiny": "A Glow-style flow on 2x4x4 images in [0, 1]: logit preprocessing, ActNorm,\n"
                 "squeeze, then two steps of ActNorm, invertible 1x1 convolution (dense, then\n"
                 "LU-parameterized) and affine coupling with a convolutional conditioner.",
    "maf": "A masked autoregressive flow (MAF) on 4-D data: three MADE-conditioned affine\n"
           "layers (nflows' layout and masks) with reversals, and batch norm (inference).\n"
           "Density: one MADE pass per layer; sampling: 4 passes per layer.",
    "nsf_coupling": "A rational-quadratic neural spline flow (RQ-NSF (C)) on 4-D data: spline\n"
                    "couplings (8 bins, tail bound 3) alternating parity, with LU linear layers.",
    "planar_radial": "Planar and radial flows on 2-D data; planar inverses solve a scalar equation\n"
                     "per sample, radial inverses are closed form.",
    "iresnet": "An i-ResNet on 2-D data: three contractive residual blocks (Lipschitz 0.8),\n"
               "exact log-determinants, fixed-point inverses.",
    "user_elementwise": "User-defined elementwise bijections: a monotone cubic inverted by a\n"
                        "Newton solve, and sinh(2x) inverted symbolically, around a coupling.",
}

if __name__ == "__main__":
    for make in MAKERS:
        model = make()
        header = "".join(f"// {line}\n" for line in HEADERS[model.name].splitlines())
        header += "// Generated by examples/make_examples.py.\n\n"
        (HERE / f"{model.name}.mlir").write_text(header + model.to_mlir())
        print(f"wrote examples/{model.name}.mlir")
