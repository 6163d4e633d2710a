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


def _read_raw(path: Path, fix: str) -> bytes:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not an IDX file: check the path") from None
    except FileNotFoundError:
        raise DataError(f"{path} does not exist: check the path") from None
    except OSError as error:
        raise DataError(f"cannot read {path} ({error.strerror}): check the path and its permissions") from None
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        raise DataError(f"{path} is not a valid gzip file (truncated or corrupt): {fix}") from None


def _shape(path: Path, data: bytes, fix: str) -> tuple[int, ...]:
    """The shape in the header, after checking the magic number and that the header is complete."""
    if not data:
        raise DataError(f"{path} is empty: {fix}")
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != UBYTE or not 1 <= data[3] <= 4:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (magic number 0x{data[:4].hex()}, expected 0x000008 "
            f"followed by 01-04): {fix}"
        )
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated inside its header: {fix}")
    return tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))


def read_idx(path: str | os.PathLike, *, fix: str = REDOWNLOAD) -> torch.Tensor:
    """Decode an IDX file of unsigned bytes into a uint8 tensor with the shape its header gives.

    Raises DataError, whose message names the file and ends with `fix`, for anything else.
    """
    path = Path(path)
    data = _read_raw(path, fix)
    shape = _shape(path, data, fix)
    header_size = 4 + 4 * len(shape)
    expected = math.prod(shape)
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise DataError(
            f"{path} is {problem}: its header promises {expected} bytes of data for shape "
            f"{shape}, but it holds {actual}: {fix}"
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
