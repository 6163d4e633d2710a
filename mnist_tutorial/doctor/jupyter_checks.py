"""The pre-flight's Jupyter checks: JupyterLab's command and the widgets' front-end extensions (without the right one,
a widget shows "Error displaying widget"); a python3 kernel runs one cell, and (on request) a lesson end to end.

A broken loopback, a firewall on local ports and a missing ipykernel all look alike in JupyterLab ("Kernel didn't
respond in 60 seconds"): the kernel checks start one as it does, with a short deadline, and name the likely cause.
"""

import atexit
import importlib.metadata as metadata
import importlib.util
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from packaging.version import Version

from .. import defaults
from .checks import Check, fix, install_hint, ok, one_line

KERNEL_DEADLINE_S = 30.0  # a kernel starts in 1-5 s on a laptop; 30 s leaves room for a busy one
KERNEL_CELL = "import mnist_tutorial"  # what every lesson's first cell needs from the kernel
NOTEBOOK_CELL_TIMEOUT_S = 600  # as nbval's --nbval-cell-timeout
LESSON_TO_RUN = "03_training.ipynb"  # loads data, trains and evaluates: everything a laptop needs
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]
ROOM = {defaults.SOURCE_ENV: "sample", defaults.OFFLINE_ENV: "1"}  # the room setting: the sample, no network
WIDGETS_MAJOR = {8: 5, 7: 3}  # ipywidgets' major version -> the jupyterlab-manager major version that speaks it


def check_kernel(deadline_s: float = KERNEL_DEADLINE_S) -> Check:
    """The python3 kernel is this Python, starts, and runs KERNEL_CELL, each within the deadline.

    Without a working loopback no kernel can start: that is said at once, without waiting for the deadline.
    """
    if not loopback_works():
        return fix("kernel", f"no kernel can start here: {cause()}")
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
    except Exception as error:  # jupyter_client missing, or no python3 kernel at all
        return fix("kernel", f"no python3 kernel ({error}): {install_hint('ipykernel', force=True)}")
    program = spec.argv[0]
    if program not in ("python", "python3", "{python}") and Path(program).resolve() != Path(sys.executable).resolve():
        return fix(
            "kernel",
            f"the python3 kernel ({spec.resource_dir}) runs {program}, not this Python: "
            f"{sys.executable} -m ipykernel install --user",
        )
    return run_one_cell(deadline_s)


def run_one_cell(deadline_s: float) -> Check:
    """Start a python3 kernel as JupyterLab does, run KERNEL_CELL in it, shut it down."""
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    started = time.perf_counter()
    try:
        execute(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(KERNEL_CELL)]), Path.cwd(), deadline_s)
    except CellExecutionError as error:
        return fix(
            "kernel",
            f"the kernel started but `{KERNEL_CELL}` failed ({error.ename}: {error.evalue}): "
            f"{sys.executable} -m ipykernel install --user, then restart JupyterLab",
        )
    except Exception as error:  # a dead kernel, a deadline passed, a port that cannot be bound
        ran = isinstance(error, (CellTimeoutError, DeadKernelError))  # it started, then hung or died in the cell
        step = f"run `{KERNEL_CELL}`" if ran else "start"
        failure = one_line(f"{type(error).__name__}: {error}")
        return fix("kernel", f"a python3 kernel did not {step} within {deadline_s:g} s ({failure}): {cause()}")
    return ok("kernel", f"a python3 kernel started and ran `{KERNEL_CELL}` in {time.perf_counter() - started:.1f} s")


def execute(notebook: Any, folder: Path, startup_s: float, cell_s: float | None = None) -> None:
    """Run `notebook` in memory, in a fresh python3 kernel started in `folder` as JupyterLab does; shut it down."""
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        timeout=cell_s or startup_s,
        startup_timeout=startup_s,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        extra_arguments=QUIET_KERNEL,
    )
    try:
        client.execute()
    finally:  # a kernel that never started leaves nbclient's clean-up registered, to fail with a traceback at exit
        atexit.unregister(client._cleanup_kernel)


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
    """Whether a TCP connection to a socket listening on 127.0.0.1 goes through."""
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


def find_lesson(path: Path | None) -> Path:
    """The notebook to run: `path`, else LESSON_TO_RUN here (a kit install) or in notebooks/ (a checkout)."""
    if path is not None:
        return Path(path).expanduser()
    here = Path(LESSON_TO_RUN)
    return here if here.is_file() or not (Path("notebooks") / LESSON_TO_RUN).is_file() else Path("notebooks") / here


def check_notebook(path: Path | None = None, deadline_s: float = KERNEL_DEADLINE_S) -> Check:
    """Run a lesson top to bottom in a fresh kernel from its own folder, on the sample with no network; say how long.

    The notebook's file is left as it was: the outputs stay in memory.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError

    path = find_lesson(path)
    name = f"notebook {path.name}"
    if not path.is_file():
        return fix(name, f"{path} not found: run this in the course's folder, or name one: --run-notebook PATH")
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    try:
        with mock.patch.dict(os.environ, ROOM):  # the kernel inherits the room setting; this process gets it back
            execute(notebook, path.resolve().parent, deadline_s, NOTEBOOK_CELL_TIMEOUT_S)
    except CellExecutionError as error:
        return fix(
            name,
            f"stopped at cell {failed_cell(notebook)} after {time.perf_counter() - started:.1f} s ({error.ename}: "
            f"{one_line(error.evalue)}): open it in JupyterLab and run that cell to see the whole error",
        )
    except Exception as error:  # a kernel that does not start or dies, a cell past its timeout
        failure = one_line(f"{type(error).__name__}: {error}")
        return fix(name, f"did not run after {time.perf_counter() - started:.1f} s ({failure}): {cause()}")
    return ok(name, f"ran end to end on the sample in {time.perf_counter() - started:.1f} s")


def failed_cell(notebook) -> int | str:
    """The number of the first cell with an error output, counting every cell from 1 as JupyterLab does."""
    for number, cell in enumerate(notebook.cells, start=1):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return number
    return "?"


def check_jupyterlab() -> Check:
    """JupyterLab installed beside this Python, with its `jupyter-lab` command."""
    try:
        version = metadata.version("jupyterlab")
    except metadata.PackageNotFoundError:
        return fix("jupyter-lab", f"not installed in this Python: {install_hint('jupyterlab')}")
    command = Path(sys.executable).parent / ("jupyter-lab.exe" if os.name == "nt" else "jupyter-lab")
    if not command.exists() and shutil.which("jupyter-lab") is None:
        hint = install_hint("jupyterlab", force=True)
        return fix("jupyter-lab", f"{version} is installed but has no jupyter-lab command: {hint}")
    return ok("jupyter-lab", f"JupyterLab {version} and its command")


def frontend_extensions() -> dict[str, tuple[str, bool]]:
    """JupyterLab's prebuilt extensions, as `jupyter labextension list` shows them: {name: (version, enabled)}."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab.commands import AppOptions, get_app_info

    info = get_app_info(AppOptions(labextensions_path=jupyter_path("labextensions")))
    disabled = info.get("disabled", {})
    disabled = disabled if isinstance(disabled, dict) else dict.fromkeys(disabled, True)
    return {name: (ext["version"], not disabled.get(name, False)) for name, ext in info["federated_extensions"].items()}


def check_frontend(name: str, kernel_package: str, fits: Callable[[Version, Version], bool], extra: str = "") -> Check:
    """The front-end extension `name` is installed, enabled, and speaks the kernel side's version."""
    reinstall = f"{install_hint(kernel_package, force=True)}{extra}"
    try:
        kernel_version = metadata.version(kernel_package)
    except metadata.PackageNotFoundError:
        return fix(name, f"{kernel_package} is not installed: {install_hint(kernel_package)}{extra}")
    try:
        extensions = frontend_extensions()
    except Exception as error:  # JupyterLab missing or broken: check_jupyterlab says how to fix that
        return fix(name, f"cannot list JupyterLab's extensions ({error}): {install_hint('jupyterlab', force=True)}")
    if name not in extensions:
        return fix(name, f'front-end extension missing, so widgets show "Error displaying widget": {reinstall}')
    version, enabled = extensions[name]
    if not enabled:
        return fix(name, f"front-end extension {version} is disabled: jupyter labextension enable {name}")
    if not fits(Version(kernel_version), Version(version)):
        return fix(
            name,
            f"front-end {version} does not match {kernel_package} {kernel_version} in the kernel "
            f'("Error displaying widget"): {reinstall}',
        )
    return ok(name, f"front-end {version}, enabled, matches {kernel_package} {kernel_version}")


def check_widget_frontends() -> list[Check]:
    """ipywidgets' and ipycanvas' JupyterLab extensions, the cause of "Error displaying widget"."""
    return [
        check_frontend(
            "@jupyter-widgets/jupyterlab-manager",
            "ipywidgets",
            lambda kernel, frontend: WIDGETS_MAJOR.get(kernel.major) == frontend.major,
            " jupyterlab_widgets",
        ),
        # ipycanvas pins its front end to "^major.minor"
        check_frontend("ipycanvas", "ipycanvas", lambda kernel, frontend: kernel.release[:2] == frontend.release[:2]),
    ]
