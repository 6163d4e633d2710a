"""The pre-flight's kernel checks: a real python3 kernel runs one cell, and (on request) a lesson runs end to end.

A kernel talks to JupyterLab over TCP on 127.0.0.1, so a machine without a working loopback network, a firewall
that blocks local ports, or a Python without ipykernel all end the same way in a notebook: "Kernel didn't
respond in 60 seconds". These checks start a kernel the way JupyterLab does, with a short deadline, and name
the likely cause when it fails.
"""

import contextlib
import importlib.util
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .. import defaults
from .checks import Check, fix, install_hint, ok

KERNEL_DEADLINE_S = 30.0  # a kernel starts in 1-5 s on a laptop; 30 s leaves room for a busy one
KERNEL_CELL = "import mnist_tutorial"  # what every lesson's first cell needs from the kernel
NOTEBOOK_CELL_TIMEOUT_S = 600  # as nbval's --nbval-cell-timeout
LESSON_TO_RUN = "03_training.ipynb"  # the lesson that loads data, trains and evaluates: everything a laptop needs
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]
ROOM = {defaults.SOURCE_ENV: "sample", defaults.OFFLINE_ENV: "1"}  # the room setting: the sample, no network


def check_kernel_spec() -> Check | None:
    """A fix when the python3 kernel is missing or runs another Python than this one; None when it is this one."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
    except Exception as error:  # jupyter_client missing, or no python3 kernel at all
        return fix("kernel", f"no python3 kernel ({error}): {install_hint('ipykernel', force=True)}")
    program = spec.argv[0]
    if program in ("python", "python3", "{python}") or Path(program).resolve() == Path(sys.executable).resolve():
        return None
    return fix(
        "kernel",
        f"the python3 kernel ({spec.resource_dir}) runs {program}, not this Python: "
        f"{sys.executable} -m ipykernel install --user",
    )


def check_kernel(deadline_s: float | None = None) -> Check:
    """The python3 kernel is this Python, starts, and runs `import mnist_tutorial`, each within the deadline.

    Without a working loopback no kernel can start: that is said at once, without waiting for the deadline.
    """
    if not loopback_works():
        return fix("kernel", f"no kernel can start here: {cause()}")
    return check_kernel_spec() or run_one_cell(KERNEL_DEADLINE_S if deadline_s is None else deadline_s)


def run_one_cell(deadline_s: float) -> Check:
    """Start a python3 kernel as JupyterLab does, run KERNEL_CELL in it, shut it down."""
    from jupyter_client.manager import start_new_kernel

    started, client, manager = time.perf_counter(), None, None
    try:
        manager, client = start_new_kernel(
            startup_timeout=deadline_s, kernel_name="python3", extra_arguments=QUIET_KERNEL
        )
        reply = client.execute_interactive(KERNEL_CELL, timeout=deadline_s, output_hook=lambda message: None)
    except Exception as error:  # a dead kernel, a deadline passed, a port that cannot be bound
        step = "start" if client is None else f"run `{KERNEL_CELL}`"
        return fix("kernel", f"a python3 kernel did not {step} within {deadline_s:g} s ({one_line(error)}): {cause()}")
    finally:
        if client is not None:
            client.stop_channels()
        if manager is not None:
            manager.shutdown_kernel(now=True)
    seconds = time.perf_counter() - started
    content = reply["content"]
    if content["status"] != "ok":
        return fix(
            "kernel",
            f"the kernel started but `{KERNEL_CELL}` failed ({content.get('ename')}: {content.get('evalue')}): "
            f"{sys.executable} -m ipykernel install --user, then restart JupyterLab",
        )
    return ok("kernel", f"a python3 kernel started and ran `{KERNEL_CELL}` in {seconds:.1f} s")


def cause() -> str:
    """The likely reason a kernel cannot start here, with what to do about it."""
    if not loopback_works():
        return (
            "this machine's loopback network (127.0.0.1) does not work, and Jupyter talks to its kernels over it: "
            "bring it up (Linux: sudo ip link set lo up) or ask whoever manages this machine"
        )
    if importlib.util.find_spec("ipykernel") is None:
        return f"ipykernel is missing from this Python: {install_hint('ipykernel')}"
    return (
        "likely a firewall or security tool blocking local connections on 127.0.0.1 between Jupyter and its "
        f"kernels (allow this Python: {sys.executable}), or a broken ipykernel: {install_hint('ipykernel', force=True)}"
    )


def loopback_works(timeout: float = 2.0) -> bool:
    """True when a TCP connection to a socket listening on 127.0.0.1 goes through."""
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            with socket.create_connection(server.getsockname(), timeout=timeout):
                server.settimeout(timeout)
                server.accept()[0].close()
    except OSError:
        return False
    return True


def one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())[:200]


@contextlib.contextmanager
def room_setting() -> Iterator[None]:
    """The room setting in this process's environment (kernels started meanwhile inherit it), then as before."""
    before = {name: os.environ.get(name) for name in ROOM}
    os.environ.update(ROOM)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def find_lesson(path: Path | None) -> Path:
    """The notebook to run: `path`, else LESSON_TO_RUN in this folder (a kit install) or in notebooks/ (a checkout)."""
    if path is not None:
        return Path(path).expanduser()
    here = Path(LESSON_TO_RUN)
    return here if here.is_file() or not (Path("notebooks") / LESSON_TO_RUN).is_file() else Path("notebooks") / here


def check_notebook(path: Path | None = None, deadline_s: float | None = None) -> Check:
    """Run a lesson notebook top to bottom in a fresh kernel, on the sample with no network; say how long it took.

    The notebook's file is not changed: its outputs stay in memory. It runs from its own folder, as in JupyterLab.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = find_lesson(path)
    name = f"notebook {path.name}"
    if not path.is_file():
        return fix(name, f"{path} not found: run this in the course's folder, or name one: --run-notebook PATH")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=NOTEBOOK_CELL_TIMEOUT_S,
        startup_timeout=KERNEL_DEADLINE_S if deadline_s is None else deadline_s,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.resolve().parent)}},
        extra_arguments=QUIET_KERNEL,
    )
    started = time.perf_counter()
    try:
        with room_setting():
            client.execute()
    except CellExecutionError as error:
        seconds = time.perf_counter() - started
        where = failed_cell(notebook)
        return fix(
            name,
            f"stopped at cell {where} after {seconds:.1f} s ({error.ename}: {one_line_text(error.evalue)}): "
            f"open it in JupyterLab and run that cell to see the whole error",
        )
    except Exception as error:  # a kernel that does not start or dies, a cell past its timeout
        seconds = time.perf_counter() - started
        return fix(name, f"did not run after {seconds:.1f} s ({one_line(error)}): {cause()}")
    seconds = time.perf_counter() - started
    return ok(name, f"ran end to end on the sample in {seconds:.1f} s")


def failed_cell(notebook) -> int | str:
    """The 1-based number of the first code cell with an error output (counting every cell, as JupyterLab shows)."""
    for number, cell in enumerate(notebook.cells, start=1):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return number
    return "?"


def one_line_text(text: str) -> str:
    return " ".join(str(text).split())[:200]
