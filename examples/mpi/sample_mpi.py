"""One global sample of a compiled flow, split over MPI ranks (mpi4py).

Each rank draws its rows with `sample_with_log_prob_rows` (keyed by the
global row, so the ranks' rows together are the sample one process draws)
and reduces them in fixed chunks: the mean and variance of x, and an
importance-sampling estimate of the normalizing constant Z of the 2-D target
exp(-2 |x|^2) (exactly pi / 2) with the flow as proposal. Rank 0 adds the
chunks' sums in chunk order, so the printed numbers are the same bits for
any number of ranks; `--single` computes them in one process from one plain
`sample_with_log_prob` call.

    mpirun -n 2 python3 examples/mpi/sample_mpi.py build/mpi/librealnvp2d.so 1000000 7
"""

import math
import sys


import numpy as np  # noqa: E402

import nfmlir  # noqa: E402

CHUNK = 1 << 14


def chunk_sums(x, logq):
    x = x.astype(np.float64)
    w = np.exp(-2.0 * (x * x).sum(axis=1) - logq.astype(np.float64))
    return np.concatenate([x.sum(axis=0), (x * x).sum(axis=0), [w.sum(), (w * w).sum()]])


def report(sums, n):
    total = np.zeros(sums.shape[1])
    for row in sums:  # in chunk order, whatever the ranks
        total = total + row
    dim = (sums.shape[1] - 2) // 2
    for d in range(dim):
        mean = total[d] / n
        print(f"mean[{d}] {mean!r} var[{d}] {total[dim + d] / n - mean * mean!r}")
    z = total[2 * dim] / n
    se = math.sqrt((total[2 * dim + 1] / n - z * z) / n)
    print(f"Z {z!r} se {se!r} exact {math.pi / 2!r}")


def main():
    path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = nfmlir.load(path)
    chunks = (n + CHUNK - 1) // CHUNK
    bounds = [(c * CHUNK, min(n, (c + 1) * CHUNK)) for c in range(chunks)]
    if "--single" in sys.argv[4:]:
        x, logq = model.sample_with_log_prob(n, seed=seed)
        report(np.array([chunk_sums(x[a:b], logq[a:b]) for a, b in bounds]), n)
        return
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    mine = [chunk_sums(*model.sample_with_log_prob_rows(a, b - a, seed=seed))
            for a, b in bounds[rank * chunks // size:(rank + 1) * chunks // size]]
    gathered = comm.gather(mine, root=0)
    if rank == 0:
        report(np.array([row for part in gathered for row in part]), n)


if __name__ == "__main__":
    main()
