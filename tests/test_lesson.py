"""notebooks/lesson.py is the whole lesson in one program: the cell at the end of 04, and 03 + 04's accuracy."""

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import run_with_deadline

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSON = NOTEBOOKS / "lesson.py"
ACCURACY = re.compile(r"^Test Accuracy: (\d+\.\d\d)%$", re.MULTILINE)


def committed_text(name: str) -> str:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    return "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)


def test_04_ends_with_the_same_program():
    notebook = nbformat.read(NOTEBOOKS / "04_evaluation.ipynb", as_version=4)
    (cell,) = [cell for cell in notebook.cells if cell.cell_type == "code" and "class NeuralNetwork" in cell.source]
    assert cell.source == LESSON.read_text().rstrip("\n")
    assert notebook.cells.index(cell) > max(i for i, c in enumerate(notebook.cells) if "## Exercises" in c.source)


@pytest.mark.slow
def test_the_program_runs_as_is_and_ends_with_03_and_04s_accuracy(tmp_path):
    env = {**os.environ, "MNIST_TUTORIAL_SOURCE": "sample", "MNIST_TUTORIAL_OFFLINE": "1"}
    run = run_with_deadline(
        [sys.executable, LESSON], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    assert ACCURACY.findall(run.stdout) == ACCURACY.findall(committed_text("04_evaluation.ipynb"))[:1]
    assert ACCURACY.findall(run.stdout) == ACCURACY.findall(committed_text("03_training.ipynb"))[:1]
    assert "[Epoch 10, Batch 100] Loss: " in run.stdout and not any(tmp_path.iterdir())  # writes nothing
