"""Starting N copies of a function in fresh processes that can meet in a torch.distributed group.

"spawn" starts each process afresh (no fork of a notebook's state, which also works on macOS and Windows),
and a spawned process can run only a function it can import: a notebook's own functions cannot be sent.
"""

import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import torch.multiprocessing as torch_mp
from torch.multiprocessing.spawn import ProcessException

from . import errors
from .errors import TutorialError


def launch(worker: Callable[..., Any], nproc: int, *args: Any) -> list[Any]:
    """Run `worker(rank, nproc, init_method, *args)` in `nproc` fresh processes; returns each rank's result.

    `worker` must live in an importable module (spawned processes import it; a notebook's function cannot
    be). Results must be plain Python or NumPy values. A TutorialError in any process is raised here with its
    message; Ctrl-C (or the notebook's stop button) stops all of them and raises KeyboardInterrupt.
    """
    if sys.platform != "win32":  # the processes meet on this machine: over loopback, whatever the hostname says
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
    context = multiprocessing.get_context("spawn")
    results = context.SimpleQueue()
    init_method = f"tcp://127.0.0.1:{free_port()}"
    processes = torch_mp.start_processes(
        _entry, args=(worker, nproc, init_method, results, args), nprocs=nproc, join=False, start_method="spawn"
    )
    received: dict[int, tuple] = {}
    try:
        while not processes.join(timeout=0.1):
            _drain(results, received)
    except KeyboardInterrupt:
        for process in processes.processes:
            process.terminate()
        for process in processes.processes:
            process.join(timeout=10)
        raise
    except ProcessException:
        _drain(results, received)
        failures = [outcome for outcome in received.values() if outcome[0] == "error"]
        if failures:
            _, name, message = failures[0]
            raise getattr(errors, name, TutorialError)(message) from None
        raise
    _drain(results, received)
    return [received[rank][1] for rank in range(nproc)]


def _drain(results: Any, received: dict[int, tuple]) -> None:
    while not results.empty():
        rank, *outcome = results.get()
        received[rank] = tuple(outcome)


def _entry(rank: int, worker: Callable, nproc: int, init_method: str, results: Any, args: tuple) -> None:
    """A spawned process's first call: run the worker, send back its result or its error in words."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does, for all at once
    try:
        results.put((rank, "ok", worker(rank, nproc, init_method, *args)))
    except TutorialError as error:
        results.put((rank, "error", type(error).__name__, str(error)))
        raise SystemExit(1) from None


def free_port() -> int:
    """A TCP port nobody listens on right now, for the processes to meet at."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
