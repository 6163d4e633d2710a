"""Write or refresh the setup cell at the top of every notebook: on a hosted runtime it installs the course.

    python tools/setup_cell.py [NOTEBOOK_OR_FOLDER ...]     (default: notebooks/ and notebooks/solutions/)

The cell does nothing locally. On Google Colab, Kaggle or SageMaker Studio Lab it runs `%pip install` of
tools/repository.py's INSTALL_SOURCE ($MNIST_TUTORIAL_INSTALL overrides it); where the course is installed
already, pip says so and changes nothing. Three lines of code, so that a learner reads past it at a glance. The cell is
found again by its tag, so running the tool twice changes nothing.
"""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from repository import INSTALL_ENV, INSTALL_SOURCE

ROOT = Path(__file__).resolve().parent.parent
TAG = "setup"
# How each runtime is recognised, by the home folder of its notebooks: /content on Colab, /kaggle on Kaggle, and
# /home/studio-lab-user on SageMaker Studio Lab.
SOURCE = f"""import os  # Setup: on Colab, Kaggle or SageMaker Studio Lab this installs the course; elsewhere, nothing.

if any(os.path.isdir(home) for home in ("/content", "/kaggle", "/home/studio-lab-user")):
    %pip install --quiet {{os.environ.get("{INSTALL_ENV}", "{INSTALL_SOURCE}")}}"""


def setup_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(SOURCE)
    cell.metadata["tags"] = [TAG]
    del cell["id"]  # given one that fits the notebook's format when inserted
    return cell


def refresh(path: Path) -> bool:
    """Put the setup cell first in the notebook at `path` (replacing an older one); True if the file changed."""
    notebook = nbformat.read(path, as_version=4)
    cells = [cell for cell in notebook.cells if TAG not in cell.metadata.get("tags", [])]
    old = [cell for cell in notebook.cells if TAG in cell.metadata.get("tags", [])]
    if len(old) == 1 and old[0].source == SOURCE and notebook.cells[0] is old[0]:
        return False
    cell = setup_cell()
    cell["id"] = old[0].get("id", "setup") if old else "setup"
    cell.execution_count = old[0].get("execution_count") if old else None
    notebook.cells = [cell, *cells]
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    return True


def notebooks(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        found.extend(sorted(path.glob("*.ipynb")) if path.is_dir() else [path])
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(arg) for arg in args] or [ROOT / "notebooks", ROOT / "notebooks" / "solutions"]
    for path in notebooks(paths):
        print(f"{'refreshed' if refresh(path) else 'unchanged'}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
