"""examples/mpi: each of 2 MPI ranks draws its row range of one global
sample with the compiled library; the ranks' reduction (moments and an
importance-sampling estimate of a normalizing constant) is the same bits as
one process's from one plain call, in C (mpicc) and in Python (mpi4py)."""

import math
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

from nfmlir.compiler import compile_mlir

MPIRUN = shutil.which("mpirun")
MPICC = shutil.which("mpicc")
pytestmark = pytest.mark.skipif(not MPIRUN or not MPICC, reason="needs openmpi-bin and libopenmpi-dev")
N, SEED = 200_000, 7


def mpirun(*command):
    flags = ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    env = dict(os.environ, NF_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    result = subprocess.run([MPIRUN, "-n", "2", *flags, *map(str, command)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def single(*command):
    result = subprocess.run(list(map(str, command)) + ["--single"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def check_estimate(out):
    z, se, exact = map(float, re.search(r"^Z (\S+) se (\S+) exact (\S+)$", out, re.M).groups())
    assert abs(z - exact) < 5 * se, out
    assert math.isclose(exact, math.pi / 2)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    out = tmp_path_factory.mktemp("mpi")
    return compile_mlir((ROOT / "examples/realnvp2d.mlir").read_text(), name="realnvp2d", out_dir=out)


def test_c_program(library, tmp_path):
    lib_dir = os.path.dirname(library)
    exe = tmp_path / "sample_mpi"
    subprocess.run([MPICC, "-O2", "-DNF_MODEL=realnvp2d", "-DNF_REAL=float", f"-I{lib_dir}",
                    str(ROOT / "examples/mpi/sample_mpi.c"), f"-L{lib_dir}", "-lrealnvp2d",
                    f"-Wl,-rpath,{lib_dir}", "-lm", "-o", str(exe)], check=True)
    ranks = mpirun(exe, N, SEED)
    assert ranks == single(exe, N, SEED)
    check_estimate(ranks)


def test_python_script(library):
    script = ROOT / "examples/mpi/sample_mpi.py"
    ranks = mpirun(sys.executable, script, library, N, SEED)
    assert ranks == single(sys.executable, script, library, N, SEED)
    check_estimate(ranks)
