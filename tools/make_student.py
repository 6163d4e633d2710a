"""Write the practice copies of the course: `make student` (build/student/ by default).

The lesson notebooks (notebooks/*.ipynb, appendices included) and their markdown pages (the glossary), with
every output, execution count and recorded widget state cleared, and without notebooks/solutions/: ready for
a teacher to hand out. In each step the learner writes, marked in the worked notebook as an nbgrader solution
region (`### BEGIN SOLUTION` ... `### END SOLUTION`, in a cell whose metadata says `nbgrader.solution`), the
code becomes a stub: `# YOUR CODE HERE` and a `raise check.YourTurn(...)` naming the step, taken from the
comment line right above the region ("# the loaders: two DataLoaders ..." names "the loaders"). Run top to bottom,
a practice copy stops at its first stub with one line.

    python tools/make_student.py [OUT]
"""

import re
import shutil
import sys
from pathlib import Path

import nbformat

from mnist_tutorial.defaults import PRACTICE_MARKER

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "build" / "student"
# Written into every copy, so that a later run may replace the folder; any other non-empty folder is refused.
MARKER = PRACTICE_MARKER  # the room (mnist_tutorial/room) hands out only a folder that holds it
SOLUTION_LINK = re.compile(r"\[([^\]]*)\]\(solutions/[^)]*\)")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"  # nbgrader's delimiters


def stubbed(source: str) -> str:
    """`source` with each solution region replaced by a stub, indented as the region, naming the step above it."""
    lines, inside = [], False
    # a cell saved by %%writefile becomes a module of its own, where the notebook's `check` is not defined
    stop = "NotImplementedError" if source.startswith("%%writefile") else "check.YourTurn"
    for line in source.split("\n"):
        indent = line[: len(line) - len(line.lstrip())]
        if line.strip() == BEGIN:
            step = lines[-1].strip().removeprefix("#").strip() if lines and lines[-1].strip().startswith("#") else ""
            if inside:
                raise SystemExit(f"a solution region opened inside another ({END!r} missing): {line!r}")
            if not step:
                raise SystemExit(f"a solution region needs a comment right above it naming the step: {line!r}")
            lines += [f"{indent}# YOUR CODE HERE", f"{indent}raise {stop}({step.partition(':')[0]!r})"]
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise SystemExit(f"a solution region without {END!r}")
    return "\n".join(lines)


def cleared(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The practice copy: stubs for the learner's steps, no outputs, execution counts, timings or widget state.

    Links to the solutions, which the copy leaves out, become plain text that says where they come from.
    """
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "markdown":
            cell.source = SOLUTION_LINK.sub(r"\1 (from your teacher)", cell.source)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.source = stubbed(cell.source)
            cell.metadata.pop("nbgrader", None)
    notebook.metadata.pop("widgets", None)
    return notebook


def prepare(out: Path) -> None:
    """Create `out` empty; replace it only when an earlier run of this tool made it."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise SystemExit(f"{out} is not empty and was not written by make_student.py: choose another folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("Written by tools/make_student.py; replaced on every run.\n", encoding="utf-8")


def make_student(out: Path, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write the cleared lesson notebooks and the markdown pages of `notebooks` into `out`; return their paths."""
    prepare(out)
    written = []
    for page in sorted(notebooks.glob("*.md")):
        written.append(Path(shutil.copyfile(page, out / page.name)))
    for path in sorted(notebooks.glob("*.ipynb")):
        notebook = cleared(nbformat.read(path, as_version=4))
        nbformat.validate(notebook)
        nbformat.write(notebook, out / path.name)
        written.append(out / path.name)
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else OUT
    written = make_student(out)
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"{len(written)} files for students in {shown}/ (practice copies: the learner's steps as stubs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
