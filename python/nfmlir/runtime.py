"""Load libraries written by nf-compile and call their C ABI with numpy.

A library describes itself in its manifest (the `nf_library_manifest`
string, written from the compiler's ABI table): its models and, for each,
every exported entry with its arguments in C order. The ctypes signatures
and the Python methods are built from it, so this module names no entry.
"""

import ctypes
import inspect
import os
import threading

import numpy as np

from . import dlpack

_ERRORS = {
    1: "invalid argument",
    2: "NULL pointer where data is needed",
    3: "out of memory",
    4: "no CUDA device",
    5: "CUDA driver error",
    6: "not supported by this target",
    7: "unsupported CPU",
}


class NFRuntimeError(RuntimeError):
    """A compiled model returned a non-zero code."""


_I64 = ctypes.c_int64
_U64 = ctypes.c_uint64
_PTR = ctypes.c_void_p

# Argument roles of the manifest: their ctypes type.
_CTYPES = {"rows": _PTR, "n": _I64, "k": _I64, "seed": _U64, "layer_seed": _U64, "ctx": _PTR, "out": _PTR,
           "stream": _PTR, "first_row": _I64}

# Python arguments, by role, in the order methods take them: the rows, the
# first row's global index (row-range entries), n (without rows), k, the
# seed, the context, then a seed that only keys layer noise.
_PYTHON_ORDER = ["rows", "first_row", "n", "k", "seed", "ctx", "layer_seed", "stream"]


class _Arg:
    """One C argument of an entry: `role:name[:width]`."""

    def __init__(self, text):
        parts = text.split(":")
        self.role, self.name = parts[0], parts[1]
        self.width = parts[2] if len(parts) > 2 else None
        if self.role not in _CTYPES:
            raise NFRuntimeError(f"unknown argument role {self.role!r} in the library manifest")


class _Entry:
    """One exported function of a model, as the manifest describes it."""

    def __init__(self, name, returns, args, summary):
        self.name = name
        self.returns = returns
        self.args = [_Arg(a) for a in args]
        self.summary = summary

    def python_parameters(self):
        """The method's parameters: (python name, role, C argument)."""
        has_rows = any(a.role == "rows" for a in self.args)
        params = []
        for role in _PYTHON_ORDER:
            for arg in self.args:
                if arg.role != role or (role == "n" and has_rows):
                    continue
                name = {"ctx": "context", "layer_seed": "seed"}.get(role, arg.name)
                default = {"seed": 0, "layer_seed": 0, "ctx": None, "stream": None}.get(role, inspect.Parameter.empty)
                params.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
        if any(a.role == "stream" for a in self.args):
            # Device entries: the kind of array the outputs take when the
            # entry is given none (sample on the GPU, into PyTorch tensors).
            params.append(inspect.Parameter("like", inspect.Parameter.KEYWORD_ONLY, default=None))
        return params


def _parse_manifest(text):
    """{model name: (line fields, [entries])} from a library manifest."""
    lines = text.splitlines()
    if not lines or lines[0].split() != ["nf-manifest", "1"]:
        raise NFRuntimeError("the library manifest is not in the nf-manifest 1 format; recompile it with this nf-compile")
    models = {}
    for line in lines[1:]:
        head, _, summary = line.partition(" # ")
        fields = head.split()
        if fields[0] == "model":
            models[fields[1]] = (fields[2:], [])
        elif fields[0] == "entry":
            models[fields[1]][1].append(_Entry(fields[2], fields[3], fields[4:], summary.strip()))
        else:
            raise NFRuntimeError(f"unexpected line in the library manifest: {line!r}")
    return models


class CompiledModel:
    """One model of a compiled library: numpy in, numpy out.

    Every entry of the library's manifest is a method, e.g. `log_prob(x,
    context=None)`, `sample(n, seed=0, context=None)`; `entries` lists them.
    """

    def __init__(self, lib, name, fields, entries, library_path=None, device=None):
        dtype, dim, latent, context, exactness, iwae_paths = fields
        self.name = name
        self.library_path = library_path  # the .so it was loaded from
        self.dtype = np.dtype({"f32": np.float32, "f64": np.float64}[dtype])
        self.dim = int(dim)
        self.latent_dim = int(latent)
        self.context_dim = int(context)
        self.exactness = exactness
        self.iwae_paths = int(iwae_paths)
        self._lib = lib
        self._device = device  # _Device of libraries with the CUDA target
        self._fn = {}
        self._entries = {}
        for entry in entries:
            fn = getattr(lib, f"nf_{name}_{entry.name}")
            fn.argtypes = [_CTYPES[a.role] for a in entry.args]
            fn.restype = _I64 if entry.returns == "int64" else ctypes.c_int
            self._fn[entry.name] = fn
            self._entries[entry.name] = entry
            if entry.args:
                setattr(self, entry.name, self._method(entry))
            elif getattr(self, entry.name, None) != fn():
                raise NFRuntimeError(f"nf_{name}_{entry.name}() disagrees with the library manifest")
        # A library for the GPU alone answers log_prob(x) and friends there.
        for entry in entries:
            host = entry.name[len("cuda_"):] if entry.name.startswith("cuda_") else None
            if host and host not in self._entries:
                setattr(self, host, getattr(self, entry.name))

    @property
    def entries(self):
        """The names of the model's entries with arguments."""
        return [name for name, entry in self._entries.items() if entry.args]

    def __repr__(self):
        return (f"CompiledModel({self.name!r}, dtype={self.dtype.name}, dim={self.dim}, "
                f"latent_dim={self.latent_dim}, context_dim={self.context_dim})")

    # -- argument checks -------------------------------------------------
    def _width(self, width):
        return {"dim": self.dim, "latent_dim": self.latent_dim, "context_dim": self.context_dim, "1": 1}[width]

    def _rows(self, array, width, what):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{what} must be a numpy array of {self.dtype.name}, not {type(array).__name__}")
        if array.dtype != self.dtype:
            raise TypeError(f"{what} must have dtype {self.dtype.name} (model @{self.name}), not {array.dtype.name}")
        if array.ndim != 2 or array.shape[1] != width:
            raise ValueError(f"{what} must have shape (n, {width}), not {array.shape}")
        return np.ascontiguousarray(array)

    def _takes_context(self, context):
        """Whether the model takes a context; raises if `context` (given or
        None) says otherwise."""
        if self.context_dim == 0:
            if context is not None:
                raise ValueError(f"model @{self.name} takes no context")
            return False
        if context is None:
            raise ValueError(f"model @{self.name} needs a context of shape (n, {self.context_dim})")
        return True

    def _context(self, context, n):
        if not self._takes_context(context):
            return None
        context = self._rows(context, self.context_dim, "context")
        if context.shape[0] != n:
            raise ValueError(f"context has {context.shape[0]} rows, but the batch has {n}")
        return context

    @staticmethod
    def _count(n, what="n"):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{what} must be an integer, not {type(n).__name__}")
        if n < 0:
            raise ValueError(f"{what} must be >= 0, not {n}")
        return int(n)

    @classmethod
    def _paths(cls, k, what="k"):
        k = cls._count(k, what)
        if k < 1:
            raise ValueError(f"{what} must be >= 1")
        return k

    @staticmethod
    def _ptr(array):
        """The array's address; the fast path matters for batch-1 latency."""
        if array is None:
            return None
        try:
            return ctypes.addressof(ctypes.c_char.from_buffer(array))
        except (TypeError, ValueError):  # read-only or empty arrays
            return array.ctypes.data

    # -- the C ABI ---------------------------------------------------------
    def _method(self, entry):
        """A method calling `entry` with numpy arrays; its outputs are
        allocated here and returned (a tuple if there are several)."""
        parameters = entry.python_parameters()
        signature = inspect.Signature(parameters)

        invoke = self._invoke_device if any(a.role == "stream" for a in entry.args) else self._invoke

        def method(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return invoke(entry, bound.arguments)

        method.__name__ = entry.name
        method.__qualname__ = f"CompiledModel.{entry.name}"
        method.__signature__ = signature
        method.__doc__ = f"{entry.summary}\n\nCalls nf_{self.name}_{entry.name}."
        return method

    def _invoke(self, entry, values):
        # The batch size first: from the input rows, else the n argument.
        arrays = {}
        n = None
        for arg in entry.args:
            if arg.role == "rows":
                arrays[arg.name] = self._rows(values[arg.name], self._width(arg.width), arg.name)
                n = arrays[arg.name].shape[0]
        if n is None:
            n = self._count(values["n"])
        call, outputs = [], []
        for arg in entry.args:
            if arg.role == "rows":
                call.append(self._ptr(arrays[arg.name]))
            elif arg.role == "n":
                call.append(n)
            elif arg.role == "first_row":
                call.append(self._count(values[arg.name], arg.name))
            elif arg.role == "k":
                call.append(self._paths(values[arg.name], arg.name))
            elif arg.role in ("seed", "layer_seed"):
                call.append(values["seed"])
            elif arg.role == "ctx":
                call.append(self._ptr(self._context(values["context"], n)))
            else:
                width = self._width(arg.width)
                out = np.empty((n,) if arg.width == "1" else (n, width), self.dtype)
                outputs.append(out)
                call.append(self._ptr(out))
        rc = self._fn[entry.name](*call)
        if rc != 0:
            raise NFRuntimeError(f"nf_{self.name}_{entry.name} failed: {_ERRORS.get(rc, rc)}{self._message(rc)}")
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _message(self, rc):
        """The library's last error message for codes that set one."""
        error = getattr(self._lib, "nf_last_error_message", None)
        if rc < 4 or error is None:
            return ""
        error.restype = ctypes.c_char_p
        text = (error() or b"").decode(errors="replace")
        return f": {text}" if text else ""

    # -- device entries (the CUDA target) ----------------------------------
    def _invoke_device(self, entry, values):
        """`entry` on device arrays: CUDA arrays (`__cuda_array_interface__`
        or a CUDA DLPack producer: PyTorch, CuPy, JAX, ...) are passed as
        they are and the outputs are new arrays of the same kind; host
        arrays (numpy, or a CPU DLPack producer) are copied to the device
        and the outputs back, as numpy arrays or of the producer's kind."""
        # Scalar arguments are checked before anything goes to the device.
        paths = {arg.name: self._paths(values[arg.name], arg.name) for arg in entry.args if arg.role == "k"}
        first_rows = {arg.name: self._count(values[arg.name], arg.name) for arg in entry.args
                      if arg.role == "first_row"}
        stream = values.get("stream")
        inputs, outputs, context = {}, [], None
        try:
            n = None
            for arg in entry.args:
                if arg.role == "rows":
                    inputs[arg.name] = _DeviceRows.of(values[arg.name], self, self._width(arg.width), arg.name,
                                                      stream)
                    n = inputs[arg.name].n
            if n is None:
                n = self._count(values["n"])
            if self._takes_context(values.get("context")):
                context = _DeviceRows.of(values["context"], self, self.context_dim, "context", stream)
                if context.n != n:
                    raise ValueError(f"context has {context.n} rows, but the batch has {n}")
            # Outputs are of the kind of the first array given, else of
            # `like`, else numpy.
            like = next(iter(inputs.values()), context) or _DeviceRows.like(self, values.get("like"))
            call = []
            for arg in entry.args:
                if arg.role == "rows":
                    call.append(inputs[arg.name].pointer)
                elif arg.role == "n":
                    call.append(n)
                elif arg.role == "k":
                    call.append(paths[arg.name])
                elif arg.role == "first_row":
                    call.append(first_rows[arg.name])
                elif arg.role in ("seed", "layer_seed"):
                    call.append(values["seed"])
                elif arg.role == "ctx":
                    call.append(context.pointer if context is not None else None)
                elif arg.role == "stream":
                    call.append(stream)
                elif arg.role == "out":
                    out = like.new_output(n, None if arg.width == "1" else self._width(arg.width))
                    outputs.append(out)
                    call.append(out.pointer)
                else:
                    raise NFRuntimeError(f"unexpected argument role {arg.role!r} of a device entry")
            rc = self._fn[entry.name](*call)
            if rc != 0:
                raise NFRuntimeError(f"nf_{self.name}_{entry.name} failed: {_ERRORS.get(rc, rc)}: "
                                     f"{self._device.last_error()}")
            results = [out.result() for out in outputs]
        finally:
            for rows in [*inputs.values(), context, *outputs]:
                if rows is not None:
                    rows.release()
        return results[0] if len(results) == 1 else tuple(results)


class _Device:
    """The library-level CUDA functions of a library with the CUDA target."""

    def __init__(self, lib):
        self.malloc = lib.nf_cuda_malloc
        self.malloc.argtypes, self.malloc.restype = [ctypes.POINTER(_PTR), _I64], ctypes.c_int
        self.free = lib.nf_cuda_free
        self.free.argtypes, self.free.restype = [_PTR], ctypes.c_int
        self.memcpy = lib.nf_cuda_memcpy
        self.memcpy.argtypes, self.memcpy.restype = [_PTR, _PTR, _I64, ctypes.c_int], ctypes.c_int
        self.error = lib.nf_last_error_message
        self.error.restype = ctypes.c_char_p

    def last_error(self):
        return (self.error() or b"").decode(errors="replace")

    def check(self, rc, what):
        if rc != 0:
            raise NFRuntimeError(f"{what} failed: {_ERRORS.get(rc, rc)}: {self.last_error()}")


class _DeviceRows:
    """Rows on the device for one call: a caller's CUDA array (passed as it
    is), or a host array copied there (and back, for outputs).

    Outputs are made like the call's first array (`like`): PyTorch or CuPy
    CUDA arrays are allocated by their library; other CUDA DLPack producers
    (JAX, ...) get device memory of ours, handed over through DLPack; host
    arrays get numpy results, converted back to a DLPack producer's kind."""

    def __init__(self, model, n, width, pointer, like=None, on_device=True, keep=None):
        self.model, self.n, self.width, self.pointer = model, n, width, pointer
        self.like, self.on_device, self.keep = like, on_device, keep
        self.host = None
        self.owned = False

    @classmethod
    def of(cls, array, model, width, what, stream=None):
        interface = getattr(array, "__cuda_array_interface__", None)
        if interface is not None:
            shape, typestr = tuple(interface["shape"]), interface["typestr"]
            strides = interface.get("strides")
            contiguous = strides is None or tuple(strides) == (width * model.dtype.itemsize, model.dtype.itemsize)
            cls._check(model, what, width, shape, np.dtype(typestr), contiguous)
            return cls(model, shape[0], width, interface["data"][0], like=array)
        if hasattr(array, "__dlpack__") and not isinstance(array, np.ndarray):
            tensor = dlpack.read(array, stream)
            if tensor.device_type == dlpack.CUDA:
                cls._check(model, what, width, tensor.shape, tensor.dtype, tensor.contiguous)
                return cls(model, tensor.shape[0], width, tensor.pointer, like=array, keep=tensor)
            if tensor.device_type != dlpack.CPU:
                raise TypeError(f"{what} is on DLPack device type {tensor.device_type}; pass CUDA or host arrays")
            host = model._rows(np.from_dlpack(array), width, what)
            like = array
        else:
            host, like = model._rows(array, width, what), None
        rows = cls.allocate(model, host.shape[0], width, like=like, on_device=False)
        model._device.check(model._device.memcpy(rows.pointer, host.ctypes.data, host.nbytes, 0),
                            f"copying {what} to the device")
        return rows

    @classmethod
    def like(cls, model, array):
        """No rows: only the kind of `array` (None: numpy) for outputs."""
        if array is None or isinstance(array, np.ndarray):
            return cls(model, 0, None, None)
        if hasattr(array, "__cuda_array_interface__"):
            return cls(model, 0, None, None, like=array)
        if hasattr(array, "__dlpack_device__"):
            return cls(model, 0, None, None, like=array, on_device=array.__dlpack_device__()[0] == dlpack.CUDA)
        raise TypeError(f"like must be a numpy, CUDA or DLPack array, not {type(array).__name__}")

    @staticmethod
    def _check(model, what, width, shape, dtype, contiguous):
        if dtype != model.dtype:
            raise TypeError(f"{what} must have dtype {model.dtype.name} (model @{model.name}), not "
                            f"{dtype.name if dtype is not None else 'a non-float type'}")
        if len(shape) != 2 or shape[1] != width:
            raise ValueError(f"{what} must have shape (n, {width}), not {shape}")
        if not contiguous:
            raise ValueError(f"{what} must be C-contiguous")

    @classmethod
    def allocate(cls, model, n, width, like=None, on_device=True):
        pointer = _PTR()
        size = n * (width or 1) * model.dtype.itemsize
        model._device.check(model._device.malloc(ctypes.byref(pointer), size), "nf_cuda_malloc")
        rows = cls(model, n, width, pointer.value, like=like, on_device=on_device)
        rows.owned = True
        return rows

    def new_output(self, n, width):
        """An output of the kind of these rows."""
        shape = (n,) if width is None else (n, width)
        if self.on_device and hasattr(self.like, "__cuda_array_interface__"):
            module = type(self.like).__module__.split(".")[0]
            if module == "torch":
                import torch

                out = torch.empty(shape, dtype=self.like.dtype, device=self.like.device)
                return _DeviceRows(self.model, n, width, out.__cuda_array_interface__["data"][0], like=out)
            if module == "cupy":
                import cupy

                out = cupy.empty(shape, dtype=self.like.dtype)
                return _DeviceRows(self.model, n, width, out.__cuda_array_interface__["data"][0], like=out)
        rows = _DeviceRows.allocate(self.model, n, width, like=self.like, on_device=self.on_device)
        if not self.on_device or self.like is None:
            rows.host = np.empty(shape, self.model.dtype)
        return rows

    def result(self):
        if self.host is not None:
            self.model._device.check(
                self.model._device.memcpy(self.host.ctypes.data, self.pointer, self.host.nbytes, 1),
                "copying a result from the device")
            return self.host if self.like is None else dlpack.from_dlpack_like(self.like, self.host)
        if not self.owned:
            return self.like
        # Our device memory, handed to the caller's library, which frees it.
        pointer, device = self.pointer, self.model._device
        shape = (self.n,) if self.width is None else (self.n, self.width)
        self.owned = False
        producer = dlpack.Exported(pointer, shape, self.model.dtype, dlpack.CUDA,
                                   self.like.__dlpack_device__()[1], free=lambda: device.free(pointer))
        try:
            return dlpack.from_dlpack_like(self.like, producer)
        except BaseException:
            if not producer.taken:
                device.free(pointer)
            raise

    def release(self):
        if self.owned and self.pointer:
            self.model._device.free(self.pointer)
            self.pointer = None
        self.keep = None


# Libraries this process has loaded: real path -> (device, inode) of the
# file then. The dynamic loader hands back an already-loaded library for the
# same path, so a path rewritten since (a new build in the same place) is
# loaded through a fresh alias instead.
_loaded = {}
_loaded_lock = threading.Lock()


def _open(path):
    real = os.path.realpath(path)
    stat = os.stat(real)
    key = (stat.st_dev, stat.st_ino)
    with _loaded_lock:
        previous = _loaded.get(real)
        if previous is None or previous == key:
            _loaded[real] = key
            return ctypes.CDLL(real)
        directory, base = os.path.split(real)
        alias = os.path.join(directory, f".{base}.{stat.st_ino}.{os.getpid()}.so")
        try:
            os.link(real, alias)
        except OSError:
            import shutil

            shutil.copyfile(real, alias)
        try:
            return ctypes.CDLL(alias)
        finally:
            os.unlink(alias)  # the mapping outlives the name


class Library:
    """A library written by nf-compile; `models` maps names to CompiledModel.

    With a single model, the library forwards log_prob, sample, ... to it.
    """

    def __init__(self, path):
        self.path = str(path)
        self._lib = _open(self.path)
        try:
            symbol = getattr(self._lib, "nf_library_manifest")
        except AttributeError:
            raise NFRuntimeError(f"{self.path} was not written by nf-compile (no nf_library_manifest)") from None
        # A char array: read the string at the symbol's address.
        text = ctypes.string_at(ctypes.cast(symbol, _PTR).value)
        self.models = {}
        device = _Device(self._lib) if hasattr(self._lib, "nf_cuda_malloc") else None
        for name, (fields, entries) in _parse_manifest((text or b"").decode()).items():
            self.models[name] = CompiledModel(self._lib, name, fields, entries, self.path, device)
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
