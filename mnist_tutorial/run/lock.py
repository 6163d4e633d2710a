"""One run per output folder at a time: an advisory lock that the operating system drops when its holder dies."""

import os
import time
from pathlib import Path
from types import TracebackType

from ..errors import OutputError
from ..files import kind_from, kind_of

LOCK_NAME = ".mnist-tutorial.lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def _try_lock(fd: int) -> bool:
    """Take the lock on `fd` without waiting; False if another process holds it."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt

    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


class OutputLock:
    """`with OutputLock(out):` holds `out`/.mnist-tutorial.lock, or raises OutputError naming the run that does.

    The lock is the kernel's (flock), not the file's existence: a run killed with SIGKILL or a power cut
    leaves the file, but no lock, so the next run goes ahead. A finished run deletes the file while still holding
    the lock; a run that locked a file just deleted notices (its inode is no longer the path's) and tries again.
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        while True:
            fd = self._open()
            if not _try_lock(fd):
                holder = self._holder(fd)
                os.close(fd)
                raise OutputError(
                    f"`out={self.out}` is in use by another run ({holder}): wait for it to end, or choose another `out`"
                )
            if self._still_the_path(fd):
                break
            os.close(fd)  # locked a file that its holder deleted as it finished: take the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        self.fd = fd
        return self

    def _open(self) -> int:
        """Open (or create) the lock file itself: never through a symlink or a hard link planted in a shared `out`
        (its target would be truncated), never a FIFO."""
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError:
            kind = kind_of(self.path)
            if kind is None:
                raise
        else:
            kind = kind_from(os.fstat(fd))  # the file opened, whatever has replaced it at the path since
            if kind is None:
                return fd
            os.close(fd)
        raise OutputError(
            f"`out={self.out}`: {LOCK_NAME} there is {kind}, not the lock file a run makes: "
            f"remove it (rm -r '{self.path}') or choose another `out`"
        )

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            return os.pread(fd, 200, 0).decode(errors="replace").strip() or "process unknown"
        except (OSError, AttributeError):
            return "process unknown"

    def _still_the_path(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still locked, so nobody can be waiting on this file
            os.close(self.fd)  # closing releases the lock
            self.fd = None
