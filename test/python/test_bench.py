"""The benchmark's PyTorch twins compute what the compiled models compute:
`bench/bench.py --check` compiles every benchmark model and compares
log_prob and the inverse with its eager PyTorch twin (no timing here)."""

import subprocess
import sys

import pytest
from conftest import ROOT

pytest.importorskip("torch")


def test_bench_twins_agree():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "bench.py"), "--check"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all twins agree" in result.stdout
