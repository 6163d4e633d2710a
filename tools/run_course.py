"""Execute the course's notebooks headless, in order, into build/notebooks/, and report the accuracy.

Used by `make run`. The lessons and appendices (not the solutions) each run in a fresh kernel from the
notebooks/ folder, exactly as a learner would run them, with the seconds each took; the first failing
cell stops the run with its error. The execution itself is tools/execute_notebooks.py's, shared with
`make notebooks`.
"""

import re
import sys
import time

import nbformat
from execute_notebooks import FAILURES, NOTEBOOKS, ROOT, execute, lesson_notebooks

OUT = ROOT / "build" / "notebooks"
ACCURACY = re.compile(r"Test Accuracy: \d+\.\d+%")


def reported_accuracy(notebook: nbformat.NotebookNode) -> str | None:
    """The last `Test Accuracy: xx.xx%` that a notebook's outputs print, or None."""
    texts = [output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])]
    found = [hit for text in texts for hit in ACCURACY.findall(text)]
    return found[-1] if found else None


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    accuracy, started = None, time.perf_counter()
    for path in lesson_notebooks():
        notebook = nbformat.read(path, as_version=4)
        copy = OUT / path.name
        try:
            seconds = execute(notebook, NOTEBOOKS)
        except FAILURES as error:
            nbformat.write(notebook, copy)
            print(f"{path.name} failed:\n{error}", file=sys.stderr)
            return 1
        nbformat.write(notebook, copy)
        print(f"{path.name}: {seconds:.1f} s -> {copy.relative_to(ROOT)}", flush=True)
        found = reported_accuracy(notebook)
        accuracy = f"{found} (as {path.stem} reports it)" if found else accuracy
    print(f"All notebooks ran in {time.perf_counter() - started:.1f} s")
    print(accuracy or "No notebook printed a 'Test Accuracy' line.", flush=True)
    return 0 if accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
