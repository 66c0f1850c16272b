"""nfmlir.dlpack against PyTorch's and numpy's DLPack: the tensor read from
a producer's capsule, and memory handed to a receiver that frees it through
the deleter exactly once (also when nobody consumes the capsule)."""

import gc

import numpy as np
import pytest

from nfmlir import dlpack

torch = pytest.importorskip("torch")


def test_read_torch_tensors():
    t = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    rows = dlpack.read(t)
    assert (rows.shape, rows.dtype, rows.device_type, rows.contiguous) == ((4, 3), np.float32, dlpack.CPU, True)
    assert rows.pointer == t.data_ptr()
    assert dlpack.read(t[1:]).pointer == t.data_ptr() + 12  # byte_offset or data, either way
    assert not dlpack.read(t.t()).contiguous
    assert dlpack.read(t.double()).dtype == np.float64
    assert dlpack.read(t.to(torch.int32)).dtype is None


@pytest.mark.parametrize("receiver", ["torch", "numpy"])
def test_export_is_freed_once_by_the_receiver(receiver):
    buffer = np.arange(6, dtype=np.float64)
    freed = []
    producer = dlpack.Exported(buffer.ctypes.data, (2, 3), np.float64, dlpack.CPU, free=lambda: freed.append(1))
    got = torch.from_dlpack(producer) if receiver == "torch" else np.from_dlpack(producer)
    np.testing.assert_array_equal(np.asarray(got), buffer.reshape(2, 3))
    assert freed == []
    with pytest.raises(RuntimeError, match="already handed"):
        producer.__dlpack__()
    del got
    gc.collect()
    assert freed == [1]


def test_unconsumed_capsule_frees():
    freed = []
    buffer = np.zeros(4, np.float32)
    capsule = dlpack.Exported(buffer.ctypes.data, (4,), np.float32, dlpack.CPU,
                              free=lambda: freed.append(1)).__dlpack__()
    del capsule
    gc.collect()
    assert freed == [1]


def test_from_dlpack_like_uses_the_library_of_the_example():
    buffer = np.arange(3, dtype=np.float32)
    got = dlpack.from_dlpack_like(torch.zeros(1), dlpack.Exported(buffer.ctypes.data, (3,), np.float32, dlpack.CPU))
    assert isinstance(got, torch.Tensor)
    with pytest.raises(TypeError, match="no from_dlpack"):
        dlpack.from_dlpack_like(object(), buffer)
