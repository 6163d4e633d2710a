"""The committed notebooks, read as files: clean outputs, a fresh run's execution, and the lesson's own code.

Every notebook under notebooks/ (solutions included) is found by glob, so a new one is checked as soon as it
exists. Outputs must hold nothing machine-specific (no absolute path) and no error, and every code cell must
have run, in order, in one fresh kernel (`make notebooks`). The lesson notebooks 01-04 hold no `assert`
(a learner's experiment must not trip one) and write the lesson's code themselves (issue 9's acceptance).
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest
from helpers import code_cells
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EVERY_NOTEBOOK = sorted(path for path in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts)
LESSONS = sorted(NOTEBOOKS.glob("0[1-4]_*.ipynb"))  # the lesson notebooks proper: 01_model .. 04_evaluation


HOME = str(Path.home())
# What betrays the machine that ran a notebook, by name: its folders, and installed or temporary files.
ABSOLUTE_PATHS = {
    "the repository's path": re.escape(str(ROOT)),
    "a site-packages path": r"/[^\s'\"]*site-packages",
    "a /tmp/ path": r"(?<![\w.])/tmp/",
    "a home folder": r"(?<![\w.])/(home|Users)/[^/\s]+/",
    # "/" as a home folder would match every path
    "this home folder": re.escape(HOME) + r"(?![\w.-])" if HOME != "/" else r"(?!)",
}


def name(path: Path) -> str:
    return str(path.relative_to(NOTEBOOKS))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def output_texts(output: nbformat.NotebookNode) -> list[str]:
    """The text a reader sees in one output: streams, text/* data (not images), and errors with tracebacks."""
    if output.output_type == "stream":
        return [output.text]
    if output.output_type == "error":
        return [output.ename, output.evalue, *output.traceback]
    data = output.get("data", {})
    return [
        "".join(value) if isinstance(value, list) else str(value) for mime, value in data.items() if mime[:5] == "text/"
    ]


@pytest.mark.parametrize("path", EVERY_NOTEBOOK, ids=name)
def test_committed_as_a_fresh_run_leaves_it_with_no_error_and_no_absolute_path(path: Path) -> None:
    cells = read(path).cells
    counts = [cell.execution_count for cell in cells if cell.cell_type == "code" and cell.source.strip()]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{name(path)}'s execution counts are {counts}: re-execute it top to bottom (`make notebooks`)"
    )
    outputs = [(index, output) for index, cell in enumerate(cells) for output in cell.get("outputs", [])]
    errors = [
        f"cell {index}: {output.get('ename', 'a traceback on stderr')}"
        for index, output in outputs
        if output.output_type == "error"
        or (output.output_type == "stream" and "Traceback (most recent call last)" in output.text)
    ]
    assert not errors, f"{name(path)} was committed with errors: {errors}"
    found = [
        f"cell {index}: {what}: {match.group(0)!r}"
        for index, output in outputs
        for text in output_texts(output)
        for what, pattern in ABSOLUTE_PATHS.items()
        if (match := re.search(pattern, text))
    ]
    assert not found, f"{name(path)} shows paths of the machine that ran it (print them relative instead): {found}"


def as_python(source: str) -> str:
    """A code cell as the plain Python IPython runs: magics and shell escapes become get_ipython() calls."""
    return TransformerManager().transform_cell(source)


@pytest.mark.parametrize("path", LESSONS, ids=name)
def test_no_assert_in_a_lesson_notebook(path: Path) -> None:
    asserts = []
    for index, cell in enumerate(read(path).cells):
        if cell.cell_type == "code":
            tree = ast.parse(as_python(cell.source), filename=f"{name(path)}, cell {index}")
            asserts += [f"cell {index}, line {node.lineno}" for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert not asserts, f"{name(path)} has asserts a learner's experiment could trip (print a verdict): {asserts}"


def test_magics_are_skipped_and_asserts_still_found() -> None:
    tree = ast.parse(as_python("%matplotlib inline\nfiles = !ls\nif files:\n    %time x = 2\n    assert x\nlen?"))
    assert sum(isinstance(node, ast.Assert) for node in ast.walk(tree)) == 1
    assert not any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(as_python("%%time\nassert 1\n"))))


# The lesson's code as the learner writes it in 01-04 (issue 9's acceptance): code cells, not printed output.
LESSON_CODE = [
    "class NeuralNetwork",
    "transforms.Normalize((0.5,), (0.5,))",
    "nn.CrossEntropyLoss()",
    "optim.SGD(",
    "optimizer.zero_grad()",
    "loss.backward()",
    "optimizer.step()",
]


def test_the_lesson_notebooks_write_the_lessons_code() -> None:
    assert [path.name[:2] for path in LESSONS] == ["01", "02", "03", "04"]
    source = "\n".join(cell.source for path in LESSONS for cell in code_cells(read(path)))
    assert [line for line in LESSON_CODE if line not in source] == [], "missing from the code cells of 01-04"


@pytest.mark.parametrize(
    ("lesson", "label", "line"),
    [
        ("03_training", "Loss:", r"\[Epoch 1, Batch \d+\] Loss: \d+\.\d{3}"),
        ("04_evaluation", "Test Accuracy:", r"Test Accuracy: \d+\.\d\d%"),
    ],
)
def test_the_lesson_prints_its_running_loss_and_accuracy_itself(lesson: str, label: str, line: str) -> None:
    """03's running loss and 04's test accuracy (what `make run` reports) come from a print() of the notebook's own."""
    cells = [cell for cell in code_cells(read(NOTEBOOKS / f"{lesson}.ipynb")) if "print(" in cell.source]
    printed = [
        text for cell in cells if label in cell.source for output in cell.outputs for text in output_texts(output)
    ]
    assert re.search(rf"^{line}$", "".join(printed), re.MULTILINE), f"{lesson} prints no line like {line!r} itself"


def exercise_numbers(notebook: nbformat.NotebookNode) -> set[int]:
    """The numbers of the exercises under a notebook's "Exercises" heading, up to the next heading of its level.

    An exercise starts a line with its number in bold (`**2. The shape after fc2.**`) or in a heading
    (`### Exercise 2`, `### 2. ...`).
    """
    numbers: set[int] = set()
    level = None
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            heading = re.match(r"^(#+)\s+(.*)", line)
            if heading and level is None and "Exercises" in heading.group(2):
                level = len(heading.group(1))
            elif heading and level is not None and len(heading.group(1)) <= level:
                return numbers
            elif level is not None and (found := re.match(r"^(?:\*\*|#+\s+)(?:Exercise\s+)?(\d+)[.:)]?", line)):
                numbers.add(int(found.group(1)))
    return numbers


@pytest.mark.parametrize("path", LESSONS, ids=name)
def test_each_lesson_ends_with_exercises_and_their_solutions(path: Path) -> None:
    numbers = exercise_numbers(read(path))
    assert len(numbers) >= 3, f"{name(path)} has exercises {sorted(numbers)} under an 'Exercises' heading: 3 or more"
    assert (NOTEBOOKS / "solutions" / path.name).is_file(), f"no solutions/{path.name}"


def test_exercises_are_counted_within_their_section() -> None:
    cells = [
        "## Settings\n**1. Not an exercise.**",
        "## Exercises\n**1. One.**",
        "**2. Two.**\n### Exercise 3",
        "## Summary\n**4. No.**",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source) for source in cells])
    assert exercise_numbers(notebook) == {1, 2, 3}


def heading_slugs(markdown: str) -> set[str]:
    """The headings of a Markdown text, as written and as GitHub's anchors spell them."""
    titles = [line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("#")]
    return set(titles) | {re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-") for title in titles}


@pytest.mark.parametrize("path", EVERY_NOTEBOOK, ids=name)
def test_every_reference_points_at_something_that_exists(path: Path) -> None:
    text = "\n".join(cell.source for cell in read(path).cells if cell.cell_type == "markdown")
    text += "\n".join(line for cell in code_cells(read(path)) for line in cell.source.splitlines() if "#" in line)
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://")):
            assert (path.parent / target).is_file(), f"{name(path)} links to {target}, which is not there"
    for number in re.findall(r"\b[Ss]ee (0\d)\b", text):
        assert list(NOTEBOOKS.glob(f"{number}_*.ipynb")), f"{name(path)} sends the reader to {number}"
    for heading, page in re.findall(r'see "([^"]+)" in the course\'s `([\w/.-]+\.md)`', text):
        assert heading in heading_slugs((ROOT / page).read_text(encoding="utf-8")), f"{page} has no {heading!r}"
    for page in re.findall(r"`((?:docs|benchmarks)/[\w-]+\.md)", text):
        assert (ROOT / page).is_file(), f"{name(path)} cites {page}, which is not there"


def test_the_teachers_guide_times_every_notebook() -> None:
    guide = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
    timed = set(re.findall(r"^\| `(\d\d_\w+)`[^|]*\| [\d.]+ \|$", guide, re.MULTILINE))
    assert timed == {path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
