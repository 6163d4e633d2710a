"""The notebooks' setup cell: first, once, idempotent; installs the course only on a hosted runtime."""

import os
import shutil
from types import SimpleNamespace

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from IPython.utils.text import DollarFormatter

from tools import repository, setup_cell

NOTEBOOK = setup_cell.ROOT / "notebooks" / "01_model.ipynb"
HOMES = ("/content", "/kaggle", "/home/studio-lab-user")  # Colab, Kaggle, SageMaker Studio Lab


@pytest.fixture
def notebook(tmp_path):
    """A copy of 01 without its setup cell, as a notebook is before the tool first runs on it."""
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)  # never the real notebooks
    bare = nbformat.read(copy, as_version=4)
    bare.cells = [cell for cell in bare.cells if "setup" not in cell.metadata.get("tags", [])]
    nbformat.write(bare, copy)
    return copy


def test_every_committed_notebook_has_the_current_setup_cell(tmp_path):
    for path in [*NOTEBOOK.parent.glob("*.ipynb"), *NOTEBOOK.parent.glob("solutions/*.ipynb")]:
        copy = tmp_path / path.name
        shutil.copy(path, copy)
        assert setup_cell.refresh(copy) is False, f"{path.name}: run python tools/setup_cell.py"


def test_the_cell_goes_first_once_and_a_second_run_changes_nothing(notebook):
    before = nbformat.read(notebook, as_version=4)
    assert setup_cell.refresh(notebook) is True
    written = notebook.read_bytes()
    assert setup_cell.refresh(notebook) is False
    assert notebook.read_bytes() == written
    after = nbformat.read(notebook, as_version=4)
    assert after.cells[0].source == setup_cell.SOURCE and after.cells[0].metadata.tags == ["setup"]
    assert [cell.source for cell in after.cells[1:]] == [cell.source for cell in before.cells]
    assert len([line for line in setup_cell.SOURCE.splitlines() if line.strip()]) <= 3  # read past at a glance


def test_an_old_setup_cell_is_replaced_not_added(notebook):
    setup_cell.refresh(notebook)
    stale = nbformat.read(notebook, as_version=4)
    stale.cells[0].source = "# an older setup cell"
    stale.cells.append(stale.cells.pop(0))  # even when it has moved
    nbformat.write(stale, notebook)
    assert setup_cell.refresh(notebook) is True
    cells = nbformat.read(notebook, as_version=4).cells
    assert [cell.source for cell in cells].count(setup_cell.SOURCE) == 1
    assert "# an older setup cell" not in [cell.source for cell in cells]


def run_cell(monkeypatch, home: str | None) -> list[str]:
    """Run the setup cell as IPython would where `home` (a hosted runtime's folder, or None) exists; returns the
    %pip lines it ran."""
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda path: path == home if path in HOMES else real_isdir(path))
    calls, namespace = [], {}
    shell = SimpleNamespace(
        run_line_magic=lambda name, line: calls.append(f"{name} {DollarFormatter().format(line, **namespace)}")
    )
    namespace["get_ipython"] = lambda: shell
    exec(TransformerManager().transform_cell(setup_cell.SOURCE), namespace)
    return calls


@pytest.mark.parametrize("home", [None, *HOMES])
def test_a_hosted_runtime_installs_the_course_and_elsewhere_the_cell_does_nothing(monkeypatch, home):
    monkeypatch.delenv(repository.INSTALL_ENV, raising=False)
    expected = [f"pip install --quiet {repository.INSTALL_SOURCE}"] if home else []
    assert run_cell(monkeypatch, home) == expected


def test_the_install_source_is_one_constant_an_environment_variable_overrides(monkeypatch):
    assert repository.INSTALL_SOURCE in setup_cell.SOURCE
    monkeypatch.setenv(repository.INSTALL_ENV, "mnist-tutorial==0.1.0")
    assert run_cell(monkeypatch, "/content") == ["pip install --quiet mnist-tutorial==0.1.0"]
