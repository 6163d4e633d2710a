"""The notebooks' setup cell: first, once, idempotent; installs only on a hosted runtime lacking the course."""

import importlib.util
import os
import shutil
import sys
import types
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from IPython.utils.text import DollarFormatter

TOOLS = Path(__file__).resolve().parent.parent / "tools"
sys.path.insert(0, str(TOOLS))
import repository  # noqa: E402
import setup_cell  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_model.ipynb"
PIP_LINE = "install --quiet {INSTALL}"


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
    folder = NOTEBOOK.parent
    for path in [*folder.glob("*.ipynb"), *folder.glob("solutions/*.ipynb")]:
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
    assert [cell.source for cell in after.cells[1:]] == [
        cell.source for cell in before.cells if "setup" not in cell.metadata.get("tags", [])
    ]


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


def run_cell(monkeypatch, *, installed: bool) -> list[str]:
    """Run the setup cell as IPython would; returns the %pip lines it ran."""
    calls = []
    namespace = {}
    shell = types.SimpleNamespace(
        run_line_magic=lambda magic, line: calls.append(f"{magic} {DollarFormatter().format(line, **namespace)}")
    )
    namespace["get_ipython"] = lambda: shell
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (
            (real_find_spec(name, *a) if installed else None) if name == "mnist_tutorial" else real_find_spec(name, *a)
        ),
    )
    exec(TransformerManager().transform_cell(setup_cell.SOURCE), namespace)
    return calls


@pytest.fixture
def local(monkeypatch):
    """A machine that is none of the hosted runtimes, whatever this one is."""
    monkeypatch.delenv(repository.INSTALL_ENV, raising=False)
    hosted_home(monkeypatch, None)


def hosted_home(monkeypatch, home: str | None) -> None:
    """Make `home` (one of the hosted runtimes' notebook folders) exist, and the others not."""
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda path: path == home if path in HOMES else real_isdir(path))


HOMES = ("/content", "/kaggle", "/home/studio-lab-user")


def colab(monkeypatch):
    hosted_home(monkeypatch, "/content")


def kaggle(monkeypatch):
    hosted_home(monkeypatch, "/kaggle")


def studio_lab(monkeypatch):
    hosted_home(monkeypatch, "/home/studio-lab-user")


@pytest.mark.parametrize("runtime", [colab, kaggle, studio_lab])
def test_a_hosted_runtime_without_the_course_installs_it(local, monkeypatch, runtime):
    runtime(monkeypatch)
    assert run_cell(monkeypatch, installed=False) == [f"pip install --quiet {repository.INSTALL_SOURCE}"]


def test_the_cell_is_at_most_three_lines_of_code():
    assert len([line for line in setup_cell.SOURCE.splitlines() if line.strip()]) <= 3


def test_locally_the_cell_does_nothing_even_without_the_course(local, monkeypatch):
    assert run_cell(monkeypatch, installed=False) == []


def test_the_install_source_is_one_constant_an_environment_variable_overrides(local, monkeypatch):
    assert repository.INSTALL_SOURCE in setup_cell.SOURCE
    colab(monkeypatch)
    monkeypatch.setenv(repository.INSTALL_ENV, "mnist-tutorial==0.1.0")
    assert run_cell(monkeypatch, installed=False) == ["pip install --quiet mnist-tutorial==0.1.0"]
