"""The CUDA target (nf-compile --target=cuda): every example's device code
is PTX without libdevice calls that ptxas accepts for sm_90, a library with
both targets keeps its CPU results, and without a GPU the device entries
fail with NF_ERROR_NO_DEVICE and a message, never a crash. With a GPU (the
device machine), the device entries agree with the CPU's."""

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

import nfmlir
from nfmlir.compiler import find_nf_compile
from nfmlir.runtime import NFRuntimeError

EXAMPLES = sorted((ROOT / "examples").glob("*.mlir"))
PTXAS = shutil.which("ptxas") or next(
    (p for p in ["/usr/local/cuda/bin/ptxas"] if os.path.exists(p)), None)
STUB = "/usr/local/cuda/lib64/stubs/libcuda.so"
NF_ERROR_INVALID_ARGUMENT, NF_ERROR_NULL_POINTER = 1, 2
NF_ERROR_NO_DEVICE, NF_ERROR_UNSUPPORTED = 4, 6


def has_gpu():
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


GPU = has_gpu()


def nf_compile(*args, env=None):
    return subprocess.run([find_nf_compile(), *map(str, args)], capture_output=True, text=True, env=env)


def is_f64(path):
    return "xf64>" in path.read_text()


def libdevice_toolkit():
    """A CUDA toolkit with libdevice on this machine, or None."""
    candidates = [Path("/usr/local/cuda")]
    if PTXAS:
        candidates.append(Path(PTXAS).resolve().parents[1])
    return next((d for d in candidates if (d / "nvvm/libdevice/libdevice.10.bc").exists()), None)


TOOLKIT = libdevice_toolkit()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_ptx(path, tmp_path):
    """Toolkit-free PTX (CUDA_HOME names a folder without libdevice):
    polynomial f32 math, so no libdevice call; only the driver's malloc/free
    (loop-carried temporaries) may be declared. f64 transcendentals need
    libdevice: a clear error, and no output."""
    ptx = tmp_path / "model.ptx"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CUDA_HOME": str(tmp_path)}
    result = nf_compile(path, "--target=cuda", "--emit=ptx", "-o", ptx, env=env)
    if result.returncode != 0:
        assert is_f64(path), result.stderr
        assert "f64 transcendentals need libdevice" in result.stderr
        assert "Traceback" not in result.stderr and "PLEASE submit" not in result.stderr
        assert not ptx.exists()
        if not TOOLKIT:
            return
        # With the toolkit, libdevice is linked in.
        result = nf_compile(path, "--target=cuda", "--emit=ptx", "--cuda-toolkit", TOOLKIT, "-o", ptx)
        assert result.returncode == 0, result.stderr
    text = ptx.read_text()
    assert ".target sm_90" in text
    externs = set(re.findall(r"\.extern \.func\s*(?:\([^)]*\))?\s*(\w+)", text))
    assert externs <= {"malloc", "free"}, externs
    model = re.search(r"nf\.model @(\w+)", path.read_text()).group(1)
    for body in ("normalize", "generate", "base_from_noise"):
        assert f".entry nfk_{model}_{body}(" in text
    element = "f64" if is_f64(path) else "f32"
    for helper in ("noise_normal", "noise_uniform", "iwae_step", "iwae_finish"):
        assert f".entry nf_{helper}_{element}(" in text
    if PTXAS:
        check = subprocess.run([PTXAS, "-arch=sm_90", str(ptx), "-o", str(tmp_path / "m.cubin")],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def small_flow(name="tiny", **kw):
    rng = np.random.default_rng(3)
    layers = [nfmlir.AffineCoupling([0], nfmlir.MLP.random([1, 16, 2], "tanh", rng), "exp"),
              nfmlir.Reverse(),
              nfmlir.AffineCoupling([0], nfmlir.MLP.random([1, 16, 2], "relu", rng), "softplus")]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), name=name, **kw)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    out = tmp_path_factory.mktemp("both")
    return small_flow().compile(out_dir=out / "both", target="cuda,cpu"), \
        small_flow().compile(out_dir=out / "cpu")


def test_both_targets_keep_cpu_results(both):
    gpu_lib, cpu_lib = both
    x = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    np.testing.assert_array_equal(gpu_lib.log_prob(x), cpu_lib.log_prob(x))
    np.testing.assert_array_equal(gpu_lib.sample(50, seed=4), cpu_lib.sample(50, seed=4))
    assert {"cuda_log_prob", "cuda_forward", "cuda_inverse"} <= set(gpu_lib.entries)
    assert not any(e.startswith("cuda_") for e in cpu_lib.entries)


def raw(model, entry):
    lib = ctypes.CDLL(model.library_path)
    fn = getattr(lib, f"nf_{model.name}_{entry}")
    fn.restype = ctypes.c_int
    lib.nf_last_error_message.restype = ctypes.c_char_p
    return fn, lambda: lib.nf_last_error_message().decode()


def test_argument_errors_come_first(both):
    model = both[0]
    fn, message = raw(model, "cuda_log_prob")
    x = np.zeros((4, 2), np.float32)
    assert fn(None, ctypes.c_int64(4), None, None, None) == NF_ERROR_NULL_POINTER
    assert "NULL" in message()
    assert fn(ctypes.c_void_p(x.ctypes.data), ctypes.c_int64(-1), None, None, None) == NF_ERROR_INVALID_ARGUMENT
    assert "negative" in message()


def test_device_row_range_arguments(both):
    """The device row-range entries check first_row before any device work."""
    model = both[0]
    assert {"cuda_sample_rows", "cuda_log_prob_rows", "cuda_log_prob_iwae_rows"} <= set(model.entries)
    fn, message = raw(model, "cuda_sample_rows")
    out = np.zeros((4, 2), np.float32)
    p = ctypes.c_void_p(out.ctypes.data)
    assert fn(ctypes.c_int64(-1), ctypes.c_int64(4), ctypes.c_uint64(0), None, p, None) == NF_ERROR_INVALID_ARGUMENT
    assert "first_row" in message()
    assert fn(ctypes.c_int64(2**63 - 2), ctypes.c_int64(4), ctypes.c_uint64(0), None, p,
              None) == NF_ERROR_INVALID_ARGUMENT
    with pytest.raises(ValueError, match="first_row must be >= 0"):
        model.cuda_sample_rows(-3, 4)


@pytest.mark.skipif(TOOLKIT is None, reason="no CUDA toolkit with libdevice")
def test_toolkit_found_without_path(tmp_path):
    """With no CUDA variable and no CUDA on PATH, the toolkit of the
    ptxas on PATH or /usr/local/cuda provides libdevice (f64 exp/log)."""
    f64 = next(p for p in EXAMPLES if is_f64(p))
    ptx = tmp_path / "model.ptx"
    path_dirs = "/usr/bin:/bin" if TOOLKIT == Path("/usr/local/cuda") else f"{Path(PTXAS).parent}:/usr/bin:/bin"
    result = nf_compile(f64, "--target=cuda", "--emit=ptx", "-o", ptx,
                        env={"PATH": path_dirs, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "__nv_" not in "".join(re.findall(r"\.extern \.func[^;]*;", ptx.read_text()))


def test_toolkit_without_libdevice_refused(tmp_path):
    ptx = tmp_path / "model.ptx"
    result = nf_compile(EXAMPLES[0], "--target=cuda", "--emit=ptx", "--cuda-toolkit", tmp_path, "-o", ptx)
    assert result.returncode != 0
    assert "no nvvm/libdevice/libdevice.10.bc" in result.stderr
    assert not ptx.exists()


@pytest.mark.skipif(GPU, reason="this machine has a GPU")
def test_no_device_is_an_error_code(both):
    model = both[0]
    x = np.zeros((4, 2), np.float32)
    fn, message = raw(model, "cuda_forward")
    assert fn(ctypes.c_void_p(x.ctypes.data), ctypes.c_int64(4), None, ctypes.c_void_p(x.ctypes.data),
              None, None) == NF_ERROR_NO_DEVICE
    assert "libcuda.so.1" in message()
    with pytest.raises(NFRuntimeError, match="no CUDA"):
        model.cuda_log_prob(x)


@pytest.mark.skipif(GPU or not os.path.exists(STUB), reason="needs the toolkit's stub driver and no GPU")
def test_driver_without_device(both, tmp_path):
    """The toolkit's stub libcuda: every driver function resolves, cuInit
    fails; the error names the CUDA error."""
    (tmp_path / "libcuda.so.1").symlink_to(STUB)
    script = (
        "import ctypes, sys, numpy as np\n"
        f"lib = ctypes.CDLL({both[0].library_path!r})\n"
        "fn = lib.nf_tiny_cuda_log_prob; fn.restype = ctypes.c_int\n"
        "lib.nf_last_error_message.restype = ctypes.c_char_p\n"
        "x = np.zeros((4, 2), np.float32); p = ctypes.c_void_p(x.ctypes.data)\n"
        "print(fn(p, ctypes.c_int64(4), None, p, None)); print(lib.nf_last_error_message().decode())\n")
    env = dict(os.environ, LD_LIBRARY_PATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    code, text = out.stdout.splitlines()
    assert int(code) == NF_ERROR_NO_DEVICE
    assert "no CUDA device" in text and "CUDA_ERROR" in text


def bound_flow(name="deq", dtype="float32"):
    rng = np.random.default_rng(5)
    layers = [nfmlir.UniformDequantize(4),
              nfmlir.AffineCoupling([0], nfmlir.MLP.random([1, 8, 2], "tanh", rng), "exp")]
    return nfmlir.Model(layers, nfmlir.StandardNormal(2), name=name, dtype=dtype)


def test_bound_estimates_on_device(tmp_path):
    """A bound model has log_prob (its IWAE estimate), elbo and
    log_prob_iwae on the device; argument errors come before the device."""
    model = bound_flow().compile(out_dir=tmp_path, target="cuda,cpu")
    assert {"cuda_log_prob", "cuda_elbo", "cuda_log_prob_iwae"} <= set(model.entries)
    fn, message = raw(model, "cuda_log_prob_iwae")
    x = np.zeros((4, 2), np.float32)
    p = ctypes.c_void_p(x.ctypes.data)
    assert fn(p, ctypes.c_int64(4), ctypes.c_int64(0), ctypes.c_uint64(0), None, p, None) == NF_ERROR_INVALID_ARGUMENT
    assert "k must be" in message()
    assert fn(None, ctypes.c_int64(4), ctypes.c_int64(2), ctypes.c_uint64(0), None, p, None) == NF_ERROR_NULL_POINTER
    if not GPU:
        with pytest.raises(NFRuntimeError, match="no CUDA"):
            model.cuda_log_prob(x)
        with pytest.raises(ValueError, match="k must be >= 1"):
            model.cuda_log_prob_iwae(x, 0)


CLANG = shutil.which("clang-22") or shutil.which("/usr/lib/llvm-22/bin/clang")
MLIR_TRANSLATE = shutil.which("mlir-translate-22") or shutil.which("/usr/lib/llvm-22/bin/mlir-translate")


@pytest.mark.skipif(not CLANG or not MLIR_TRANSLATE, reason="needs clang-22 and mlir-translate")
def test_device_noise_matches_runtime(tmp_path):
    """The noise kernels the GPU runs (nf-add-runtime-kernels, the same
    builder nf-gpu-map-rows calls), compiled for the CPU and run against
    the runtime's Philox streams, from row 0 and from a row range's first
    global row: uniform base and layer noise bit for bit, normal noise
    within the rounding of the polynomial log."""
    nf_opt = Path(find_nf_compile()).with_name("nf-opt")
    (tmp_path / "empty.mlir").write_text("module {}\n")
    objects = []
    for element in ("f32", "f64"):
        lowered = tmp_path / f"noise_{element}.mlir"
        subprocess.run([nf_opt, tmp_path / "empty.mlir",
                        f"--nf-add-runtime-kernels=target=cpu element-type={element}", "--nf-cpu-pipeline",
                        "-o", lowered], check=True)
        ll = tmp_path / f"noise_{element}.ll"
        subprocess.run([MLIR_TRANSLATE, "--mlir-to-llvmir", lowered, "-o", ll], check=True)
        objects.append(ll)
    runtime = Path(find_nf_compile()).parents[1] / "lib"
    exe = tmp_path / "noise_check"
    subprocess.run([CLANG, "-O2", f"-I{runtime}", ROOT / "test/python/inputs/noise_check.c", *objects,
                    runtime / "libnf_runtime.a", "-lstdc++", "-lm", "-lpthread", "-ldl", "-o", exe],
                   check=True, capture_output=True)
    lines = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split("\n")
    results = {tuple(line.split()[:2]): line.split()[2:] for line in lines if line}
    assert len(results) == 12  # (f32, f64) x (normal, uniform, layer) x (row 0, row 2^33 + 5 on)
    for (element, kind), (worst, exact) in results.items():
        same, total = map(int, exact.split("/"))
        if kind.split("@")[0] in ("uniform", "layer") or element == "f64":
            assert same == total, (element, kind, worst)
        else:
            assert float(worst) < 1e-6, (element, kind, worst)


class _Memref1(ctypes.Structure):
    _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p), ("offset", ctypes.c_int64),
                ("size", ctypes.c_int64), ("stride", ctypes.c_int64)]


def _memref1(array):
    return _Memref1(array.ctypes.data, array.ctypes.data, 0, array.shape[0], 1)


def _mix_seed(value):
    """SplitMix64's finalizer, as abi::mixSeed (written again here)."""
    mask = (1 << 64) - 1
    value = (value + 0x9E3779B97F4A7C15) & mask
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & mask
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & mask
    return value ^ (value >> 31)


@pytest.mark.skipif(not CLANG or not MLIR_TRANSLATE, reason="needs clang-22 and mlir-translate")
@pytest.mark.parametrize("element", ["f32", "f64"])
def test_device_iwae_matches_runtime(element, tmp_path):
    """The IWAE kernels the GPU runs (nf-add-runtime-kernels), compiled for
    the CPU: fed the per-path bounds of a bound model (its one-path ELBO
    under each path seed, computed here from the documented keying), they
    give the runtime's log_prob_iwae: bit for bit in f64, within the
    polynomial exp/log in f32."""
    nf_opt = Path(find_nf_compile()).with_name("nf-opt")
    (tmp_path / "empty.mlir").write_text("module {}\n")
    lowered, ll, so = (tmp_path / f"iwae.{ext}" for ext in ("mlir", "ll", "so"))
    subprocess.run([nf_opt, tmp_path / "empty.mlir", f"--nf-add-runtime-kernels=target=cpu element-type={element}",
                    "--nf-cpu-pipeline", "-o", lowered], check=True)
    subprocess.run([MLIR_TRANSLATE, "--mlir-to-llvmir", lowered, "-o", ll], check=True)
    subprocess.run([CLANG, "-O2", "-shared", "-fPIC", ll, "-o", so, "-lm"], check=True, capture_output=True)
    kernels = ctypes.CDLL(str(so))
    step, finish = (getattr(kernels, f"_mlir_ciface_nf_iwae_{name}_{element}") for name in ("step", "finish"))
    for fn in (step, finish):
        fn.argtypes = [ctypes.c_int64] + [ctypes.POINTER(_Memref1)] * 3
        fn.restype = None

    model = bound_flow(dtype={"f32": "float32", "f64": "float64"}[element]).compile(out_dir=tmp_path / "m")
    x = np.random.default_rng(7).uniform(-0.3, 4.3, size=(257, 2)).astype(model.dtype)
    for k, seed in [(1, 11), (5, 11), (16, 2**63 + 5)]:
        largest, total, out = (np.empty(len(x), model.dtype) for _ in range(3))
        for path in range(k):
            path_seed = seed if k == 1 else _mix_seed(seed ^ _mix_seed(path))
            bound = np.ascontiguousarray(model.elbo(x, seed=path_seed))
            step(path == 0, *(ctypes.byref(_memref1(a)) for a in (bound, largest, total)))
        finish(k, *(ctypes.byref(_memref1(a)) for a in (largest, total, out)))
        want = model.log_prob_iwae(x, k, seed=seed)
        if element == "f64":
            np.testing.assert_array_equal(out, want)
        else:
            np.testing.assert_allclose(out, want, rtol=2e-6, atol=2e-6)
        if k > 1:  # the paths differ: the estimate is not one path's bound
            assert np.abs(want - model.elbo(x, seed=seed)).max() > 1e-3


@pytest.mark.skipif(not GPU, reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("path", [p for p in EXAMPLES if not is_f64(p)], ids=lambda p: p.stem)
def test_device_matches_cpu(path, tmp_path):
    lib_path = tmp_path / "libm.so"
    result = nf_compile(path, "--target=cuda,cpu", "-o", lib_path)
    assert result.returncode == 0, result.stderr
    for model in nfmlir.load(lib_path).models.values():
        rng = np.random.default_rng(1)
        if model.context_dim:
            continue
        x = model.sample(1000, seed=3)
        np.testing.assert_allclose(model.cuda_sample(1000, seed=3), x, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(model.cuda_log_prob(x), model.log_prob(x), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(model.cuda_elbo(x, seed=9), model.elbo(x, seed=9), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(model.cuda_log_prob_iwae(x, 4, seed=9), model.log_prob_iwae(x, 4, seed=9),
                                   rtol=1e-5, atol=1e-4)
        z = rng.normal(size=(1000, model.latent_dim)).astype(model.dtype)
        np.testing.assert_allclose(model.cuda_inverse(z, seed=5), model.inverse(z, seed=5), rtol=1e-5, atol=1e-4)
        # Row ranges: rows 37 .. 136 of the batch, keyed by the global row.
        np.testing.assert_allclose(model.cuda_sample_rows(37, 100, seed=3), x[37:137], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(model.cuda_log_prob_rows(x[37:137], 37), model.log_prob(x)[37:137],
                                   rtol=1e-5, atol=1e-4)
        got_z, got_v = model.cuda_forward(x, seed=7)
        want_z, want_v = model.forward(x, seed=7)
        np.testing.assert_allclose(got_z, want_z, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(got_v, want_v, rtol=1e-5, atol=1e-4)


@pytest.mark.skipif(not GPU, reason="no CUDA GPU on this machine")
def test_device_arrays_pass_through(tmp_path):
    """PyTorch CUDA tensors in, PyTorch CUDA tensors out, no copies."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    model = small_flow().compile(out_dir=tmp_path, target="cuda,cpu")
    x = np.random.default_rng(2).normal(size=(500, 2)).astype(np.float32)
    got = model.cuda_log_prob(torch.from_numpy(x).cuda())
    assert isinstance(got, torch.Tensor) and got.is_cuda
    np.testing.assert_allclose(got.cpu().numpy(), model.log_prob(x), rtol=1e-5, atol=1e-4)


class _HostMemoryDevice:
    """A stand-in for the library's CUDA functions that keeps "device"
    memory in host memory, so the Python side of device calls (array kinds,
    copies, DLPack hand-over, frees) runs without a GPU."""

    def __init__(self):
        self.live = {}

    def malloc(self, pointer, size):
        buffer = ctypes.create_string_buffer(max(int(size), 1))
        pointer._obj.value = ctypes.addressof(buffer)
        self.live[pointer._obj.value] = buffer
        return 0

    def free(self, pointer):
        assert self.live.pop(pointer, None) is not None, "freed twice or never allocated"
        return 0

    def memcpy(self, dst, src, size, kind):
        ctypes.memmove(dst, src, size)
        return 0

    def last_error(self):
        return ""

    def check(self, rc, what):
        assert rc == 0, what


class _FakeCudaArray:
    """A DLPack producer that says its memory is on a CUDA device (JAX-like:
    no __cuda_array_interface__); its module's from_dlpack takes ours."""

    def __init__(self, array):
        self.array = np.ascontiguousarray(array)

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, stream=None):
        from nfmlir import dlpack
        return dlpack.Exported(self.array.ctypes.data, self.array.shape, self.array.dtype, dlpack.CUDA).__dlpack__()


def _fake_from_dlpack(producer):
    from nfmlir import dlpack
    tensor = dlpack.read(producer)
    assert tensor.device_type == dlpack.CUDA
    copy = np.ctypeslib.as_array(ctypes.cast(tensor.pointer, ctypes.POINTER(ctypes.c_float)),
                                 tensor.shape).copy()
    return _FakeCudaArray(copy)  # dropping `tensor` frees the producer's memory


def test_device_array_kinds_without_gpu(tmp_path, monkeypatch):
    """numpy in, numpy out; a CPU DLPack producer (PyTorch CPU tensor) in,
    the same kind out; a CUDA DLPack producer without
    __cuda_array_interface__ (as JAX) in, its library's object out through
    our DLPack hand-over, every device buffer freed exactly once."""
    torch = pytest.importorskip("torch")
    model = small_flow().compile(out_dir=tmp_path, target="cuda,cpu")
    device = _HostMemoryDevice()
    monkeypatch.setattr(model, "_device", device)
    host_log_prob = model._fn["log_prob"]
    # The entry, run by the CPU entry on the host-memory "device" arrays.
    host_sample = model._fn["sample"]
    monkeypatch.setitem(model._fn, "cuda_log_prob",
                        lambda x, n, ctx, out, stream: host_log_prob(x, n, ctx, out))
    monkeypatch.setitem(model._fn, "cuda_sample",
                        lambda n, seed, ctx, out, stream: host_sample(n, seed, ctx, out))
    module = type(sys)("fakecuda")
    module.from_dlpack = _fake_from_dlpack
    monkeypatch.setitem(sys.modules, "fakecuda", module)
    monkeypatch.setattr(_FakeCudaArray, "__module__", "fakecuda")

    x = np.random.default_rng(4).normal(size=(37, 2)).astype(np.float32)
    want = model.log_prob(x)
    got = model.cuda_log_prob(x)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, want)
    got = model.cuda_log_prob(torch.from_numpy(x))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), want)
    got = model.cuda_log_prob(_FakeCudaArray(x))
    assert isinstance(got, _FakeCudaArray)
    np.testing.assert_array_equal(got.array, want)
    assert device.live == {}, "a device buffer was not freed"
    # Without input arrays, outputs take the kind of `like`.
    samples = model.sample(40, seed=2)
    np.testing.assert_array_equal(model.cuda_sample(40, seed=2), samples)
    assert isinstance(model.cuda_sample(40, seed=2, like=torch.zeros(1)), torch.Tensor)
    got = model.cuda_sample(40, seed=2, like=_FakeCudaArray(x))
    assert isinstance(got, _FakeCudaArray)
    np.testing.assert_array_equal(got.array, samples)
    with pytest.raises(TypeError, match="like must be"):
        model.cuda_sample(4, like=[1.0])
    assert device.live == {}
    # A strided host tensor is copied like any host array.
    strided = torch.from_numpy(np.ascontiguousarray(x.T)).t()
    assert not strided.is_contiguous()
    np.testing.assert_array_equal(model.cuda_log_prob(strided).numpy(), want)
    with pytest.raises(TypeError, match="dtype float32"):
        model.cuda_log_prob(torch.from_numpy(x.astype(np.float64)))
    assert device.live == {}
