"""A rank that outlives its launcher trains with no one to stop it and no lock on its output: tie it to the launcher.

On Linux the kernel kills it the moment its parent ends (prctl PR_SET_PDEATHSIG); elsewhere a thread polls the parent.
"""

import ctypes
import os
import signal
import sys
import threading
import time

import psutil

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_SECONDS = 1.0


def tie_to(launcher: int) -> None:
    """End this process when `launcher`, its parent, ends: at once on Linux, within a second elsewhere."""
    if not death_signal():
        threading.Thread(target=watch, args=(launcher,), name="launcher-watch", daemon=True).start()
    if not parent_alive(launcher):  # it may have ended while this process spent seconds importing torch
        os._exit(1)  # nobody is left to report to, and nothing of this process's work has started


def death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent ends; False where that cannot be asked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        # prctl is variadic: each argument as a full unsigned long, as the kernel reads them
        args = (ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
        return libc.prctl(ctypes.c_int(PR_SET_PDEATHSIG), *args) == 0
    except (OSError, AttributeError):
        return False


def watch(launcher: int) -> None:
    """A thread's body: poll the parent until it has ended, then end this whole process."""
    while parent_alive(launcher):
        time.sleep(POLL_SECONDS)
    os._exit(1)


def parent_alive(launcher: int) -> bool:
    """Whether `launcher` is still this process's parent: an orphan gets another parent, so its ppid changes (Windows
    keeps an orphan's ppid, so there the process itself is asked about)."""
    return psutil.pid_exists(launcher) if sys.platform == "win32" else os.getppid() == launcher
