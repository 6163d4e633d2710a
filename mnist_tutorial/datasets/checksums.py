"""Full data is what it claims to be: each file checked once against torchvision's md5s, and remembered.

An uncompressed file (which training reads first) must hold its .gz's contents, or without a .gz have MNIST's size.
A copy a package manager installed is its own check (Debian re-gzips the files, so their md5s differ).
"""

import gzip
import hashlib
import json
import zlib
from pathlib import Path
from typing import BinaryIO

from ..errors import DataError
from ..files import write_bytes_atomic
from .specs import DatasetSpec

MEMORY = ".mnist-tutorial-checked.json"  # {file name: [size, mtime_ns, the md5 it matched]}
CHECKED_HERE: set[tuple] = set()  # what this process checked where it could not write MEMORY
FULL_SIZES = {  # uncompressed, header included
    "train-images-idx3-ubyte": 16 + 60_000 * 784,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 784,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}
DOWNLOAD_AGAIN = "delete it and download again (or copy the dataset's own file there)"


def md5_of(stream: BinaryIO) -> str:
    """The md5 of what `stream` reads, 1 MiB at a time."""
    digest = hashlib.md5()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def md5_of_file(path: Path) -> str:
    with open(path, "rb") as file:
        return md5_of(file)


def verify_full(spec: DatasetSpec, folder: Path) -> None:
    """Refuse full data whose files are not `spec`'s own, naming the first that is not; each is checked once."""
    if folder in spec.system_dirs:
        return
    memory = recall(folder)
    before = dict(memory)
    for packed_name, expected in spec.torchvision_class.resources:
        packed, unpacked = folder / packed_name, folder / packed_name.removesuffix(".gz")
        if packed.is_file() and not remembered(memory, packed, expected):
            found = md5_of_file(packed)
            if found != expected:
                raise DataError(
                    f"{packed} is not {spec.title}'s file of that name (md5 {found}, not {expected}): another "
                    f"dataset's, or damaged? {DOWNLOAD_AGAIN}"
                )
            memory[packed.name] = stamp(packed, expected)
        if unpacked.is_file() and packed.is_file() and not remembered(memory, unpacked, expected):
            if not same_contents(packed, unpacked):
                raise DataError(
                    f"{unpacked}, which training reads, differs from {packed.name} beside it (a stale copy?): "
                    f"delete {unpacked} and the course reads the .gz"
                )
            memory[unpacked.name] = stamp(unpacked, expected)
        elif unpacked.is_file() and not packed.is_file() and spec.name == "mnist":
            size = unpacked.stat().st_size
            if size != FULL_SIZES[unpacked.name]:
                raise DataError(
                    f"{unpacked} holds {size:,} bytes, not full MNIST's {FULL_SIZES[unpacked.name]:,}: {DOWNLOAD_AGAIN}"
                )
    if memory != before:
        remember(folder, memory)


def same_contents(packed: Path, unpacked: Path) -> bool:
    """Whether `unpacked` is what `packed` decompresses to."""
    try:
        with gzip.open(packed, "rb") as stream:
            return md5_of(stream) == md5_of_file(unpacked)
    except (OSError, EOFError, zlib.error):
        return False


def stamp(path: Path, matched: str) -> list:
    """What identifies this version of a file: size, modification time, and the md5 it was checked against."""
    status = path.stat()
    return [status.st_size, status.st_mtime_ns, matched]


def remembered(memory: dict, path: Path, expected: str) -> bool:
    now = stamp(path, expected)
    return memory.get(path.name) == now or (str(path), *now) in CHECKED_HERE


def recall(folder: Path) -> dict:
    """The folder's memory of checked files; an unreadable or odd one is as good as none."""
    try:
        memory = json.loads((folder / MEMORY).read_text())
    except (OSError, ValueError):
        return {}
    return memory if isinstance(memory, dict) else {}


def remember(folder: Path, memory: dict) -> None:
    """Keep `memory` in the folder, or in this process where the folder is read-only."""
    try:
        write_bytes_atomic(folder / MEMORY, json.dumps(memory, indent=1).encode())
    except OSError:
        CHECKED_HERE.update((str(folder / name), *entry) for name, entry in memory.items())
