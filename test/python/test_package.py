"""nfmlir installs like a package: pip installs python/ offline (into a
venv, editable, or under a prefix) and the installed copy is imported with
no PYTHONPATH; find_nf_compile looks at $NF_COMPILE, the installed prefix,
PATH and the source tree's build tree, in that order, and names them all
when it finds nothing; `python3 -m nfmlir compile flow.pt -o libflow.so`
compiles a saved PyTorch flow to a library with the same log_prob.

The installs build from a copy of python/ (pip builds in the source tree:
build/ and nfmlir.egg-info would land in the checkout)."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nfmlir
from nfmlir import compiler
from nfmlir.__main__ import main as cli_main
from conftest import ROOT

SOURCE = ROOT / "python"  # pyproject.toml and nfmlir/
# The directory holding the nfmlir these tests import (python/ here).
PACKAGE_ROOT = Path(nfmlir.__file__).resolve().parents[1]


def copy_source(dst):
    """python/ without caches or build outputs, at dst."""
    shutil.copytree(SOURCE, dst, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    return dst


def clean_env(path="/usr/bin:/bin", **extra):
    """An environment without PYTHONPATH, NF_COMPILE, the user site or pip's
    index (offline)."""
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
           "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1",
           "PIP_ROOT_USER_ACTION": "ignore"}
    env.update(extra)
    return env


def run(command, env, cwd=None, check=True, timeout=120):
    out = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def need(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        packages = {"pip": "python3-pip", "setuptools": "python3-setuptools", "ensurepip": "python3-venv",
                    "venv": "python3-venv"}
        pytest.skip(f"installing nfmlir needs {', '.join(sorted({packages[m] for m in missing}))} "
                    f"(missing: {', '.join(missing)})")


def make_venv(path):
    """A venv with pip that sees the system's packages (numpy, torch,
    setuptools); skips without python3-venv."""
    need("pip", "setuptools", "venv", "ensurepip")
    out = run([sys.executable, "-m", "venv", "--system-site-packages", path], clean_env(), check=False)
    if out.returncode != 0:
        if "ensurepip" in out.stdout + out.stderr:
            pytest.skip(f"python3-venv is missing: {(out.stdout + out.stderr).strip()}")
        raise AssertionError(out.stdout + out.stderr)
    return path / "bin" / "python"


def pip_install(python, *args):
    run([python, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index", "--quiet", *args],
        clean_env())


@pytest.fixture
def real_nf_compile():
    """The nf-compile the other tests use, symlinks resolved (it finds its
    runtime beside itself: a symlink to it works anywhere)."""
    try:
        return Path(compiler.find_nf_compile()).resolve()
    except FileNotFoundError as e:
        pytest.skip(str(e))


def shadowing_nf_compiles(directory):
    """bin/nf-compile in the ancestors of `directory` (outside a test's own
    layout, these would win the installed-prefix rule)."""
    return [a / "bin" / "nf-compile" for a in Path(directory).resolve().parents if (a / "bin" / "nf-compile").exists()]


PROBE = ("import nfmlir, sys\n"
         "print(nfmlir.__file__)\n"
         "try:\n"
         "    print(nfmlir.find_nf_compile())\n"
         "except FileNotFoundError as e:\n"
         "    print('NOT FOUND', e)\n")


# -- (a) pip install into a venv, and editable --------------------------------------------


def test_pip_install_into_a_venv(tmp_path, real_nf_compile):
    tmp_path = tmp_path.resolve()
    python = make_venv(tmp_path / "venv")
    pip_install(python, copy_source(tmp_path / "src"))
    work = tmp_path / "elsewhere"
    work.mkdir()
    code = ("import importlib.metadata, sys, nfmlir\n"
            "print(nfmlir.__file__)\n"
            "print(importlib.metadata.version('nfmlir'))\n"
            "print('torch' in sys.modules)\n")
    out = run([python, "-c", code], clean_env(), cwd=work).stdout.split("\n")
    venv = (tmp_path / "venv").resolve()
    location = Path(out[0]).resolve()
    assert venv in location.parents and "site-packages" in location.parts, out
    assert out[1] == "0.1.0"
    assert out[2] == "False"  # numpy only
    # The command line, as a module and as the console script.
    assert "compile" in run([python, "-m", "nfmlir", "--help"], clean_env(), cwd=work).stdout
    assert "FLOW.pt" in run([tmp_path / "venv" / "bin" / "nfmlir", "compile", "--help"], clean_env(), cwd=work).stdout
    # The venv is the prefix: nf-compile in venv/bin is found without PATH or NF_COMPILE.
    if shadowing_nf_compiles(tmp_path):
        pytest.skip(f"an nf-compile outside the test's venv: {shadowing_nf_compiles(tmp_path)}")
    (tmp_path / "venv" / "bin" / "nf-compile").symlink_to(real_nf_compile)
    out = run([python, "-c", PROBE], clean_env(path=str(work)), cwd=work).stdout.split("\n")
    assert out[1] == str(tmp_path / "venv" / "bin" / "nf-compile"), out


def test_editable_install_uses_the_source_trees_build(tmp_path, real_nf_compile):
    """pip install -e: nfmlir is the checkout's python/nfmlir (no installed
    prefix), so nf-compile comes from the checkout's build/bin."""
    tmp_path = tmp_path.resolve()
    python = make_venv(tmp_path / "venv")
    checkout = tmp_path / "checkout"
    copy_source(checkout / "python")
    (checkout / "build" / "bin").mkdir(parents=True)
    (checkout / "build" / "bin" / "nf-compile").symlink_to(real_nf_compile)
    pip_install(python, "-e", checkout / "python")
    if shadowing_nf_compiles(checkout / "python"):
        pytest.skip(f"an nf-compile outside the test's checkout: {shadowing_nf_compiles(checkout / 'python')}")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = run([python, "-c", PROBE], clean_env(path=str(empty)), cwd=empty).stdout.split("\n")
    assert Path(out[0]) == checkout / "python" / "nfmlir" / "__init__.py", out
    assert out[1] == str(checkout / "build" / "bin" / "nf-compile"), out


# -- (b) where nf-compile is found ----------------------------------------------------------


def fake_tool(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_discovery_order(tmp_path, monkeypatch):
    """$NF_COMPILE, then the nearest installed prefix, then PATH, then the
    source tree's build tree; nothing found names every place tried. The
    package is made to think it lives in P/lib/python3/site-packages/nfmlir."""
    prefix = tmp_path / "P"
    package = prefix / "lib" / "python3" / "site-packages" / "nfmlir"
    package.mkdir(parents=True)
    if shadowing_nf_compiles(package):
        pytest.skip(f"an nf-compile outside the test's prefix: {shadowing_nf_compiles(package)}")
    monkeypatch.setattr(compiler, "_PACKAGE_DIR", package)
    env_tool = fake_tool(tmp_path / "env" / "nf-compile")
    prefix_tool = fake_tool(prefix / "bin" / "nf-compile")
    path_tool = fake_tool(tmp_path / "on-path" / "nf-compile")
    build_tool = fake_tool(package.parent.parent / "build" / "bin" / "nf-compile")  # python/nfmlir/../../build
    monkeypatch.setenv("NF_COMPILE", str(env_tool))
    monkeypatch.setenv("PATH", f"{tmp_path / 'nothing'}:{path_tool.parent}")

    assert nfmlir.find_nf_compile() == str(env_tool)
    monkeypatch.delenv("NF_COMPILE")
    assert nfmlir.find_nf_compile() == str(prefix_tool)
    nearer = fake_tool(prefix / "lib" / "bin" / "nf-compile")  # the nearest ancestor wins
    assert nfmlir.find_nf_compile() == str(nearer)
    nearer.unlink()
    prefix_tool.chmod(0o644)  # not executable: passed over
    assert nfmlir.find_nf_compile() == str(path_tool)
    prefix_tool.unlink()
    assert nfmlir.find_nf_compile() == str(path_tool)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert nfmlir.find_nf_compile() == str(build_tool)
    build_tool.unlink()
    with pytest.raises(FileNotFoundError) as error:
        nfmlir.find_nf_compile()
    message = str(error.value)
    for place in ("$NF_COMPILE: not set", str(prefix / "bin" / "nf-compile"),
                  str(prefix / "lib" / "python3" / "bin" / "nf-compile"), f"PATH: {tmp_path / 'nothing'}",
                  str(build_tool)):
        assert place in message, message
    # In that order.
    assert (message.index("$NF_COMPILE") < message.index(str(prefix / "bin")) < message.index("PATH:")
            < message.index(str(build_tool)))

    # A $NF_COMPILE that is not a file: a warning, the search goes on, and the message names it.
    monkeypatch.setenv("NF_COMPILE", str(tmp_path / "missing" / "nf-compile"))
    with pytest.warns(RuntimeWarning, match="NF_COMPILE"), pytest.raises(FileNotFoundError,
                                                                        match="missing/nf-compile"):
        nfmlir.find_nf_compile()
    fake_tool(prefix / "bin" / "nf-compile")
    with pytest.warns(RuntimeWarning, match="NF_COMPILE"):
        assert nfmlir.find_nf_compile() == str(prefix / "bin" / "nf-compile")


def test_installed_under_a_prefix_finds_prefix_bin(tmp_path, real_nf_compile):
    """The package pip-installed under P (--target P/lib/python3/site-packages)
    and run from there: nothing found names P/bin/nf-compile; with
    P/bin/nf-compile (cmake --install's place), that is found; $NF_COMPILE
    still wins."""
    need("pip", "setuptools")
    tmp_path = tmp_path.resolve()
    prefix = tmp_path / "P"
    site = prefix / "lib" / "python3" / "site-packages"
    run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index", "--quiet",
         "--target", site, copy_source(tmp_path / "src")], clean_env())
    if shadowing_nf_compiles(site):
        pytest.skip(f"an nf-compile outside the test's prefix: {shadowing_nf_compiles(site)}")
    empty = tmp_path / "empty"
    empty.mkdir()

    def probe(**extra):
        env = clean_env(path=str(empty), PYTHONPATH=str(site), **extra)
        return run([sys.executable, "-c", PROBE], env, cwd=empty).stdout.split("\n", 1)

    where, found = probe()
    assert Path(where) == site / "nfmlir" / "__init__.py"
    assert found.startswith("NOT FOUND"), found
    for place in ("$NF_COMPILE: not set", str(prefix / "bin" / "nf-compile"), f"PATH: {empty}",
                  str(site.parent / "build" / "bin" / "nf-compile")):
        assert place in found, found

    (prefix / "bin").mkdir()
    (prefix / "bin" / "nf-compile").symlink_to(real_nf_compile)
    assert probe()[1].strip() == str(prefix / "bin" / "nf-compile")
    assert probe(NF_COMPILE=str(real_nf_compile))[1].strip() == str(real_nf_compile)


# -- (c) python3 -m nfmlir compile ------------------------------------------------------------


def small_flow(tf, torch):
    torch.manual_seed(3)
    flow = tf.Flow([
        tf.AffineCouplingTransform([1, -1, 1], tf.MLP(1, 4, 16, num_blocks=1, activation="tanh")),
        tf.ReversePermutation(3),
        tf.LULinear(3, identity_init=False),
        tf.MaskedAffineAutoregressiveTransform(3, 12),
    ], 3).double()
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
    return flow.eval()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cli_compiles_a_saved_flow(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("nfmlir.torch_flows")
    flow = small_flow(tf, torch)
    torch.save(flow, tmp_path / "flow.pt")
    out_dir = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    out = run([sys.executable, "-m", "nfmlir", "compile", tmp_path / "flow.pt", "-o", out_dir / "libflow.so",
               "--dtype", dtype, "-O2"], env, cwd=tmp_path)
    library, header = out_dir / "libflow.so", out_dir / "flow.h"
    assert out.stdout.split() == [str(library), str(header)]
    assert "nf_flow_log_prob" in header.read_text()
    assert not list(out_dir.glob("*.mlir"))  # the source only with --keep-mlir

    lib = nfmlir.load(library)
    assert list(lib.models) == ["flow"]
    x = np.random.default_rng(0).normal(size=(64, 3)) * 1.5
    with torch.no_grad():
        expected = flow.log_prob(torch.from_numpy(x)).numpy()
    got = lib["flow"].log_prob(x.astype(dtype))
    tol = 1e-10 if dtype == "float64" else 1e-4
    assert np.abs(got - expected).max() <= tol * max(1.0, np.abs(expected).max())


def test_cli_name_and_extra_arguments(tmp_path, capsys):
    """--name, --keep-mlir and nf-compile arguments after --, in process."""
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("nfmlir.torch_flows")
    torch.save(small_flow(tf, torch), tmp_path / "flow.pt")
    code = cli_main(["compile", str(tmp_path / "flow.pt"), "-o", str(tmp_path / "libm.so"), "--name", "density",
                     "--keep-mlir", "-O0", "--", "--emit=header"])
    assert code == 0, capsys.readouterr().err
    # --emit=header: nf-compile writes the header only, to -o.
    assert "nf_density_log_prob" in (tmp_path / "libm.so").read_text()
    assert (tmp_path / "density.mlir").read_text().count("nf.model @density") == 1
    assert str(tmp_path / "density.mlir") in capsys.readouterr().out


try:
    import torch as _torch
except ImportError:  # pragma: no cover
    _torch = None

if _torch is not None:

    class Shear(_torch.nn.Module):
        """A transform nfmlir does not know (module-level, so that it pickles)."""

        def forward(self, inputs, context=None):  # pragma: no cover
            return inputs, inputs.new_zeros(inputs.shape[0])


def test_cli_errors(tmp_path, capsys):
    # A missing file, through python3 -m nfmlir (and without importing torch).
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    out = run([sys.executable, "-m", "nfmlir", "compile", tmp_path / "nope.pt", "-o", tmp_path / "libx.so"], env,
              check=False)
    assert out.returncode == 2
    assert f"{tmp_path / 'nope.pt'}: no such file" in out.stderr
    assert not (tmp_path / "libx.so").exists()

    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("nfmlir.torch_flows")

    def fails(path, *messages):
        code = cli_main(["compile", str(path), "-o", str(tmp_path / "liby.so")])
        err = capsys.readouterr().err
        assert code == 2, err
        for message in messages:
            assert message in err, err
        assert not (tmp_path / "liby.so").exists()

    (tmp_path / "text.pt").write_text("not a torch file\n")
    fails(tmp_path / "text.pt", "text.pt: not a PyTorch file saved with torch.save")
    flow = small_flow(tf, torch)
    torch.save(flow.state_dict(), tmp_path / "weights.pt")
    fails(tmp_path / "weights.pt", "not a torch.nn.Module", "state_dict")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    fails(tmp_path / "tensor.pt", "holds a value of type Tensor, not a torch.nn.Module")
    torch.save(tf.Flow([tf.ReversePermutation(3), Shear()], 3), tmp_path / "shear.pt")
    fails(tmp_path / "shear.pt", "unsupported layer Shear at position 1")
    torch.save(torch.nn.Linear(3, 3), tmp_path / "linear.pt")
    fails(tmp_path / "linear.pt", "cannot import Linear", "not a flow")
    fails(tmp_path, "not a file")
    # An invalid --name.
    assert cli_main(["compile", str(tmp_path / "shear.pt"), "-o", str(tmp_path / "liby.so"), "--name", "a-b"]) == 2
    assert "--name must be an identifier" in capsys.readouterr().err
