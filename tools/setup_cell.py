"""Write or refresh the setup cell at the top of every notebook: on a hosted runtime it installs the course.

    python tools/setup_cell.py [NOTEBOOK_OR_FOLDER ...]     (default: notebooks/ and notebooks/solutions/)

The cell does nothing locally. On Google Colab, Kaggle or SageMaker Studio Lab without the course installed,
it runs `%pip install` of tools/repository.py's INSTALL_SOURCE ($MNIST_TUTORIAL_INSTALL overrides it). The cell
is found again by its tag, so running the tool twice changes nothing.
"""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from repository import INSTALL_ENV, INSTALL_SOURCE

ROOT = Path(__file__).resolve().parent.parent
TAG = "setup"
# How each runtime is recognised: Colab's kernel has imported google.colab; Kaggle sets KAGGLE_KERNEL_RUN_TYPE;
# SageMaker Studio Lab runs every notebook as the user studio-lab-user, in /home/studio-lab-user.
SOURCE = f"""# Setup: on Colab, Kaggle or SageMaker Studio Lab this installs the course; locally it does nothing.
import importlib.util
import os
import sys

INSTALL = os.environ.get("{INSTALL_ENV}", "{INSTALL_SOURCE}")
COLAB, KAGGLE = "google.colab" in sys.modules, "KAGGLE_KERNEL_RUN_TYPE" in os.environ
STUDIO_LAB = os.path.isdir("/home/studio-lab-user")
if (COLAB or KAGGLE or STUDIO_LAB) and importlib.util.find_spec("mnist_tutorial") is None:
    %pip install --quiet {{INSTALL}}"""


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
