"""Starting N copies of a function in fresh processes ("spawn": no fork of a notebook's state; macOS and Windows
too) that meet in a torch.distributed group at a TCPStore this process holds, as torchrun's agent does.

A rank that outlived its launcher would train with no one to stop it and no lock on its output, so each is tied to
it (tie_to): on Linux the kernel kills it the moment its parent ends (prctl PR_SET_PDEATHSIG); elsewhere a thread
polls the parent.
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch.distributed as dist
import torch.multiprocessing as torch_mp
from torch.multiprocessing.spawn import ProcessException, ProcessExitedException

from .. import errors
from ..errors import TutorialError, WorkerDiedError

HOST = "127.0.0.1"  # the processes meet on this machine: over loopback, whatever the hostname says
TIMEOUT = timedelta(minutes=5)  # waiting this long at the meeting point or in a collective means a process died
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_SECONDS = 1.0  # how often a rank without a death signal looks for its launcher


def launch(worker: Callable[..., Any], nproc: int, *args: Any) -> list[Any]:
    """Run `worker(rank, nproc, store_port, *args)` in `nproc` fresh processes; returns each rank's result.

    `worker` must be importable (a notebook's own function cannot be sent) and return plain Python or NumPy
    values. A TutorialError in a process is raised here in its words; Ctrl-C stops them all; should this process
    die, they die with it (tie_to): none trains on unwatched, with nobody holding its lock.
    """
    if sys.platform != "win32":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
    store = meeting_point(nproc)
    results = multiprocessing.get_context("spawn").SimpleQueue()
    entry_args = (worker, nproc, store.port, results, args, os.getpid())
    processes = torch_mp.start_processes(_entry, args=entry_args, nprocs=nproc, join=False, start_method="spawn")
    received: dict[int, tuple] = {}
    # join() logs a warning per process it stops after one died; the error below says it in one line
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    try:
        while not processes.join(timeout=0.1):
            _drain(results, received)
    except ProcessException as error:
        _drain(results, received)
        failures = [outcome for outcome in received.values() if outcome[0] == "error"]
        if failures:
            _, name, message = failures[0]
            raise getattr(errors, name, TutorialError)(message) from None
        if isinstance(error, ProcessExitedException):
            raise WorkerDiedError(died(error, nproc)) from None
        raise
    finally:
        _stop(processes.processes)  # after Ctrl-C or any other exception here: no process is left running
        del store  # the meeting point closes once every process has gone
    _drain(results, received)
    return [received[rank][1] for rank in range(nproc)]


def died(error: ProcessExitedException, nproc: int) -> str:
    """Which process ended, and how, in words: "rank 1 of 2 was killed by SIGKILL"."""
    how = f"was killed by {error.signal_name}" if error.signal_name else f"exited with status {error.exit_code}"
    return (
        f"process rank {error.error_index} of {nproc} {how} before the run finished (out of memory? killed by "
        "hand?), and the others were stopped: free some memory or pass a smaller `nproc`, and train again"
    )


def meeting_point(nproc: int) -> dist.TCPStore:
    """A TCPStore server for `nproc` processes, already listening (`.port`), on 127.0.0.1 only.

    Listening before any process starts, the port can neither be taken in between nor missed by an early process.
    A TCPStore that opens its own socket binds every interface (so does torchrun's agent, and Windows' TCPStore,
    which takes no socket): on workshop Wi-Fi anyone in the room could write to it. Here it gets a loopback socket.
    """
    if sys.platform == "win32":
        return dist.TCPStore(HOST, 0, nproc, is_master=True, timeout=TIMEOUT, wait_for_workers=False)
    listener = socket.create_server((HOST, 0), backlog=max(128, nproc))
    port = listener.getsockname()[1]
    return dist.TCPStore(HOST, port, nproc, is_master=True, timeout=TIMEOUT, wait_for_workers=False,
                         master_listen_fd=listener.detach())  # fmt: skip


def join_meeting(store_port: int, nproc: int) -> dist.TCPStore:
    """This process's connection to the launcher's TCPStore, for `dist.init_process_group(store=...)`."""
    return dist.TCPStore(HOST, store_port, nproc, is_master=False, timeout=TIMEOUT)


def _stop(processes: list) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


def _drain(results: Any, received: dict[int, tuple]) -> None:
    while not results.empty():
        rank, *outcome = results.get()
        received[rank] = tuple(outcome)


def _entry(rank: int, worker: Callable, nproc: int, store_port: int, results: Any, args: tuple, launcher: int) -> None:
    """A spawned process's first call: tie it to the launcher, run the worker, send back its result or its error."""
    # The death signal belongs to the thread that started this process: launch() waits in that thread until every
    # process has ended, so it fires only when the launcher itself dies.
    tie_to(launcher)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does, for all at once
    try:
        results.put((rank, "ok", worker(rank, nproc, store_port, *args)))
    except TutorialError as error:
        results.put((rank, "error", type(error).__name__, str(error)))
        raise SystemExit(1) from None


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
    if sys.platform != "win32":
        return os.getppid() == launcher
    import psutil  # only here: every rank would pay its import (a tenth of a second) on the other systems

    return psutil.pid_exists(launcher)
