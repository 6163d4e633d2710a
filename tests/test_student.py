"""tools/make_student.py (`make student`): the lesson notebooks, cleared, without the solutions."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
make_student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_student)

LESSONS = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("student")
    make_student.make_student(out)
    return out


def test_every_lesson_notebook_and_the_glossary_and_nothing_else(student: Path) -> None:
    assert len(LESSONS) >= 5  # 00-05 at least: the glob found the course
    expected = {path.name for path in LESSONS} | {"glossary.md", make_student.MARKER}
    assert {path.name for path in student.iterdir()} == expected  # no solutions/ folder, no stray files


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.name)
def test_each_copy_is_its_lesson_cleared_and_valid(student: Path, lesson: Path) -> None:
    copy = nbformat.read(student / lesson.name, as_version=4)
    nbformat.validate(copy)
    original = nbformat.read(lesson, as_version=4)
    # the lesson itself (not its solution), cell for cell; only links to the solutions become plain text
    code_sources = [cell.source for cell in copy.cells if cell.cell_type == "code"]
    assert code_sources == [cell.source for cell in original.cells if cell.cell_type == "code"]
    unlinked = [make_student.SOLUTION_LINK.sub(r"\1 (from your teacher)", cell.source) for cell in original.cells]
    assert [cell.source for cell in copy.cells] == unlinked
    code = [cell for cell in copy.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert all("execution" not in cell.metadata for cell in copy.cells)
    assert "widgets" not in copy.metadata


def test_the_committed_lessons_have_outputs_to_clear() -> None:
    code = [cell for path in LESSONS for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    assert any(cell.outputs for cell in code)  # else the clearing above would prove nothing


def test_a_second_run_replaces_its_own_folder(tmp_path: Path) -> None:
    out = tmp_path / "student"
    make_student.make_student(out)
    (out / "stale.ipynb").write_text("{}", encoding="utf-8")
    make_student.make_student(out)
    assert not (out / "stale.ipynb").exists()


def test_a_folder_it_did_not_write_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "homework.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SystemExit, match="not written by make_student"):
        make_student.make_student(tmp_path)
    assert (tmp_path / "homework.txt").read_text(encoding="utf-8") == "mine"


def test_student_copies_have_no_links_to_the_solutions_they_leave_out(tmp_path):
    out = tmp_path / "student"
    make_student.make_student(out)
    exercises = [path for path in out.glob("0[1-4]_*.ipynb")]
    assert exercises
    for path in exercises:
        text = " ".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
        assert "](solutions/" not in text, path.name
        assert "(from your teacher)" in text, path.name
