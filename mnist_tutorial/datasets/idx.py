"""Read and write IDX files, the format MNIST ships in, optionally gzipped.

An IDX file is 4 magic bytes (0, 0, type code, number of dimensions), one big-endian uint32 size per
dimension, then the data. MNIST uses type 0x08 (unsigned byte): images are (N, 28, 28), labels (N,).
Not torchvision's reader, which reads a whole file (a gzip bomb too) before it looks at the header.
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


def read_idx(
    path: str | os.PathLike,
    *,
    max_items: int | None = None,
    item_shape: tuple[int, ...] | None = None,
    fix: str = REDOWNLOAD,
) -> torch.Tensor:
    """Decode an IDX file of unsigned bytes: a uint8 tensor of the shape its header gives.

    The header is checked (against `max_items` and `item_shape` when given) before the body is read, and no
    more is read than the header promises, plus one byte. Anything wrong: a DataError naming the file, ending in `fix`.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as stream:
            shape = read_shape(path, stream, fix)
            if item_shape is not None and shape[1:] != tuple(item_shape):
                wanted = "(N, " + ", ".join(map(str, item_shape)) + ")" if item_shape else "(N,)"
                raise DataError(f"{path} holds data of shape {shape}, not {wanted}: {fix}")
            if max_items is not None and shape[0] > max_items:
                claim = f"{path} claims {shape[0]:,} items, more than the {max_items:,} this split can hold"
                raise DataError(f"{claim}: {fix}")
            expected = math.prod(shape)
            body = read_at_most(stream, expected)
            longer = bool(stream.read(1))
    except DataError:  # an OSError too
        raise
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path} {why_unreadable(error, fix)}") from None
    if len(body) != expected or longer:
        problem = "longer than its header says" if longer else "truncated"
        actual = f"at least {expected + 1}" if longer else len(body)
        raise DataError(
            f"{path} is {problem}: its header promises {expected} bytes of data for shape {shape}, but it holds "
            f"{actual}: {fix}"
        )
    return torch.from_numpy(np.frombuffer(body, dtype=np.uint8).copy()).view(*shape)


def why_unreadable(error: BaseException, fix: str) -> str:
    """What an error opening or reading an IDX file means, said after the file's name."""
    if isinstance(error, IsADirectoryError):
        return "is a folder, not an IDX file: check the path"
    if isinstance(error, FileNotFoundError):
        return "does not exist: check the path"
    if isinstance(error, OSError) and error.strerror:  # gzip's own errors carry no strerror
        return f"cannot be read ({error.strerror}): check the path and its permissions"
    return f"is not a valid gzip file (truncated or corrupt): {fix}"


def read_shape(path: Path, stream: BinaryIO, fix: str) -> tuple[int, ...]:
    """The shape the header gives, once the magic number and the header's length are checked."""
    magic = stream.read(4)
    if not magic:
        raise DataError(f"{path} is empty: {fix}")
    if len(magic) < 4 or magic[:3] != bytes([0, 0, UBYTE]) or not 1 <= magic[3] <= 4:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (magic number 0x{magic.hex()}, expected 0x000008 "
            f"followed by 01-04): {fix}"
        )
    sizes = stream.read(4 * magic[3])
    if len(sizes) < 4 * magic[3]:
        raise DataError(f"{path} is truncated inside its header: {fix}")
    return tuple(np.frombuffer(sizes, dtype=">u4").tolist())


def read_at_most(stream: BinaryIO, size: int, chunk: int = 1 << 20) -> bytes:
    """Up to `size` bytes, in chunks: memory grows with what the file holds, not with what it claims."""
    parts, left = [], size
    while left > 0 and (part := stream.read(min(chunk, left))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def write_idx(path: str | os.PathLike, array: np.ndarray | torch.Tensor) -> None:
    """Write a uint8 array as an IDX file, gzipped when the name ends in .gz."""
    values = np.ascontiguousarray(np.asarray(array), dtype=np.uint8)
    data = bytes([0, 0, UBYTE, values.ndim]) + np.array(values.shape, dtype=">u4").tobytes() + values.tobytes()
    write_bytes_atomic(path, gzip.compress(data, mtime=0) if str(path).endswith(".gz") else data)
