"""Atomic file writes: a reader sees the old file or the whole new one, never half of one."""

import contextlib
import errno
import glob
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError


def path_argument(name: str, value: object) -> Path:
    """The path argument `name` as a Path, `~` expanded; refuses a non-path, and an empty one (the current folder)."""
    if not isinstance(value, (str, os.PathLike)):
        kind = type(value).__name__
        what = "None" if value is None else f"{'an' if kind[0] in 'aeiouAEIOU' else 'a'} {kind}"
        raise ConfigError(f"`{name}` is {what}, not a path: pass a file or folder name as a string")
    if os.fspath(value) in ("", b""):
        raise ConfigError(f"`{name}` is empty: pass a file or folder name (an unset variable?)")
    return Path(os.fsdecode(value)).expanduser()


KINDS = (
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(path: Path) -> str | None:
    """What `path` is, if it is there but not a regular file ("a symlink", "a folder", "a device"); else None."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(mode):
        return None
    return next((word for test, word in KINDS if test(mode)), "a device")


def temporary_beside(target: Path) -> Path:
    """Create an empty, hidden temporary file in `target`'s folder, with the usual permissions (0666 - umask)."""
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`.

    The temporary file lives in the same folder so that os.replace is an atomic rename, and it is
    removed if the body raises (including KeyboardInterrupt), so nothing half-written is left behind.
    """
    target = Path(path)
    tmp = temporary_beside(target)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


STALE = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{8}\.tmp")


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Delete temporary files that an interrupted write of `target` left in its folder; returns what went.

    Only names of this module's own pattern for this target (".<name>.<8 hex digits>.tmp") are touched.
    """
    target = Path(target)
    removed = []
    for candidate in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        match = STALE.fullmatch(candidate.name)
        if match and match["name"] == target.name and candidate.is_file():
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def write_failure(error: OSError) -> str:
    """Why a write failed and what to do, from its errno: a full disk, a permission problem, or what the OS said."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full: free some disk space or write somewhere else"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{error.strerror.lower()}: choose a folder you can write to"
    return f"{(error.strerror or str(error)).lower()}: check the folder and try again"
