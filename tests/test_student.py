"""tools/make_student.py (`make student`): practice copies in which the learner writes the lesson's steps."""

import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from helpers import code_cells, execute
from nbclient.exceptions import CellExecutionError

from mnist_tutorial.defaults import SOURCE_ENV
from tools import make_student

ROOT, NOTEBOOKS = make_student.ROOT, make_student.NOTEBOOKS
LESSONS = sorted(NOTEBOOKS.glob("*.ipynb"))
# A stub's second line: the notebook's one-line stop, or, in a file that %%writefile saves, Python's own.
STUB = re.compile(r"raise (?:check\.YourTurn|NotImplementedError)\((.*)\)")
# The steps the README says the learner writes, in the order a practice copy meets them.
STEPS = {
    "01_model.ipynb": ["the layers", "forward"],
    "02_data.ipynb": ["the transform and the datasets", "the loaders"],
    "03_training.ipynb": ["the loss and the optimizer", "the step", "the checkpoint"],
    "04_evaluation.ipynb": ["the network from 03", "the evaluation loop"],
}


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("student")
    make_student.make_student(out)
    return out


def cells_of(path: Path) -> list[nbformat.NotebookNode]:
    return code_cells(nbformat.read(path, as_version=4))


def regions(source: str) -> list[list[str]]:
    """The lines of each solution region in `source`, delimiters left out."""
    found, inside = [], False
    for line in source.split("\n"):
        if line.strip() in (make_student.BEGIN, make_student.END):
            inside = line.strip() == make_student.BEGIN
            found += [[]] if inside else []
        elif inside:
            found[-1].append(line)
    return found


def test_every_lesson_notebook_and_the_glossary_and_nothing_else(student: Path) -> None:
    assert len(LESSONS) >= 5  # 00-05 at least: the glob found the course
    expected = {path.name for path in LESSONS} | {"glossary.md", make_student.MARKER}
    assert {path.name for path in student.iterdir()} == expected  # no solutions/ folder, no stray files


@pytest.mark.parametrize("name", STEPS)
def test_the_worked_notebook_marks_each_step_as_nbgrader_reads_it(name: str) -> None:
    cells = cells_of(NOTEBOOKS / name)
    marked = [cell for cell in cells if make_student.BEGIN in cell.source]
    # nbgrader refuses a region outside a solution cell, and needs a grade_id unique in the notebook
    assert all(cell.metadata.get("nbgrader", {}).get("solution") is True for cell in marked)
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in cells if "nbgrader" in cell.metadata]
    assert len(ids) == len(set(ids)) == len(marked)
    named = [line.strip() for cell in marked for line in make_student.stubbed(cell.source).split("\n")]
    assert [STUB.fullmatch(line)[1] for line in named if line.startswith("raise")] == [repr(s) for s in STEPS[name]]
    for cell in marked:  # the step's check runs in one of the next two code cells
        after = cells[cells.index(cell) + 1 : cells.index(cell) + 3]
        assert any("check." in later.source for later in after), cell.source


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name)
def test_each_copy_is_its_lesson_with_stubs_and_nothing_else_changed(student: Path, lesson: Path) -> None:
    copy = nbformat.read(student / lesson.name, as_version=4)
    nbformat.validate(copy)
    original = nbformat.read(lesson, as_version=4)
    assert [cell.cell_type for cell in copy.cells] == [cell.cell_type for cell in original.cells]
    for mine, worked in zip(copy.cells, original.cells, strict=True):
        if worked.cell_type == "markdown":  # only links to the solutions, left out, become plain text
            assert mine.source == make_student.SOLUTION_LINK.sub(r"\1 (from your teacher)", worked.source)
            assert "](solutions/" not in mine.source
            continue
        assert mine.outputs == [] and mine.execution_count is None and "nbgrader" not in mine.metadata
        # Filling each stub with its region gives back the worked cell: the rest of the code is the same.
        answers, filled = iter(regions(worked.source)), []
        for line in mine.source.split("\n"):
            if line.strip() == "# YOUR CODE HERE":
                filled += next(answers)
            elif not STUB.fullmatch(line.strip()):
                filled.append(line)
        without_delimiters = [
            line for line in worked.source.split("\n") if line.strip() not in (make_student.BEGIN, make_student.END)
        ]
        assert filled == without_delimiters
    assert all("execution" not in cell.metadata for cell in copy.cells)
    assert "widgets" not in copy.metadata
    assert (lesson.name not in STEPS) or "(from your teacher)" in " ".join(cell.source for cell in copy.cells)


def test_the_committed_lessons_have_outputs_to_clear() -> None:
    assert any(cell.outputs for path in LESSONS for cell in cells_of(path))  # else the clearing proves nothing


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_model.ipynb", "02_data.ipynb", "03_training.ipynb"])
def test_an_untouched_practice_copy_stops_at_its_first_step_with_one_line(
    student: Path, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SOURCE_ENV, "sample")
    notebook = nbformat.read(student / name, as_version=4)
    with pytest.raises(CellExecutionError):
        execute(notebook, tmp_path)
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert [error.traceback for error in errors] == [
        [f"Your turn: write {STEPS[name][0]} where this notebook says YOUR CODE HERE, then run on from that cell."]
    ]


def test_a_region_without_a_comment_naming_its_step_is_refused() -> None:
    with pytest.raises(SystemExit, match="comment right above"):
        make_student.stubbed("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION")


def test_a_second_run_replaces_its_own_folder_and_leaves_any_other_alone(tmp_path: Path) -> None:
    (tmp_path / "homework.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SystemExit, match="not written by make_student"):
        make_student.make_student(tmp_path)
    assert (tmp_path / "homework.txt").read_text(encoding="utf-8") == "mine"
    out = tmp_path / "student"
    make_student.make_student(out)
    (out / "stale.ipynb").write_text("{}", encoding="utf-8")
    make_student.make_student(out)
    assert not (out / "stale.ipynb").exists()


def test_the_room_opens_the_practice_copies_and_never_rewrites_them() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # as typed, not from within `make test`
    command = ["make", "--no-print-directory", "-n", "lab", "ROOM=1"]
    recipe = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    lines = recipe.stdout.replace("\\\n", " ").splitlines()
    assert any(
        line.startswith("test -d build/student || ") and "make_student.py build/student" in line for line in lines
    )
    assert "jupyterlab build/student/" in " ".join(lines[-1].split()) and "notebooks/" not in lines[-1]
