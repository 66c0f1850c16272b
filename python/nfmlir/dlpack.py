"""DLPack, both ways, with ctypes: reading the tensor behind another
library's `__dlpack__` capsule, and handing memory the library allocated to
another library through a capsule of its own (the receiver frees it through
the deleter). The layout is dlpack.h's (v0.8, the unversioned
`DLManagedTensor` every library exchanges as a "dltensor" capsule)."""

import ctypes
import sys
import threading

import numpy as np

CPU, CUDA = 1, 2  # DLDeviceType: kDLCPU, kDLCUDA
_FLOAT = 2  # DLDataTypeCode: kDLFloat


class _Device(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _Device), ("ndim", ctypes.c_int32),
                ("dtype", _DataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _ManagedTensor(ctypes.Structure):
    pass


_Deleter = ctypes.CFUNCTYPE(None, ctypes.POINTER(_ManagedTensor))
_ManagedTensor._fields_ = [("dl_tensor", _Tensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _Deleter)]

_api = ctypes.pythonapi
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_CapsuleDestructor = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _CapsuleDestructor]
_NAME = b"dltensor"


class Rows:
    """A 2-D or 1-D C-contiguous float tensor read from a DLPack capsule:
    its address, shape, dtype and device type. `capsule` keeps the producer's
    memory alive; dropping it (unconsumed) calls the producer's deleter."""

    def __init__(self, capsule):
        self.capsule = capsule
        tensor = _ManagedTensor.from_address(_api.PyCapsule_GetPointer(capsule, _NAME)).dl_tensor
        self.device_type = tensor.device.device_type
        self.shape = tuple(tensor.shape[i] for i in range(tensor.ndim))
        if tensor.dtype.code != _FLOAT or tensor.dtype.lanes != 1 or tensor.dtype.bits not in (32, 64):
            self.dtype = None
        else:
            self.dtype = np.dtype(np.float32 if tensor.dtype.bits == 32 else np.float64)
        self.contiguous = True
        if tensor.strides:  # NULL strides mean C order
            expected = 1
            for i in reversed(range(tensor.ndim)):
                if self.shape[i] != 1 and tensor.strides[i] != expected:
                    self.contiguous = False
                expected *= self.shape[i]
        self.pointer = (tensor.data or 0) + tensor.byte_offset


def read(obj, stream=None):
    """The tensor behind `obj.__dlpack__()`; for CUDA tensors the producer
    makes its work visible on `stream` (an int CUstream; None: the legacy
    default stream), as the protocol says."""
    device_type, _ = obj.__dlpack_device__()
    if device_type == CUDA:
        capsule = obj.__dlpack__(stream=1 if stream is None else stream)
    else:
        capsule = obj.__dlpack__()
    return Rows(capsule)


# Tensors handed out and not yet freed by their receiver: address of the
# DLManagedTensor -> (the struct and its shape array, the free function).
_exported = {}
_exported_lock = threading.Lock()


@_Deleter
def _delete(managed):
    address = ctypes.addressof(managed.contents)
    with _exported_lock:
        entry = _exported.pop(address, None)
    if entry is not None and entry[2] is not None:
        entry[2]()


# The capsule functions on a raw PyObject*: a capsule's destructor runs at
# refcount zero, where a Python reference to it must not be taken.
_capsule_is_valid = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_IsValid", ctypes.pythonapi))
_capsule_get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


@_CapsuleDestructor
def _destroy_capsule(capsule):
    # A capsule nobody consumed (still named "dltensor") owns its tensor;
    # a receiver renames the capsule and calls the deleter itself.
    if _capsule_is_valid(capsule, _NAME):
        _delete(ctypes.cast(_capsule_get_pointer(capsule, _NAME), ctypes.POINTER(_ManagedTensor)))


class Exported:
    """Memory at `pointer` (`shape`, `dtype`, on `device_type`) as a DLPack
    producer: `__dlpack__` hands it to one receiver, which calls `free`
    (through the deleter) when it no longer needs it."""

    def __init__(self, pointer, shape, dtype, device_type, device_id=0, free=None):
        self.pointer, self.shape, self.dtype = pointer, tuple(shape), np.dtype(dtype)
        self.device_type, self.device_id, self.free = device_type, device_id, free
        self.taken = False

    def __dlpack_device__(self):
        return (self.device_type, self.device_id)

    def __dlpack__(self, stream=None):
        if self.taken:
            raise RuntimeError("this tensor was already handed to a receiver")
        self.taken = True
        managed = _ManagedTensor()
        shape = (ctypes.c_int64 * max(len(self.shape), 1))(*self.shape)
        tensor = managed.dl_tensor
        tensor.data = self.pointer
        tensor.device = _Device(self.device_type, self.device_id)
        tensor.ndim = len(self.shape)
        tensor.dtype = _DataType(_FLOAT, self.dtype.itemsize * 8, 1)
        tensor.shape = shape
        tensor.strides = None  # C order
        tensor.byte_offset = 0
        managed.manager_ctx = None
        managed.deleter = _delete
        with _exported_lock:
            _exported[ctypes.addressof(managed)] = (managed, shape, self.free)
        return _api.PyCapsule_New(ctypes.addressof(managed), _NAME, _destroy_capsule)


def from_dlpack_like(like, producer):
    """`producer`'s tensor as an object of `like`'s library, through that
    library's from_dlpack (its top-level module's, else its array API
    namespace's)."""
    module = sys.modules.get(type(like).__module__.split(".")[0])
    convert = getattr(module, "from_dlpack", None)
    if convert is None and hasattr(like, "__array_namespace__"):
        convert = getattr(like.__array_namespace__(), "from_dlpack", None)
    if convert is None:
        raise TypeError(f"cannot return results like {type(like).__name__}: its library has no from_dlpack")
    return convert(producer)
