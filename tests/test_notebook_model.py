"""Notebook 01 writes the lesson's class itself: it must be the package's network, and its settings feed the run."""

import re
from pathlib import Path

import nbformat
import pytest
import torch
from helpers import code_cells, cut_after, execute, same_weights, writing_into

import mnist_tutorial
from mnist_tutorial.defaults import DEVICE_ENV, PROGRESS_ENV, SOURCE_ENV

pytestmark = pytest.mark.slow  # make check leaves these to make test

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_model.ipynb"
SETTINGS = re.compile(r"(?m)^hidden1 = \d+")


def code_cell(notebook: nbformat.NotebookNode, pattern: str) -> nbformat.NotebookNode:
    """The first code cell whose source matches `pattern`."""
    return next(cell for cell in notebook.cells if cell.cell_type == "code" and re.search(pattern, cell.source))


def notebook_class(**settings: int) -> type[torch.nn.Module]:
    """The notebook's NeuralNetwork: its class cell, the file %%writefile saves, run with `settings` for its sizes."""
    source = code_cell(nbformat.read(NOTEBOOK, as_version=4), r"class NeuralNetwork\(").source
    assert source.startswith("%%writefile network.py\n")
    namespace: dict[str, object] = {}
    exec(source.partition("\n")[2], namespace)
    namespace.update(settings)  # the class reads its sizes from the file's globals when it is built
    return namespace["NeuralNetwork"]  # type: ignore[return-value]


# By default, the package's default network, whose 109,386 parameters test_model.py counts.
@pytest.mark.parametrize("sizes", [{}, {"hidden1": 32, "hidden2": 16}])
def test_notebook_class_is_the_package_network(sizes):
    ours = notebook_class(**sizes)()
    theirs = mnist_tutorial.NeuralNetwork(*sizes.values())
    shapes = [(name, p.shape) for name, p in ours.named_parameters()]
    assert shapes == [(name, p.shape) for name, p in theirs.named_parameters()]

    theirs.load_state_dict(ours.state_dict())
    assert same_weights(ours, theirs)
    images = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ours(images), theirs(images))  # bit for bit, the same computation


def test_the_sizes_at_the_top_of_the_class_cell_carry_through_03_04_and_08(tmp_path, monkeypatch):
    for name, value in {SOURCE_ENV: "sample", DEVICE_ENV: "cpu", PROGRESS_ENV: "text"}.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    settings = code_cell(notebook, SETTINGS.pattern)
    settings.source = SETTINGS.sub("hidden1 = 256", settings.source)
    out = "\n".join(execute(notebook, tmp_path))  # a learner's copy, in a folder of its own
    # 784*256 + 256 + 256*64 + 64 + 64*10 + 10 = 218,058, worked out by hand
    assert "parameters: 218,058 = 784·256+256 + 256·64+64 + 64·10+10: matches the formula" in out
    assert "(64, 256)" in out  # fc1's output in the shape table
    assert "same parameter names and shapes as mnist_tutorial.NeuralNetwork: yes" in out

    network = "your network from 01 (network.py): 784 → 256 → 64 → 10, 218,058 parameters"
    training = nbformat.read(NOTEBOOK.with_name("03_training.ipynb"), as_version=4)
    (settings,) = [cell for cell in code_cells(training) if cell.source.startswith("lr = ")]
    settings.source = settings.source.replace("num_epochs = 10", "num_epochs = 1")
    assert network in execute(writing_into(training, tmp_path), tmp_path)
    evaluation = nbformat.read(NOTEBOOK.with_name("04_evaluation.ipynb"), as_version=4)
    judged = execute(cut_after(writing_into(evaluation, tmp_path), "check.loaded("), tmp_path)
    assert network in judged and "Correct: the saved weights, in evaluation mode" in judged
    assert any(line.startswith("judging your network from 03 (") for line in judged)
    deploy = nbformat.read(NOTEBOOK.with_name("08_deploy.ipynb"), as_version=4)
    exported = execute(cut_after(writing_into(deploy, tmp_path), "onnx_mb, weights_mb"), tmp_path)
    assert any("your network's 218,058 numbers of 4 bytes make 0.9 MB of it" in line for line in exported)
