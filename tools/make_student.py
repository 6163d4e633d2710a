"""Write the students' copy of the course: `make student` (build/student/ by default).

The lesson notebooks (notebooks/*.ipynb, appendices included) and their markdown pages (the glossary), with
every output, execution count and recorded widget state cleared, and without notebooks/solutions/: ready for
a teacher to hand out.

    python tools/make_student.py [OUT]
"""

import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "build" / "student"
# Written into every copy, so that a later run may replace the folder; any other non-empty folder is refused.
MARKER = ".student-copy"
SOLUTION_LINK = re.compile(r"\[([^\]]*)\]\(solutions/[^)]*\)")


def cleared(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with no outputs, no execution counts, no per-cell timings and no saved widget state.

    Links to the solutions, which the copy leaves out, become plain text that says where they come from.
    """
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "markdown":
            cell.source = SOLUTION_LINK.sub(r"\1 (from your teacher)", cell.source)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
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
    print(f"{len(written)} files for students in {shown}/ (outputs cleared, no solutions)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
