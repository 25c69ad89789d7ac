"""The pretrained GE2E voice encoder's weights, read without torch.

``resemblyzer``'s wheel ships ``pretrained.pt`` (Apache-2.0), a checkpoint in torch's legacy
(pre-zip) serialization: a few pickles, then every tensor storage as an element count and raw
little-endian bytes. Reading it ourselves keeps torch (hundreds of MB resident) out of the
server, and a restricted unpickler means the file can name nothing but tensors and dicts.
We locate the package without importing it (its ``__init__`` imports torch and librosa).
"""

from __future__ import annotations

import importlib.util
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from loquilex.errors import ModelError

__all__ = ["encoder_weights_path", "read_legacy_checkpoint"]

_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


def encoder_weights_path() -> Path | None:
    """``pretrained.pt`` of the installed ``resemblyzer`` package, or None."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "pretrained.pt"
        if path.is_file():
            return path
    return None


@dataclass(slots=True)
class _Storage:
    dtype: type[np.generic]
    numel: int
    data: npt.NDArray[Any] | None = None


@dataclass(slots=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> npt.NDArray[Any]:
        assert self.storage.data is not None
        if not self.shape:
            return self.storage.data[self.offset : self.offset + 1].reshape(())
        item = self.storage.data.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :],
            shape=self.shape,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.array(view)  # own, contiguous copy


def _rebuild_tensor(storage: _Storage, offset: int, shape: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _DTYPES[name]


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}, which is not read")

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if key not in self._storages:
            self._storages[key] = _Storage(storage_type.dtype, int(numel))
        return self._storages[key]


def _materialise(value: Any) -> Any:
    if isinstance(value, _TensorRef):
        return value.array()
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_materialise(v) for v in value)
    return value


def read_legacy_checkpoint(path: Path) -> dict[str, Any]:
    """A legacy-format torch checkpoint as nested dicts of numpy arrays."""
    try:
        with path.open("rb") as f:
            storages: dict[str, _Storage] = {}

            def load() -> Any:
                return _Unpickler(f, storages).load()

            if load() != _MAGIC:
                raise ModelError(f"{path} is not a legacy torch checkpoint")
            load()  # protocol version
            sys_info = load()
            if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
                raise ModelError(f"{path} was not written little-endian")
            result = load()
            for key in load():  # the storage keys, in file order
                storage = storages[key]
                count = int(np.frombuffer(f.read(8), "<i8")[0])
                raw = f.read(count * np.dtype(storage.dtype).itemsize)
                storage.data = np.frombuffer(raw, storage.dtype)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError, IndexError) as exc:
        raise ModelError(f"cannot read the voice encoder weights {path}: {exc}") from exc
    if not isinstance(result, dict):
        raise ModelError(f"{path} does not hold a dict")
    return dict(_materialise(result))
