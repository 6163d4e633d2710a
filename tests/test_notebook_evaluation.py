"""04's evaluation cell is the lesson's loop and counts what `evaluate` counts; 04 refuses an unusable checkpoint."""

from pathlib import Path

import nbformat
import pytest
import torch
from helpers import tiny_data

from mnist_tutorial import History, NeuralNetwork, TensorLoader, evaluate, save_checkpoint

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


def usable_checkpoint(dataset: str = "mnist"):
    namespace = {"dataset": dataset}
    exec("from mnist_tutorial import CheckpointError, load_checkpoint", namespace)  # 04's imports cell
    exec(code_cell("def usable_checkpoint"), namespace)
    return namespace["usable_checkpoint"]


def history(epochs: int) -> dict[str, list[float]]:
    return History([2.0] * epochs, [2.0] * epochs, [0.5] * epochs, [1.0] * epochs).to_dict()


def test_a_checkpoint_with_complete_epochs_is_used(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, model=NeuralNetwork(), dataset="mnist", history=history(2))
    state, problem = usable_checkpoint()(path)
    assert state["epoch"] == 2 and problem == ""


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (None, "is missing"),
        (lambda path: path.write_bytes(b"not a checkpoint"), "cannot be read"),
        (
            lambda path: save_checkpoint(path, model=NeuralNetwork(), dataset="mnist", history=history(0)),
            "holds no complete epoch",
        ),
        (
            lambda path: save_checkpoint(path, model=NeuralNetwork(), dataset="fashion", history=history(1)),
            "was trained on 'fashion', not 'mnist'",
        ),
    ],
)
def test_an_unusable_checkpoint_is_refused_in_a_sentence(tmp_path, write, problem):
    path = tmp_path / "model.pt"
    if write:
        write(path)
    state, said = usable_checkpoint()(path)
    assert state is None and said.startswith(problem)
