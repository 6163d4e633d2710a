"""04's evaluation cell is the lesson's loop and counts what `evaluate` counts."""

from pathlib import Path

import nbformat
import pytest
import torch
from helpers import tiny_data

from mnist_tutorial import NeuralNetwork, TensorLoader, evaluate

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_evaluation.ipynb"


def code_cell(containing: str) -> str:
    """The source of the one code cell of 04 that contains `containing` (the whole program at its end aside)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code" and "class NeuralNetwork" not in c.source]
    (source,) = [c.source for c in cells if containing in c.source]
    return source


def test_the_evaluation_cell_holds_the_lessons_lines():
    source = code_cell("torch.no_grad()")
    for line in (
        "outputs = model(images.view(-1, 784))",
        "_, predicted = torch.max(outputs.data, 1)",
        "total += labels.size(0)",
        "correct += (predicted == labels).sum().item()",
        'print(f"Test Accuracy: {100 * correct / total:.2f}%")',
    ):
        assert line in source


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000])
def test_the_evaluation_cell_counts_what_evaluate_counts(capsys, batch_size):
    data = tiny_data()
    torch.manual_seed(0)
    model = NeuralNetwork()  # untrained: a few images right by chance, most wrong
    loader = TensorLoader(data.test.images, data.test.labels, batch_size=batch_size, shuffle=False)
    namespace = {"torch": torch, "model": model, "test_loader": loader}
    exec(code_cell("torch.no_grad()"), namespace)
    _, accuracy = evaluate(model, loader)
    assert namespace["total"] == len(data.test) == 64
    assert 0 < namespace["correct"] < namespace["total"]
    assert namespace["correct"] / namespace["total"] == accuracy
    assert capsys.readouterr().out == f"Test Accuracy: {100 * accuracy:.2f}%\n"
