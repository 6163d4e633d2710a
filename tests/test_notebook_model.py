"""Notebook 01 writes the lesson's class itself: it must be the package's network, and its settings feed the run."""

import re
from pathlib import Path

import nbformat
import pytest
import torch
from helpers import same_weights
from nbclient import NotebookClient

import mnist_tutorial

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


def test_notebook_class_has_the_lessons_parameter_count_by_default():
    # 784*128 + 128 + 128*64 + 64 + 64*10 + 10, counted by hand
    assert sum(p.numel() for p in notebook_class()().parameters()) == 109_386


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))


def test_the_sizes_at_the_top_of_the_class_cell_feed_the_run(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    settings = code_cell(notebook, SETTINGS.pattern)
    settings.source = SETTINGS.sub("hidden1 = 256", settings.source)
    resources = {"metadata": {"path": str(tmp_path)}}  # a learner's copy, in a folder of its own
    NotebookClient(notebook, timeout=120, resources=resources).execute()

    out = printed(notebook)
    # 784*256 + 256 + 256*64 + 64 + 64*10 + 10 = 218,058, worked out by hand
    assert "parameters: 218,058 = 784·256+256 + 256·64+64 + 64·10+10: matches the formula" in out
    assert "(64, 256)" in out  # fc1's output in the shape table
    assert "same parameter names and shapes as mnist_tutorial.NeuralNetwork: yes" in out
