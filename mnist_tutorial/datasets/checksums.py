"""Full data is the data it claims to be: its files checked against the known md5s on first use, and remembered.

The known md5s are torchvision's, of the four .gz files. Training reads a file uncompressed where it can (as
torchvision does), so an uncompressed file beside its .gz must hold the .gz's contents. A folder that kept no
.gz can only be checked by its files' sizes. What was checked is remembered in the folder (by name, size and
modification time), so later runs skip it; a folder this process cannot write to is checked once per process.
A system-wide copy that a package manager installed is its own check, and is not held to torchvision's md5s:
Debian re-gzips the files, so theirs differ.
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

MEMORY = ".mnist-tutorial-checked.json"  # {file name: [size, mtime_ns, what it matched]}
CHECKED_HERE: set[tuple] = set()  # what this process checked where it could not write MEMORY
# Uncompressed sizes of full MNIST's files (header + payload), for folders that kept no .gz to compare md5s with.
FULL_SIZES = {
    "train-images-idx3-ubyte": 16 + 60_000 * 784,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 784,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}
DOWNLOAD_AGAIN = "delete it and download again (or copy the dataset's own file there)"


def md5_of(stream: BinaryIO) -> str:
    """The md5 of what `stream` reads, in 1 MiB chunks."""
    digest = hashlib.md5()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def md5_of_file(path: Path) -> str:
    with open(path, "rb") as file:
        return md5_of(file)


def verify_full(spec: DatasetSpec, folder: Path) -> None:
    """Refuse full data whose files are not `spec`'s own, naming the first file that is not; checks each once."""
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
        elif unpacked.is_file() and not packed.is_file():
            check_size(spec, unpacked)
    if memory != before:
        remember(folder, memory)


def same_contents(packed: Path, unpacked: Path) -> bool:
    """Whether `unpacked` is what `packed` decompresses to (sizes first, which is cheap)."""
    try:
        with gzip.open(packed, "rb") as stream:
            return unpacked.stat().st_size == packed_size(packed) and md5_of(stream) == md5_of_file(unpacked)
    except (OSError, EOFError, zlib.error):
        return False


def packed_size(packed: Path) -> int:
    """The uncompressed size a .gz file records in its last four bytes (modulo 2**32, plenty for MNIST)."""
    with open(packed, "rb") as file:
        file.seek(-4, 2)
        return int.from_bytes(file.read(4), "little")


def check_size(spec: DatasetSpec, unpacked: Path) -> None:
    """Without a .gz to compare with, an uncompressed MNIST file can at least have MNIST's size."""
    size = FULL_SIZES.get(unpacked.name)
    if spec.name == "mnist" and unpacked.stat().st_size != size:
        raise DataError(
            f"{unpacked} holds {unpacked.stat().st_size:,} bytes, not full MNIST's {size:,}: {DOWNLOAD_AGAIN}"
        )


def stamp(path: Path, matched: str) -> list:
    """What identifies this version of a file: its size and modification time, and the md5 it was checked for."""
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
