"""Path arguments and atomic writes: a reader sees the old file or the whole new one, never a planted link's target."""

import contextlib
import errno
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from .errors import ConfigError, OutputError

STALE_SECONDS = 3600  # a write takes seconds: a temporary file this old was left by a writer that crashed
DEAD_PID_SECONDS = 60  # a pid not running here may be a writer in another container sharing the folder: wait a bit
KINDS = (
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def quoted(argument: str) -> str:
    """An argument's name as messages show it: `name` for the library's, a command-line flag (--name) as it is."""
    return argument if argument.startswith("-") else f"`{argument}`"


def a_kind(value: object) -> str:
    """What kind of value `value` is, for a message: "None", "an int", "a DataParallel"."""
    kind = type(value).__name__
    return "None" if value is None else f"{'an' if kind[0] in 'aeiouAEIOU' else 'a'} {kind}"


def path_argument(name: str, value: object) -> Path:
    """The path argument `name` as a Path, `~` expanded; refuses a non-path, and an empty one (the current folder)."""
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"{quoted(name)} is {a_kind(value)}, not a path: pass a file or folder name as a string")
    if os.fspath(value) in ("", b""):
        raise ConfigError(f"{quoted(name)} is empty: pass a file or folder name (an unset variable?)")
    return Path(os.fsdecode(value)).expanduser()


def kind_from(status: os.stat_result) -> str | None:
    """What a file of this status is, unless a regular file of one name ("a symlink", "a hard link", "a device")."""
    if stat.S_ISREG(status.st_mode):
        return "a hard link" if status.st_nlink > 1 else None
    return next((word for test, word in KINDS if test(status.st_mode)), "a device")


def kind_of(path: Path) -> str | None:
    """What `path` is, if it is there but not a regular file of one name ("a symlink", "a hard link", "a folder")."""
    try:
        return kind_from(os.lstat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


def refuse_planted(path: Path, argument: str = "path") -> None:
    """Refuse to replace anything at `path` but a regular file of one name: the course writes no other kind there."""
    kind = kind_of(path)
    if kind:
        raise OutputError(
            f"cannot write {path}: it is {kind}, not a file the course wrote: move it away or choose another "
            f"{quoted(argument)}"
        )


def temporary_beside(target: Path) -> Path:
    """A new empty hidden file in `target`'s folder, with the usual permissions (0666 less the umask; mkstemp: 0600)."""
    while True:  # the pid makes the name its writer's own, and tells later writers whether it still runs
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        with contextlib.suppress(FileExistsError):
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp


@contextlib.contextmanager
def atomic_paths(paths: list[str | os.PathLike], *, argument: str = "path") -> Iterator[list[Path]]:
    """Yield a temporary path beside each of `paths`; once the body is done, fsync them all, then rename each over
    its path, so a failure (a full disk, KeyboardInterrupt) leaves the old set whole and no temporary behind."""
    targets = [path_argument(argument, path) for path in paths]
    for target in targets:
        refuse_planted(target, argument)
    temporaries: list[Path] = []
    try:
        for target in targets:
            remove_stale_temporaries(target)
            temporaries.append(temporary_beside(target))
        yield temporaries
        for tmp in temporaries:
            with open(tmp, "rb+") as file:
                os.fsync(file.fileno())
        for tmp, target in zip(temporaries, targets, strict=True):
            os.replace(tmp, target)  # atomic: each temporary lives in its target's folder
    except BaseException:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
        raise
    for folder in dict.fromkeys(target.parent for target in targets):
        with contextlib.suppress(OSError):  # make the renames durable; Windows cannot open a folder
            descriptor = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, argument: str = "path") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path` (see atomic_paths)."""
    with atomic_paths([path], argument=argument) as (tmp,):
        yield tmp


def write_files_atomic(files: Mapping[str | os.PathLike, bytes], *, argument: str = "path") -> None:
    """Write each path's bytes, all or none: every file is written in full before any is replaced."""
    with atomic_paths(list(files), argument=argument) as temporaries:
        for tmp, data in zip(temporaries, files.values(), strict=True):
            tmp.write_bytes(data)


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, argument: str = "path") -> None:
    """Write `data` to `path` atomically."""
    write_files_atomic({path: data}, argument=argument)


def left_by_a_crash(entry: os.DirEntry, pid: str | None) -> bool:
    """Whether a temporary file's writer is gone: it is an hour old, or its pid has not run here for a minute."""
    if not entry.is_file(follow_symlinks=False):
        return False
    import psutil  # here: the lesson imports this module, and psutil takes a tenth of a second

    age = time.time() - entry.stat(follow_symlinks=False).st_mtime
    running = pid is not None and int(pid) < 2**31 and psutil.pid_exists(int(pid))  # larger: no pid of this system
    return age > STALE_SECONDS or (pid is not None and age > DEAD_PID_SECONDS and not running)


def remove_stale_temporaries(target: Path) -> None:
    """Delete the temporary files of `target` that crashed writers left, never another running writer's.

    Only temporary_beside's names for this target are touched: ".<name>.[<pid>.]<8 hex digits>.tmp".
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?:(?P<pid>\d+)\.)?[0-9a-f]{{8}}\.tmp")
    with contextlib.suppress(OSError):  # a folder that cannot be listed holds nothing to clean up
        for entry in os.scandir(target.parent):
            match = pattern.fullmatch(entry.name)
            with contextlib.suppress(OSError):  # one gone meanwhile was removed by another writer
                if match and left_by_a_crash(entry, match["pid"]):
                    os.unlink(entry.path)


def write_failure(error: OSError) -> str:
    """Why a write failed and what to do, from its errno: a full disk, a permission problem, or what the OS said."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full: free some disk space or write somewhere else"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{error.strerror.lower()}: choose a folder you can write to"
    return f"{(error.strerror or str(error)).lower()}: check the folder and try again"
