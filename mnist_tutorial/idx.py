"""Read and write IDX files, the format MNIST and Fashion-MNIST ship in (optionally gzipped).

An IDX file is 4 magic bytes (0, 0, type code, number of dimensions), one big-endian uint32 size per
dimension, then the data. MNIST uses type 0x08 (unsigned byte): images are (N, 28, 28), labels (N,).
"""

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from .errors import DataError
from .files import write_bytes_atomic

UBYTE = 0x08
REDOWNLOAD = "delete it so it is downloaded again, or use --source sample"


def _read_raw(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not an IDX file: check the path") from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}: check the path and its permissions") from None
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        raise DataError(f"{path} is not a valid gzip file (truncated or corrupt): {REDOWNLOAD}") from None


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Decode an IDX file of unsigned bytes into a uint8 tensor with the shape its header gives."""
    path = Path(path)
    data = _read_raw(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != UBYTE or not 1 <= data[3] <= 4:
        magic = data[:4].hex() or "empty"
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (magic 0x{magic}, expected 0x000008 followed "
            f"by 01-04): {REDOWNLOAD}"
        )
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{path} is truncated inside its header: {REDOWNLOAD}")
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = math.prod(shape)
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise DataError(
            f"{path} is {problem}: its header promises {expected} bytes of data for shape "
            f"{tuple(shape)}, but it holds {actual}: {REDOWNLOAD}"
        )
    body = np.frombuffer(data, dtype=np.uint8, offset=header_size)
    return torch.from_numpy(body.copy()).view(*shape)


def write_idx(path: str | os.PathLike, array: np.ndarray | torch.Tensor) -> None:
    """Write a uint8 array as an IDX file, gzipped when the name ends in .gz."""
    values = np.ascontiguousarray(np.asarray(array), dtype=np.uint8)
    header = bytes([0, 0, UBYTE, values.ndim]) + b"".join(n.to_bytes(4, "big") for n in values.shape)
    data = header + values.tobytes()
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(path, data)
