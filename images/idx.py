"""Reader and writer for the IDX format of (Fashion-)MNIST: a 4-byte magic (0, 0, dtype code, ndim),
ndim big-endian uint32 dimensions, then the array in C order, big-endian. Files may be gzip-compressed."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from disco_core.errors import InputError
from disco_core.io import atomic_write_bytes

IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into an array of its shape and dtype."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise InputError(source, "not an IDX file (bad magic number)")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise InputError(source, f"unknown IDX element type 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(source, "truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise InputError(source, f"IDX payload has {len(data) - header} bytes, shape {shape} needs {expected}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file; `.gz` files are decompressed."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "IDX file not found")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as exc:
        raise InputError(str(path), f"cannot read ({exc.__class__.__name__}: {exc})") from None
    return parse_idx(raw, str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of `array` (uint8, int8, int16, int32, float32 or float64)."""
    array = np.asarray(array)
    for code, dtype in IDX_DTYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            return header + np.ascontiguousarray(array, dtype=dtype).tobytes()
    raise ValueError(f"IDX cannot store dtype {array.dtype}")


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write `array` as IDX (gzip-compressed when the name ends in .gz), atomically."""
    data = encode_idx(array)
    atomic_write_bytes(path, gzip.compress(data) if str(path).endswith(".gz") else data)
