#!/usr/bin/env python3
"""The GPU check of the CUDA target, in two steps (docs/performance.md, GPU).

  /usr/bin/python3 bench/gpu_check.py prepare     # here: needs build/bin/nf-compile
  bash scripts/gpu_check.sh                       # on the GPU machine: numpy, PyTorch with CUDA

prepare compiles every example and the benchmark models (bench.py's realnvp8,
realnvp64, nsf8, maf8: the same weights) for --target=cuda, host code for a
baseline x86-64 CPU, into gpu-check/ (under 64 MiB, carried to the GPU
machine), with the CPU library's results of every entry on fixed inputs.

run, on the GPU, in one process:
  1. every example's device entries on those inputs against the CPU results:
     values within 1e-5 (f32) / 1e-9 (f64) of max(1, |cpu|); sample and
     sample_with_log_prob row for row (the same Philox stream); PyTorch CUDA
     tensors passed through without copies, on PyTorch's stream;
  2. the ceilings, measured: device copy bandwidth and the fp32 (no TF32)
     matrix-product rate;
  3. log_prob and sample at batch 2^16 and 2^20 against the PyTorch twins of
     bench.py on the same weights, eager and torch.compile (CUDA events,
     warm-up, median), printed as ratios and fractions of the ceilings.
Exit status 1 if a correctness check fails.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

BENCH_MODELS = ("realnvp8", "realnvp64", "nsf8", "maf8")
BATCHES = (1 << 16, 1 << 20)
ROWS = 1000  # rows per example check
PORTABLE_CPU = "x86-64-v2"  # host code of the carried libraries
TOL = {np.float32: 1e-5, np.float64: 1e-9}


# -- prepare (build machine) ---------------------------------------------------------------------

def nf_compile(source, out, *args):
    from nfmlir.compiler import find_nf_compile

    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([find_nf_compile(), str(source), "-o", str(out), *args], check=True)


def reference_results(model, rng):
    """Inputs and the CPU library's outputs of every entry, as npz arrays."""
    arrays = {}
    ctx = rng.normal(size=(ROWS, model.context_dim)).astype(model.dtype) if model.context_dim else None
    arrays["ctx"] = ctx if ctx is not None else np.zeros((0,), model.dtype)
    kw = {"context": ctx}
    x = model.sample(ROWS, seed=3, **kw)
    z = rng.normal(size=(ROWS, model.latent_dim)).astype(model.dtype)
    arrays.update(x=x, z=z, log_prob=model.log_prob(x, **kw), elbo=model.elbo(x, seed=9, **kw),
                  log_prob_iwae=model.log_prob_iwae(x, 4, seed=9, **kw), inverse=model.inverse(z, seed=5, **kw),
                  sample=model.sample(ROWS, seed=3, **kw))
    arrays["forward.z"], arrays["forward.v"] = model.forward(x, seed=7, **kw)
    arrays["swlp.x"], arrays["swlp.logp"] = model.sample_with_log_prob(ROWS, seed=3, **kw)
    return arrays


def prepare(out):
    import nfmlir

    if out.exists():
        shutil.rmtree(out)
    for source in sorted((ROOT / "examples").glob("*.mlir")):
        name = source.stem
        nf_compile(source, out / "examples" / name / f"lib{name}.so", "--target=cuda", f"--mcpu={PORTABLE_CPU}")
        cpu_dir = out / "cpu" / name
        nf_compile(source, cpu_dir / f"lib{name}.so")
        lib = nfmlir.load(cpu_dir / f"lib{name}.so")
        for model_name, model in lib.models.items():
            arrays = reference_results(model, np.random.default_rng(1))
            np.savez(out / "examples" / name / f"{model_name}.npz", **arrays)
        print(f"  prepared {name}: {', '.join(lib.models)}", flush=True)
    shutil.rmtree(out / "cpu")

    import bench

    for name in BENCH_MODELS:
        model = bench.MODELS[name]()
        target = out / "bench" / name
        target.mkdir(parents=True)
        (target / f"{name}.mlir").write_text(model.to_mlir())
        nf_compile(target / f"{name}.mlir", target / f"lib{name}.so", "--target=cuda", f"--mcpu={PORTABLE_CPU}")
        (target / f"{name}.mlir").unlink()
        bench.save_model(model, target / "model")
        print(f"  prepared bench model {name}", flush=True)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"gpu-check: {size / 2**20:.1f} MiB in {out}")
    if size > 60 * 2**20:
        sys.exit("gpu-check is too large to carry (60 MiB at most)")


# -- run (GPU machine) ---------------------------------------------------------------------------

def max_rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return np.inf
    same_inf = np.isinf(got) & (got == want)
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    err[same_inf] = 0.0
    return float(np.nan_to_num(err, nan=np.inf).max(initial=0.0))


def check_examples(out, log):
    import nfmlir

    ok = True
    for folder in sorted((out / "examples").iterdir()):
        lib = nfmlir.load(folder / f"lib{folder.name}.so")
        for name, model in lib.models.items():
            ref = dict(np.load(folder / f"{name}.npz"))
            kw = {"context": ref["ctx"] if model.context_dim else None}
            got = {
                "log_prob": lambda: model.cuda_log_prob(ref["x"], **kw),
                "elbo": lambda: model.cuda_elbo(ref["x"], seed=9, **kw),
                "log_prob_iwae": lambda: model.cuda_log_prob_iwae(ref["x"], 4, seed=9, **kw),
                "inverse": lambda: model.cuda_inverse(ref["z"], seed=5, **kw),
                "sample": lambda: model.cuda_sample(ROWS, seed=3, **kw),
                "forward": lambda: model.cuda_forward(ref["x"], seed=7, **kw),
                "sample_with_log_prob": lambda: model.cuda_sample_with_log_prob(ROWS, seed=3, **kw),
                # A row range: rows 37 .. 536 of the batch, keyed by the global row.
                "sample_rows": lambda: model.cuda_sample_rows(
                    37, 500, seed=3, context=None if kw["context"] is None else kw["context"][37:537]),
            }
            want = {"forward": (ref["forward.z"], ref["forward.v"]),
                    "sample_with_log_prob": (ref["swlp.x"], ref["swlp.logp"]),
                    "sample_rows": ref["sample"][37:537]}
            tol = TOL[model.dtype.type]
            for entry, call in got.items():
                try:
                    result = call()
                    expected = want.get(entry, ref.get(entry))
                    if isinstance(result, tuple):
                        err = max(max_rel_err(r, e) for r, e in zip(result, expected))
                    else:
                        err = max_rel_err(result, expected)
                    status = "ok" if err <= tol else "FAILED"
                    detail = f"max err {err:.2e} (tolerance {tol:.0e})"
                except Exception as error:  # a failed entry is a failed check, the run goes on
                    status, detail = "FAILED", f"{type(error).__name__}: {error}"
                ok &= status == "ok"
                log(f"  {status:<6} {folder.name}/{name}.cuda_{entry:<22} {detail}")
    return ok


def check_pass_through(out, log, torch):
    """PyTorch CUDA tensors in and out, no copies, on PyTorch's stream."""
    import nfmlir

    lib = nfmlir.load(out / "examples" / "realnvp2d" / "librealnvp2d.so")
    model = next(iter(lib.models.values()))
    ref = dict(np.load(out / "examples" / "realnvp2d" / f"{model.name}.npz"))
    x = torch.from_numpy(ref["x"]).cuda()
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        got = model.cuda_log_prob(x, stream=stream.cuda_stream)
    stream.synchronize()
    ok = isinstance(got, torch.Tensor) and got.is_cuda and max_rel_err(got.cpu().numpy(), ref["log_prob"]) <= 1e-5
    log(f"  {'ok' if ok else 'FAILED':<6} PyTorch CUDA tensors in and out on a side stream: "
        f"{type(got).__name__} on {getattr(got, 'device', '?')}")
    return ok


def cuda_time(torch, fn, reps, warmup=3):
    """Median seconds of fn() by CUDA events, after warm-up."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return float(np.median(times))


def measure_ceilings(torch, log):
    def copy_rate(n=1 << 28):  # 1 GiB of f32, read and written
        a = torch.empty(n, device="cuda")
        b = torch.empty_like(a)
        return 2 * 4 * n / cuda_time(torch, lambda: b.copy_(a), 10)

    copy = copy_rate()
    torch.backends.cuda.matmul.allow_tf32 = False
    m = 8192
    p, q = torch.randn(m, m, device="cuda"), torch.randn(m, m, device="cuda")
    fp32 = 2 * m**3 / cuda_time(torch, lambda: p @ q, 10)
    log(f"ceilings (measured): device copy {copy / 1e12:.2f} TB/s (read + write), "
        f"fp32 matrix product {fp32 / 1e12:.1f} TFLOP/s (TF32 off)")
    return copy, fp32


def bench_models(out, log, torch, ceilings, deadline, compile_mode):
    import bench
    import nfmlir

    copy_bw, fp32 = ceilings
    rows = []
    stream_ptr = lambda: torch.cuda.current_stream().cuda_stream  # noqa: E731
    for name in BENCH_MODELS:
        model = bench.load_model(out / "bench" / name / "model")
        lib = nfmlir.load(out / "bench" / name / f"lib{name}.so")[name]
        twin = bench.make_twin(model).cuda()
        dim, flops = model.dim, bench.model_flops(model)

        def nf_log_prob(x):
            return lib.cuda_log_prob(x, stream=stream_ptr())

        def nf_sample(n, like):
            return lib.cuda_sample(n, seed=1, stream=stream_ptr(), like=like)

        def eager_sample(n):
            return twin.inverse(torch.randn(n, dim, device="cuda"))

        compiled_log_prob = torch.compile(twin.log_prob, dynamic=True, mode=compile_mode)
        compiled_sample = torch.compile(eager_sample, dynamic=True, mode=compile_mode)
        with torch.no_grad():
            x = torch.randn(4096, dim, device="cuda")
            err = float((nf_log_prob(x) - twin.log_prob(x)).abs().max())
            log(f"  twin check {name}: log_prob max |nf-mlir - PyTorch| {err:.2e} on 4096 rows")
            for batch in BATCHES:
                x = torch.randn(batch, dim, device="cuda")
                reps = 20 if batch <= 1 << 16 else 5
                for entry, ours, eager, compiled, nbytes in (
                        ("log_prob", lambda: nf_log_prob(x), lambda: twin.log_prob(x),
                         lambda: compiled_log_prob(x), (dim + 1) * 4),
                        ("sample", lambda: nf_sample(batch, x), lambda: eager_sample(batch),
                         lambda: compiled_sample(batch), dim * 4)):
                    t_nf = cuda_time(torch, ours, reps)
                    t_eager = cuda_time(torch, eager, reps)
                    if time.monotonic() < deadline:
                        t_compiled = cuda_time(torch, compiled, reps)
                    else:
                        t_compiled = float("nan")
                        log(f"  torch.compile of {name} {entry} skipped: the run's time is up")
                    rate = flops * batch / t_nf
                    rows.append((name, entry, batch, t_nf, t_eager, t_compiled, rate / fp32,
                                 nbytes * batch / t_nf / copy_bw))
                    log(f"  {name:<10} {entry:<9} 2^{batch.bit_length() - 1}  nf-mlir {t_nf * 1e3:8.3f} ms  "
                        f"eager {t_eager * 1e3:8.3f} ms  compile {t_compiled * 1e3:8.3f} ms  "
                        f"{t_eager / t_nf:5.2f}x eager  {t_compiled / t_nf:5.2f}x compile  "
                        f"{rate / 1e12:6.2f} TFLOP/s ({100 * rate / fp32:4.1f}% fp32)")
    return rows


def markdown(rows):
    lines = ["| model | entry | batch | nf-mlir | eager | torch.compile | vs eager | vs compile | "
             "% fp32 peak | % copy bandwidth |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry, batch, t_nf, t_eager, t_comp, frac_flops, frac_bw in rows:
        lines.append(f"| {name} | {entry} | 2^{batch.bit_length() - 1} | {t_nf * 1e3:.3f} ms | "
                     f"{t_eager * 1e3:.3f} ms | {t_comp * 1e3:.3f} ms | {t_eager / t_nf:.2f}x | "
                     f"{t_comp / t_nf:.2f}x | {100 * frac_flops:.1f}% | {100 * frac_bw:.2f}% |")
    return "\n".join(lines)


def run(out, budget, compile_mode):
    import torch

    start = time.monotonic()
    report = []

    def log(line):
        print(line, flush=True)
        report.append(line)

    if not torch.cuda.is_available():
        sys.exit("gpu_check: PyTorch sees no CUDA device")
    log(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, numpy {np.__version__}")
    log("correctness: every example's device entries against the CPU library's results")
    ok = check_examples(out, log)
    ok &= check_pass_through(out, log, torch)
    ceilings = measure_ceilings(torch, log)
    log(f"timings (median of CUDA-event times after warm-up; torch.compile mode={compile_mode}, dynamic shapes)")
    rows = bench_models(out, log, torch, ceilings, start + budget, compile_mode)
    table = markdown(rows)
    log(table)
    log(f"correctness: {'all checks passed' if ok else 'SOME CHECKS FAILED'}; {time.monotonic() - start:.0f} s")
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_check.txt").write_text("\n".join(report) + "\n")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["prepare", "run"])
    parser.add_argument("--out", type=Path, default=ROOT / "gpu-check")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds after which torch.compile timings are skipped (run)")
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode (run)")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.out)
        return 0
    return run(args.out, args.budget, args.compile_mode)


if __name__ == "__main__":
    sys.exit(main())
