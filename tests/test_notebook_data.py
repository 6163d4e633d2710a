"""Notebook 02 builds the lesson's loaders from its settings, over the course's data, wherever it runs."""

import re
from pathlib import Path

import nbformat
import pytest
from helpers import execute

from mnist_tutorial.defaults import SOURCE_ENV

pytestmark = pytest.mark.slow  # make check leaves these to make test

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_data.ipynb"
SETTING = re.compile(r"^batch_size = \d+", re.MULTILINE)


def test_the_batch_size_setting_feeds_the_loaders_and_no_data_folder_appears(tmp_path, monkeypatch):
    monkeypatch.setenv(SOURCE_ENV, "sample")  # the kernel inherits it: the sample's counts, even where full MNIST is
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    settings = next(cell for cell in notebook.cells if cell.cell_type == "code" and SETTING.search(cell.source))
    settings.source = SETTING.sub("batch_size = 100", settings.source)
    out = "\n".join(execute(notebook, tmp_path))
    assert "80 batches per epoch, 20 test batches" in out  # the sample's 8,000 and 2,000 images in batches of 100
    assert "inputs: (100, 1, 28, 28) torch.float32" in out
    assert list(tmp_path.iterdir()) == []  # the lesson's root='./data' would have made a data/ folder here
