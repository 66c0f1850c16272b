"""Scale-out throughput, printed, not asserted (docs/scale-out.md), one
thread per process:
  - Dask: rows/s of one global sample of realnvp8 (bench/bench.py: 8
    affine couplings, MLP 2x128) drawn by 1 and 2 worker processes, against
    one process calling the library;
  - MPI: examples/mpi/sample_mpi.c (realnvp2d, sample_with_log_prob and the
    reduction) with 1 and 2 ranks, against its --single run, whole
    programs timed (start-up included).

    /usr/bin/python3 bench/scale_out.py [--rows N] [--mpi-rows N]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))
os.environ["NF_NUM_THREADS"] = "1"  # before the runtime starts its threads

import numpy as np  # noqa: E402

import bench  # noqa: E402
import nfmlir  # noqa: E402


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def dask_rate(path, rows, workers):
    import distributed

    import nfmlir.dask as nfdask

    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, env={"NF_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster):
        # Reduced on the workers: the rate of drawing, not of moving rows.
        seeds = iter(range(1, 100))
        draw = lambda: nfdask.sample(path, rows, seed=next(seeds), chunks=rows // 16).sum(axis=0).compute()
        draw()  # the workers load the library
        return rows / best_of(draw)


def mpi_rates(rows, work):
    """{label: rows/s} of the MPI example, or {} without Open MPI."""
    mpirun, mpicc = shutil.which("mpirun"), shutil.which("mpicc")
    if not mpirun or not mpicc:
        return {}
    from nfmlir.compiler import compile_mlir

    path = compile_mlir((ROOT / "examples/realnvp2d.mlir").read_text(), name="realnvp2d",
                        out_dir=Path(work) / "mpi")
    lib_dir = os.path.dirname(path)
    exe = Path(work) / "sample_mpi"
    subprocess.run([mpicc, "-O2", "-DNF_MODEL=realnvp2d", "-DNF_REAL=float", f"-I{lib_dir}",
                    str(ROOT / "examples/mpi/sample_mpi.c"), f"-L{lib_dir}", "-lrealnvp2d",
                    f"-Wl,-rpath,{lib_dir}", "-lm", "-o", str(exe)], check=True)
    flags = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    commands = {"one process (--single)": [str(exe), str(rows), "1", "--single"]}
    for ranks in (1, 2):
        commands[f"mpirun -n {ranks}"] = [mpirun, "-n", str(ranks), *flags, str(exe), str(rows), "1"]
    return {label: rows / best_of(lambda: subprocess.run(command, check=True, capture_output=True))
            for label, command in commands.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1 << 20)
    parser.add_argument("--mpi-rows", type=int, default=1 << 25)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="nf-scale-")
    model = bench.MODELS["realnvp8"]()
    lib = model.compile(out_dir=Path(work) / "lib")
    path = lib.library_path
    rows = args.rows
    lib.sample(1024, seed=0)
    seeds = iter(range(1, 100))
    single = rows / best_of(lambda: lib.sample(rows, seed=next(seeds)))
    print(f"realnvp8 sample, {rows} rows, 1 thread per process, {os.cpu_count()} cores")
    print(f"  one process, one call       {single:12.0f} rows/s")
    for workers in (1, 2):
        rate = dask_rate(path, rows, workers)
        print(f"  Dask, {workers} worker(s)           {rate:12.0f} rows/s  {rate / single:5.2f}x one process"
              f"  ({rate / (single * workers):.0%} of {workers}x)")
    rates = mpi_rates(args.mpi_rows, work)
    if rates:
        base = rates["one process (--single)"]
        print(f"realnvp2d sample_with_log_prob + reduction (examples/mpi/sample_mpi.c), {args.mpi_rows} rows")
        for label, rate in rates.items():
            print(f"  {label:28s} {rate:12.0f} rows/s  {rate / base:5.2f}x one process")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
