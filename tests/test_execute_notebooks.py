"""tools/execute_notebooks.py (`make notebooks`): in place, from the notebook's folder, under nbval's settings."""

import json
from pathlib import Path

import nbformat
import pytest

from tools import execute_notebooks


def write_notebook(path: Path, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells[0].metadata["execution"] = {"iopub.execute_input": "2020-01-01T00:00:00Z"}  # a stale timing
    nbformat.write(notebook, path)
    return path


@pytest.fixture(autouse=True)
def own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() sets nbval's variables in this process: give them back afterwards."""
    for name in execute_notebooks.NOTEBOOK_ENV:
        monkeypatch.delenv(name, raising=False)


def test_runs_in_place_from_its_folder_under_nbvals_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MNIST_TUTORIAL_SOURCE", "full")  # the shell's setting must not reach the outputs
    folder = tmp_path / "solutions"
    folder.mkdir()
    cwd, source = "import os, pathlib\nprint(pathlib.Path.cwd().name)", "os.environ['MNIST_TUTORIAL_SOURCE']"
    path = write_notebook(folder / "a.ipynb", cwd, source)
    assert execute_notebooks.main([str(path)]) == 0
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].outputs[0].text == "solutions\n"
    assert cells[1].outputs[0].data["text/plain"] == "'sample'"
    assert [cell.execution_count for cell in cells] == [1, 2]
    assert "execution" not in cells[0].metadata
    assert "a.ipynb: " in capsys.readouterr().out


def test_stops_at_the_first_failing_notebook_and_leaves_it_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = write_notebook(tmp_path / "a.ipynb", "1 / 0")
    before = failing.read_text(encoding="utf-8")
    after = write_notebook(tmp_path / "b.ipynb", "print('never run')")
    assert execute_notebooks.main([str(failing), str(after)]) == 1
    assert failing.read_text(encoding="utf-8") == before
    assert nbformat.read(after, as_version=4).cells[0].outputs == []
    error = capsys.readouterr().err
    assert "a.ipynb failed after" in error and "ZeroDivisionError" in error


def test_settle_joins_split_streams_and_renumbers_widgets_the_same_way_every_time(tmp_path):
    def made(ids: list[str]) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell("print(1); print(2)")
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="1\n"),
            nbformat.v4.new_output("stream", name="stdout", text="2\n"),
            nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
            nbformat.v4.new_output(
                "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": ids[0]}}
            ),
        ]
        notebook = nbformat.v4.new_notebook(cells=[cell])
        state = {ids[0]: {"state": {"children": [f"IPY_MODEL_{ids[1]}"]}}, ids[1]: {"state": {}}}
        notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
        return notebook

    first, second = made(["a" * 32, "b" * 32]), made(["c" * 32, "d" * 32])
    for notebook in (first, second):
        execute_notebooks.settle(notebook, tmp_path)
    assert first.cells[0].outputs == second.cells[0].outputs and first.metadata == second.metadata
    outputs = first.cells[0].outputs
    assert [(o.output_type, o.get("text")) for o in outputs[:2]] == [("stream", "1\n2\n"), ("stream", "warning\n")]
    assert "a" * 32 not in json.dumps(first)
