"""PyTorch state dicts are read into NumPy without torch, strides honoured, bad files refused.

Small files in both of torch's formats are written here by hand (with a stand-in
``torch`` module, so pickle can name torch's functions), so the reader is
checked against known arrays, non-contiguous ones included.
"""

import collections
import io
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
import pytest

from utils import torch_weights


class _StorageRef:
    def __init__(self, key, array):
        self.key, self.array = key, array


@pytest.fixture
def fake_torch(monkeypatch):
    """A stand-in ``torch`` module, so pickle writes the globals torch writes."""
    torch = types.ModuleType("torch")
    torch_utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called: only written")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    storages = {}
    for name in ("FloatStorage", "LongStorage"):
        cls = type(name, (), {})
        cls.__module__ = "torch"
        setattr(torch, name, cls)
        storages[name] = cls
    torch._utils = torch_utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", torch_utils)
    return torch, storages


class _Tensor:
    """Pickles like a torch tensor: ``_rebuild_tensor_v2(storage, offset, size, stride, ...)``."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict())


def _pickler(handle, storage_classes):
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageRef):
                kind = "LongStorage" if obj.array.dtype == np.int64 else "FloatStorage"
                return ("storage", storage_classes[kind], obj.key, "cpu", obj.array.size)
            return None

    return Pickler(handle, protocol=2)


def _state(storage_classes):
    """A state dict with a permuted (non-contiguous) conv kernel, an offset view and a scalar."""
    base = np.arange(24, dtype=np.float32)
    kernel = _StorageRef("0", base)
    # shape (2, 3, 2, 2) laid out as if transposed: strides (1, 2, 12, 6) over 24 elements
    counter = _StorageRef("1", np.array([7], dtype=np.int64))
    shared = _StorageRef("2", np.arange(10, dtype=np.float32))
    state = collections.OrderedDict([
        ("conv.weight", _Tensor(kernel, 0, (2, 3, 2, 2), (1, 2, 12, 6))),
        ("bn.num_batches_tracked", _Tensor(counter, 0, (), ())),
        ("bias", _Tensor(shared, 4, (3,), (2,))),
    ])
    expected = {
        "conv.weight": np.lib.stride_tricks.as_strided(base, (2, 3, 2, 2), tuple(4 * s for s in (1, 2, 12, 6))),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
        "bias": np.array([4.0, 6.0, 8.0], dtype=np.float32),
    }
    return state, [kernel, counter, shared], expected


def _write_legacy(path, state, storages, storage_classes):
    with open(path, "wb") as handle:
        pickle.dump(torch_weights.LEGACY_MAGIC_NUMBER, handle, protocol=2)
        pickle.dump(torch_weights.LEGACY_PROTOCOL_VERSION, handle, protocol=2)
        pickle.dump({"little_endian": True}, handle, protocol=2)
        _pickler(handle, storage_classes).dump(state)
        pickle.dump([s.key for s in storages], handle, protocol=2)
        for storage in storages:
            handle.write(struct.pack("<q", storage.array.size))
            handle.write(storage.array.astype(storage.array.dtype.newbyteorder("<")).tobytes())


def _write_zip(path, state, storages, storage_classes):
    buffer = io.BytesIO()
    _pickler(buffer, storage_classes).dump(state)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())


@pytest.mark.parametrize("writer", [_write_legacy, _write_zip], ids=["legacy", "zip"])
def test_both_formats_read_with_their_strides(tmp_path, fake_torch, writer):
    _, storage_classes = fake_torch
    state, storages, expected = _state(storage_classes)
    path = tmp_path / "model.pth"
    writer(path, state, storages, storage_classes)
    read = torch_weights.read_state_dict_numpy(path)
    assert list(read) == list(expected)
    for name, want in expected.items():
        assert read[name].shape == want.shape and read[name].dtype == want.dtype, name
        np.testing.assert_array_equal(read[name], want)
    assert read["conv.weight"].flags["C_CONTIGUOUS"]
    # the permuted layout really differs from a plain reshape: strides were needed
    assert not np.array_equal(read["conv.weight"], np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2))


def test_bad_files_are_refused(tmp_path, fake_torch):
    with pytest.raises(FileNotFoundError):
        torch_weights.read_state_dict_numpy(tmp_path / "missing.pth")
    not_torch = tmp_path / "other.pth"
    with open(not_torch, "wb") as handle:
        pickle.dump(12345, handle)
    with pytest.raises(ValueError, match="magic number"):
        torch_weights.read_state_dict_numpy(not_torch)
    _, storage_classes = fake_torch
    state, storages, _ = _state(storage_classes)
    truncated = tmp_path / "truncated.pth"
    _write_legacy(truncated, state, storages, storage_classes)
    truncated.write_bytes(truncated.read_bytes()[:-8])
    with pytest.raises(ValueError, match="truncated"):
        torch_weights.read_state_dict_numpy(truncated)


def test_a_view_past_its_storage_is_refused():
    storage = torch_weights._Storage("0", np.float32, 4)
    storage.data = np.arange(4, dtype=np.float32)
    with pytest.raises(ValueError, match="runs past"):
        torch_weights._LazyTensor(storage, 2, (2, 2), (2, 1)).to_numpy()


def test_torch_and_numpy_readers_agree_when_torch_is_installed():
    """Optional: runs only where torch is importable (the course never needs it)."""
    pytest.importorskip("torch")
    from utils import lite0_weights

    path = lite0_weights.state_dict_path()
    ours = torch_weights.read_state_dict(path, use_torch=False)
    theirs = torch_weights.read_state_dict(path, use_torch=True)
    assert list(ours) == list(theirs)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
