"""Read a PyTorch `.pth` state dict into NumPy arrays without PyTorch and without running pickled code.

`torch.load` unpickles, and an unpickler imports and calls whatever the file names: a
weights file from the internet can run any code. This reader accepts only what a state
dict of tensors is made of (an `OrderedDict`, tensor storages, `torch._utils._rebuild_tensor_v2`
and `_rebuild_parameter`) and refuses every other global with one line naming the file
and the global, before anything is called. Both on-disk layouts are read:

- the zip layout (PyTorch >= 1.6): `<archive>/data.pkl` plus one raw file per storage
  under `<archive>/data/<key>`;
- the legacy layout (PyTorch < 1.6, e.g. torchvision's `mobilenet_v2-b0353104.pth`): five
  pickles in a row (magic number, protocol version, system info, the object, the storage
  keys), then each storage as an 8-byte element count and its raw little-endian bytes.

A truncated or damaged file, or one that is not a state dict of tensors, is a
`WeightsError` (one line naming the file).

    >>> state = read_state_dict("mobilenet_v2-b0353104.pth")
    >>> state["features.0.0.weight"].shape
    (32, 3, 3, 3)
"""
from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from deepfake_edge.runtime.errors import InputError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
MAX_WEIGHTS_BYTES = 512 * 1024 * 1024  # a MobileNet is 14 MB; refuse to read a 'weights' file of gigabytes

# torch storage class name -> NumPy dtype (little-endian, as PyTorch writes them)
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"), "DoubleStorage": np.dtype("<f8"), "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"), "IntStorage": np.dtype("<i4"), "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"), "ByteStorage": np.dtype("u1"), "BoolStorage": np.dtype("?"),
}


class WeightsError(InputError):
    """A weights file that cannot be read safely or is not what it claims to be."""


class _StorageType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class _StorageRef:
    """A storage named by a pickle before its bytes are known (legacy files store them after it)."""

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.data: np.ndarray | None = None


class _TensorRef:
    def __init__(self, storage: _StorageRef, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialise(self, where: str, name: str) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise WeightsError(f"{where}: tensor {name!r} points at storage {self.storage.key!r}, which the file lacks")
        if not self.size:
            return np.array(data[self.offset], copy=True)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or last >= data.size or any(s < 0 for s in self.stride):
            raise WeightsError(f"{where}: tensor {name!r} reaches past its storage (truncated or damaged file)")
        view = np.lib.stride_tricks.as_strided(data[self.offset:], self.size,
                                               tuple(s * data.itemsize for s in self.stride), writeable=False)
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError("a tensor whose storage is not a plain storage")
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *args):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names a tensor state dict needs (never imports)."""

    def __init__(self, file, storages: dict[str, _StorageRef]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load the global {module}.{name}: a weights file must hold "
                                         "tensors only, never code") from None

    def persistent_load(self, pid):
        # legacy: ('storage', type, key, location, numel, view_metadata); zip: ('storage', type, key, location, numel)
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or not isinstance(pid[1], _StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:60]!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        key = str(pid[2])
        ref = self.storages.get(key)
        if ref is None:
            ref = self.storages[key] = _StorageRef(key, pid[1].dtype, int(pid[4]))
        return ref


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The `{name: array}` state dict stored in a `.pth` file (zip or legacy layout); WeightsError otherwise."""
    path = Path(path)
    where = str(path)
    try:
        if not path.is_file():
            raise WeightsError(f"{where}: weights file not found" if not path.exists()
                               else f"{where}: not a regular file")
        size = path.stat().st_size
        if size > MAX_WEIGHTS_BYTES:
            raise WeightsError(f"{where}: {size / 2**20:.0f} MB is larger than any supported weights file "
                               f"({MAX_WEIGHTS_BYTES / 2**20:.0f} MB)")
        raw = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"{where}: cannot read ({exc.strerror or type(exc).__name__})") from None
    storages: dict[str, _StorageRef] = {}
    try:
        obj = _read_zip(raw, storages) if zipfile.is_zipfile(io.BytesIO(raw)) else _read_legacy(raw, storages)
    except WeightsError as exc:
        raise WeightsError(f"{where}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError, KeyError, IndexError,
            AttributeError, zipfile.BadZipFile) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, (EOFError, struct.error)):
            text = "the file ends early (truncated download?)"
        raise WeightsError(f"{where}: not a readable PyTorch weights file ({text})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, _TensorRef) for v in obj.values()):
        raise WeightsError(f"{where}: does not hold a state dict of tensors")
    return {str(name): ref.materialise(where, name) for name, ref in obj.items()}


def _read_zip(raw: bytes, storages: dict[str, _StorageRef]):
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        pickles = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise WeightsError("zip holds no single data.pkl (not a PyTorch weights file)")
        prefix = pickles[0][: -len("data.pkl")]
        obj = _SafeUnpickler(io.BytesIO(zf.read(pickles[0])), storages).load()
        for key, ref in storages.items():
            name = f"{prefix}data/{key}"
            try:
                blob = zf.read(name)
            except KeyError:
                raise WeightsError(f"storage {key!r} is missing from the archive (truncated or damaged file)") from None
            ref.data = _storage_array(blob, ref)
    return obj


def _read_legacy(raw: bytes, storages: dict[str, _StorageRef]):
    f = io.BytesIO(raw)
    plain = _SafeUnpickler(f, {})  # the header pickles hold plain numbers and a dict, nothing to resolve
    if plain.load() != LEGACY_MAGIC:
        raise WeightsError("not a PyTorch weights file (no zip archive and no legacy magic number)")
    plain.load()  # protocol version
    plain.load()  # system info (endianness, type sizes)
    obj = _SafeUnpickler(f, storages).load()
    keys = _SafeUnpickler(f, {}).load()
    if not isinstance(keys, list):
        raise WeightsError("the storage key list is damaged")
    for key in keys:
        ref = storages.get(str(key))
        head = f.read(8)
        if len(head) < 8:
            raise EOFError
        (numel,) = struct.unpack("<q", head)
        if ref is None or numel != ref.numel:
            raise WeightsError(f"storage {key!r} has {numel} elements where the pickle says "
                               f"{ref.numel if ref else 'none'} (damaged file)")
        blob = f.read(numel * ref.dtype.itemsize)
        ref.data = _storage_array(blob, ref)
    return obj


def _storage_array(blob: bytes, ref: _StorageRef) -> np.ndarray:
    if len(blob) < ref.numel * ref.dtype.itemsize:
        raise WeightsError(f"storage {ref.key!r} ends early (truncated download?)")
    return np.frombuffer(blob, ref.dtype, count=ref.numel)


def port_state_dict(model, state: dict[str, np.ndarray], where: str, *, torch_name, network: str
                    ) -> dict[str, list[np.ndarray]]:
    """PyTorch state dict -> `{keras layer name: [arrays in Keras' order]}` for `model`'s layers.

    `torch_name(keras_layer_name)` gives the layer's parameter prefix in the state dict (each
    ported network names its Keras layers after the PyTorch modules). Every convolution,
    BatchNorm and dense layer of `model` must find its parameters with the right shapes
    (WeightsError naming the first that does not, and `network`, what the file should have
    held); a features-only `model` leaves the state dict's classifier unused.
    """
    import keras

    def take(key: str) -> np.ndarray:
        try:
            return np.asarray(state[key], np.float32)
        except KeyError:
            raise WeightsError(f"{where}: no parameter {key!r} (not {network} weights)") from None

    ported: dict[str, list[np.ndarray]] = {}
    for layer in model.layers:
        prefix = torch_name(layer.name)
        if isinstance(layer, keras.layers.DepthwiseConv2D):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            arrays = [take(prefix + ".weight").transpose(2, 3, 0, 1)]
        elif isinstance(layer, keras.layers.Conv2D):  # (out, in, kh, kw) -> (kh, kw, in, out)
            arrays = [take(prefix + ".weight").transpose(2, 3, 1, 0)]
        elif isinstance(layer, keras.layers.BatchNormalization):
            arrays = [take(prefix + suffix) for suffix in (".weight", ".bias", ".running_mean", ".running_var")]
        elif isinstance(layer, keras.layers.Dense):
            arrays = [take(prefix + ".weight").T, take(prefix + ".bias")]
        else:
            continue
        expected = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != expected:
            raise WeightsError(f"{where}: {prefix} has shapes {[a.shape for a in arrays]}, the network expects "
                               f"{expected} (weights of another network?)")
        ported[layer.name] = [np.ascontiguousarray(a, np.float32) for a in arrays]
    return ported
