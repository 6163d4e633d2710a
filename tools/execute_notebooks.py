"""Re-execute every notebook in place, exactly as nbval will check it: `make notebooks`.

The maintainer's loop: edit a notebook, `make notebooks` to regenerate its committed outputs, `make test`.
Each notebook (notebooks/*.ipynb, then notebooks/solutions/*.ipynb) runs in a fresh kernel from its own
folder, under nbval's settings: the embedded sample, the CPU, no network, text progress. The first failing
cell stops the run with its error and a non-zero exit, and leaves that notebook's file as it was.

`execute` is shared with tools/run_course.py (`make run`), which runs copies into build/notebooks/.
"""

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, CellExecutionError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
# What nbval's kernels see under `make test` (the root conftest.py sets the same as defaults for bare pytest).
NOTEBOOK_ENV = {
    "MNIST_TUTORIAL_OFFLINE": "1",
    "MNIST_TUTORIAL_SOURCE": "sample",
    "MNIST_TUTORIAL_DEVICE": "cpu",
    "MNIST_TUTORIAL_PROGRESS": "text",
}
CELL_TIMEOUT_S = 600  # as nbval's --nbval-cell-timeout in pyproject.toml
# The kernel's own log (e.g. ipykernel's note that a local kernel talks over unencrypted TCP) is noise here:
# errors in cells still stop the run with their traceback.
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]
FAILURES = (CellExecutionError, CellControlSignal, DeadKernelError)  # a failing cell, a timeout, a dead kernel


class NotebookFailed(Exception):
    """A notebook stopped at a failing cell: the message names the notebook and carries the cell's error."""


def execute(notebook: nbformat.NotebookNode, folder: Path) -> float:
    """Run every cell of `notebook` in a fresh kernel started in `folder`; return the seconds it took.

    The outputs land in `notebook` itself. Per-cell timestamps are neither recorded nor kept, so that
    re-running an unchanged notebook changes only what the sanitize file masks.
    """
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(folder)}},
        extra_arguments=QUIET_KERNEL,
        record_timing=False,
    )
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    settle(notebook, folder)
    return seconds


def settle(notebook: nbformat.NotebookNode, folder: Path) -> None:
    """Make outputs that vary only by accident the same on every run, in place.

    A kernel flushes printed text when it happens to, so one cell's lines arrive as one stream output or as
    several: consecutive streams are joined. Widgets get random ids: they are renumbered in creation order.
    """
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = joined_streams(cell.outputs)
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state")
    if state:
        text = json.dumps(notebook)
        for index, old in enumerate(list(state)):
            text = text.replace(old, hashlib.md5(f"{folder.name}/{index}".encode()).hexdigest())
        notebook.clear()
        notebook.update(nbformat.from_dict(json.loads(text)))


def joined_streams(outputs: list) -> list:
    """`outputs` with each run of consecutive stream outputs to the same stream joined into one."""
    joined: list = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            output.output_type == "stream"
            and previous
            and previous.output_type == "stream"
            and (previous.name == output.name)
        ):
            previous.text += output.text
        else:
            joined.append(output)
    return joined


def lesson_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The lessons and appendices (NN_name.ipynb) in `folder`, in course order; not the solutions."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def all_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """Every notebook nbval checks: `folder`/*.ipynb in order, then `folder`/solutions/*.ipynb."""
    return sorted(folder.glob("*.ipynb")) + sorted((folder / "solutions").glob("*.ipynb"))


def execute_in_place(paths: Iterable[Path]) -> None:
    """Execute each notebook from its own folder and write it back; raise NotebookFailed at the first error."""
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        try:
            seconds = execute(notebook, path.parent)
        except FAILURES as error:
            seconds = time.perf_counter() - started
            raise NotebookFailed(f"{shown(path)} failed after {seconds:.1f} s:\n{error}") from None
        nbformat.write(notebook, path)
        print(f"{shown(path)}: {seconds:.1f} s", flush=True)


def shown(path: Path) -> str:
    """A notebook's path as the maintainer reads it: relative to the project where it lies inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str]) -> int:
    os.environ.update(NOTEBOOK_ENV)  # committed outputs must be what nbval reproduces, whatever the shell says
    paths = [Path(arg).resolve() for arg in argv] or all_notebooks()
    started = time.perf_counter()
    try:
        execute_in_place(paths)
    except NotebookFailed as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{len(paths)} notebooks executed in place in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
