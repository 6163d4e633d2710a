"""Read and write IDX files, the format MNIST and Fashion-MNIST ship in (optionally gzipped).

An IDX file is 4 magic bytes (0, 0, type code, number of dimensions), one big-endian uint32 size per
dimension, then the data. MNIST uses type 0x08 (unsigned byte): images are (N, 28, 28), labels (N,).
"""

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from ..errors import DataError
from ..files import write_bytes_atomic

UBYTE = 0x08
REDOWNLOAD = 'delete it so it is downloaded again, or use `source="sample"`'


def _open(path: Path) -> BinaryIO:
    """`path` opened for reading, decompressing on the fly if gzipped, or a DataError naming the problem."""
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not an IDX file: check the path") from None
    except FileNotFoundError:
        raise DataError(f"{path} does not exist: check the path") from None
    except OSError as error:
        raise DataError(f"cannot read {path} ({error.strerror}): check the path and its permissions") from None


def _header(path: Path, stream: BinaryIO, fix: str) -> tuple[int, ...]:
    """The shape in the header, after checking the magic number and that the header is complete."""
    magic = stream.read(4)
    if not magic:
        raise DataError(f"{path} is empty: {fix}")
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] != UBYTE or not 1 <= magic[3] <= 4:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (magic number 0x{magic.hex()}, expected 0x000008 "
            f"followed by 01-04): {fix}"
        )
    sizes = stream.read(4 * magic[3])
    if len(sizes) < 4 * magic[3]:
        raise DataError(f"{path} is truncated inside its header: {fix}")
    return tuple(int.from_bytes(sizes[i : i + 4], "big") for i in range(0, len(sizes), 4))


def _check_shape(path: Path, shape: tuple[int, ...], max_items: int | None, item_shape: tuple[int, ...] | None, fix):
    """Refuse a shape beyond what the dataset can hold, before a single byte of the body is read."""
    if item_shape is not None and tuple(shape[1:]) != tuple(item_shape):
        wanted = "(N, " + ", ".join(map(str, item_shape)) + ")" if item_shape else "(N,)"
        raise DataError(f"{path} holds data of shape {shape}, not {wanted}: {fix}")
    if max_items is not None and shape[0] > max_items:
        raise DataError(f"{path} claims {shape[0]:,} items, more than the {max_items:,} this split can hold: {fix}")


def read_idx(
    path: str | os.PathLike,
    *,
    max_items: int | None = None,
    item_shape: tuple[int, ...] | None = None,
    fix: str = REDOWNLOAD,
) -> torch.Tensor:
    """Decode an IDX file of unsigned bytes into a uint8 tensor with the shape its header gives.

    The file is read as a stream: the header is checked (against `max_items` and `item_shape` when given)
    before the body is decompressed, and no more bytes are read than the header promises, plus one.
    Raises DataError, whose message names the file and ends with `fix`, for anything else.
    """
    path = Path(path)
    try:
        with _open(path) as stream:
            shape = _header(path, stream, fix)
            _check_shape(path, shape, max_items, item_shape, fix)
            expected = math.prod(shape)
            body = read_at_most(stream, expected)
            longer = bool(stream.read(1))
    except (OSError, EOFError, zlib.error) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path} is not a valid gzip file (truncated or corrupt): {fix}") from None
    if len(body) != expected or longer:
        problem = "longer than its header says" if longer else "truncated"
        actual = f"at least {expected + 1}" if longer else str(len(body))
        raise DataError(
            f"{path} is {problem}: its header promises {expected} bytes of data for shape {shape}, but it holds "
            f"{actual}: {fix}"
        )
    return torch.from_numpy(np.frombuffer(body, dtype=np.uint8).copy()).view(*shape)


def read_at_most(stream: BinaryIO, size: int, chunk: int = 1 << 20) -> bytes:
    """Up to `size` bytes from `stream`, in chunks: memory grows with what the file holds, not what it claims."""
    parts, left = [], size
    while left > 0 and (part := stream.read(min(chunk, left))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def write_idx(path: str | os.PathLike, array: np.ndarray | torch.Tensor) -> None:
    """Write a uint8 array as an IDX file, gzipped when the name ends in .gz."""
    values = np.ascontiguousarray(np.asarray(array), dtype=np.uint8)
    header = bytes([0, 0, UBYTE, values.ndim]) + b"".join(n.to_bytes(4, "big") for n in values.shape)
    data = header + values.tobytes()
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(path, data)
