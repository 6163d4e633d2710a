"""One run per output folder at a time: an advisory lock that the operating system drops when its holder dies.

The lock is the kernel's (flock; msvcrt on Windows), not the file's existence: a run killed with SIGKILL leaves
the file but no lock, so the next run goes ahead. A finished run deletes the file while still holding the lock; a
run that locked a file just deleted notices (its inode is no longer the path's) and tries again. (filelock, the
library, neither refuses a planted hard link nor keeps the holder's name for the refusal, so this stays ours.)
"""

import os
import time
from pathlib import Path

from ..errors import OutputError
from ..files import kind_from, kind_of

LOCK_NAME = ".mnist-tutorial.lock"

try:
    import fcntl

    BUSY: type[OSError] = BlockingIOError  # what flock raises when another process holds the lock
except ImportError:  # Windows
    import msvcrt

    fcntl, BUSY = None, OSError  # type: ignore[assignment]


class OutputLock:
    """`with OutputLock(out):` holds `out`/.mnist-tutorial.lock, or raises OutputError naming the run that does."""

    def __init__(self, out: Path) -> None:
        self.out, self.path, self.fd = Path(out), Path(out) / LOCK_NAME, None

    def __enter__(self) -> "OutputLock":
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB) if fcntl else msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:  # (before BUSY, which on Windows is any OSError)
                pass
            except BUSY:
                try:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() if fcntl else ""  # Windows: no pread
                except OSError:
                    holder = ""
                finally:
                    os.close(fd)
                raise OutputError(
                    f"`out={self.out}` is in use by another run ({holder or 'process unknown'}): wait for it to end, "
                    "or choose another `out`"
                ) from None
            os.close(fd)  # locked a file that its holder deleted as it finished: take the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        self.fd = fd
        return self

    def _open(self) -> int:
        """The lock file itself, opened or created: never through a symlink or a hard link planted in a shared `out`
        (its target would be truncated), never a FIFO."""
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError:
            if (kind := kind_of(self.path)) is None:
                raise
        else:
            if (kind := kind_from(os.fstat(fd))) is None:  # the file opened, whatever replaced it at the path since
                return fd
            os.close(fd)
        raise OutputError(
            f"`out={self.out}`: {LOCK_NAME} there is {kind}, not the lock file a run makes: "
            f"remove it (rm -r '{self.path}') or choose another `out`"
        )

    def __exit__(self, *exc_info: object) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still locked, so nobody can be waiting on this file
            os.close(self.fd)  # closing releases the lock
            self.fd = None
