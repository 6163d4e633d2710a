"""Execute the course's notebooks headless, in order, into build/notebooks/, and report the accuracy.

Used by `make run`. Each notebook runs in its own fresh kernel from the notebooks/ folder, exactly as a
learner would run it; the first failing cell stops the run with its error.
"""

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, CellExecutionError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "build" / "notebooks"
ACCURACY = re.compile(r"Test Accuracy: \d+\.\d+%")
# The kernel's own log (e.g. ipykernel's note that a local kernel talks over unencrypted TCP) is noise here:
# errors in cells still stop the run with their traceback.
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    accuracy = None
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        resources = {"metadata": {"path": str(NOTEBOOKS)}}
        started = time.perf_counter()
        try:
            NotebookClient(notebook, timeout=600, resources=resources, extra_arguments=QUIET_KERNEL).execute()
        except (CellExecutionError, CellControlSignal, DeadKernelError) as error:  # a failing cell, a timeout
            nbformat.write(notebook, OUT / path.name)
            print(f"{path.name} failed:\n{error}", file=sys.stderr)
            return 1
        nbformat.write(notebook, OUT / path.name)
        print(f"{path.name}: ran in {time.perf_counter() - started:.1f} s -> {OUT / path.name}")
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                found = ACCURACY.findall(output.get("text", ""))
                accuracy = f"{found[-1]} (as {path.stem} reports it)" if found else accuracy
    print(accuracy or "No notebook printed a 'Test Accuracy' line.", flush=True)
    return 0 if accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
