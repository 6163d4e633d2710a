"""Helpers the tests share: tiny learnable datasets written by the package itself, comparisons, and Chromium.

A plain module, imported as `from helpers import ...`: test modules must not import from conftest.py,
since pytest keeps one module named conftest at a time (the repository's root has its own).
"""

import contextlib
import hashlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from mnist_tutorial.data import Data, Split
from mnist_tutorial.datasets import checksums
from mnist_tutorial.datasets.idx import write_idx
from mnist_tutorial.datasets.sources import SPLIT_FILES, DataSource, get_spec
from mnist_tutorial.history import History

CHROMIUM = Path(os.environ.get("MNIST_TUTORIAL_CHROMIUM", "/usr/bin/chromium"))
# No sandbox: CI runs as root. Nothing in the background reaches for a network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
CHROMIUM_ARGS += ["--disable-component-update", "--disable-sync", "--no-first-run"]
# axe-core's rules: WCAG 2.1 A and AA, and what the course asks of every page beyond them (one main landmark,
# a first-level heading, headings in order, a declared language); an enabled rule runs whatever its tags.
STRUCTURE_RULES = ["landmark-one-main", "page-has-heading-one", "heading-order", "region", "html-has-lang"]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "rules": {rule: {"enabled": True} for rule in STRUCTURE_RULES},
    "resultTypes": ["violations"],
}


@contextlib.contextmanager
def chromium() -> Iterator:
    """Debian's Chromium ($MNIST_TUTORIAL_CHROMIUM), headless, through Playwright; the test fails if it cannot start."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}: install it (Debian/Ubuntu: apt-get install chromium), point "
            'MNIST_TUTORIAL_CHROMIUM at it, or leave these tests out with -m "not browser"'
        )
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        except Error as error:
            pytest.fail(f"Chromium ({CHROMIUM}) did not start: {str(error).strip().splitlines()[0]}")
        yield browser
        browser.close()


def axe_violations(tab) -> list[str]:
    """What axe-core (bundled, nothing fetched) finds on the open page under AXE_OPTIONS, a line per rule."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(tab, options=AXE_OPTIONS).response["violations"]
    return [
        f"{rule['id']} ({len(rule['nodes'])}×): {rule['help']}; e.g. {[node['target'] for node in rule['nodes'][:3]]}"
        for rule in found
    ]


def digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` learnable 28x28 images: a bright bar whose row gives the label, over random noise."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % 10).astype(np.uint8)
    images = rng.integers(0, 60, size=(count, 28, 28), dtype=np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[4 + 2 * label : 6 + 2 * label, 4:24] = 255
    return images, labels


def tiny_data(n_train: int = 256, n_test: int = 64) -> Data:
    """A tiny in-memory dataset of `digits`, as load_data would return it."""
    splits = [digits(n_train, seed=0), digits(n_test, seed=1)]
    train, test = (Split(torch.from_numpy(images), torch.from_numpy(labels).long()) for images, labels in splits)
    return Data(train, test, DataSource("mnist", "full", Path("made-up")), get_spec("mnist").class_names)


def write_dataset(
    raw_dir: Path, *, n_train: int = 320, n_test: int = 80, gz: bool = True, checked: str | None = "mnist"
) -> Path:
    """Write the four IDX files of a tiny dataset into `raw_dir`; returns it.

    `checked`: remembered as this dataset's own, as the course remembers full data whose md5s matched (else its
    md5s, not the real dataset's, make the course refuse it); None: not.
    """
    raw_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for (split, (images_name, labels_name)), count in zip(SPLIT_FILES.items(), (n_train, n_test), strict=True):
        images, labels = digits(count, seed=0 if split == "train" else 1)
        write_idx(raw_dir / f"{images_name}{suffix}", images)
        write_idx(raw_dir / f"{labels_name}{suffix}", labels)
    if checked:
        pass_as_checked(raw_dir, dataset=checked)
    return raw_dir


def pass_as_checked(raw_dir: Path, *, dataset: str = "mnist") -> None:
    """Make the course remember these files as `dataset`'s own (as if checked against torchvision's md5s)."""
    memory = {}
    for name, expected in get_spec(dataset).torchvision_class.resources:
        for path in (raw_dir / name, raw_dir / name.removesuffix(".gz")):
            if path.is_file():
                memory[path.name] = checksums.stamp(path, expected)
    checksums.remember(raw_dir, memory)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def same_weights(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    """True when both models hold bitwise-equal tensors under the same names."""
    a, b = first.state_dict(), second.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[name].cpu(), b[name].cpu()) for name in a)


def history_of(epochs: int) -> History:
    """A made-up history of `epochs` epochs, with falling losses and rising accuracy."""
    return History(
        train_loss=[1.0 / (e + 1) for e in range(epochs)],
        test_loss=[1.1 / (e + 1) for e in range(epochs)],
        test_accuracy=[0.5 + 0.04 * e for e in range(epochs)],
        seconds=[0.25] * epochs,
    )


def run_with_deadline(command: list, *, timeout: float, check: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run in a session of its own: past `timeout` seconds it is killed with all its children."""
    if kwargs.pop("capture_output", False):
        kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    given = kwargs.pop("input", None)
    if given is not None:
        kwargs["stdin"] = subprocess.PIPE
    with subprocess.Popen(command, start_new_session=True, **kwargs) as process:
        try:
            stdout, stderr = process.communicate(input=given, timeout=timeout)
        except BaseException:  # the deadline, or Ctrl-C: nothing it started may outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result


def code_cells(notebook: nbformat.NotebookNode) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def printed(notebook: nbformat.NotebookNode) -> list[str]:
    """The lines a run notebook printed, cell after cell."""
    return [
        line
        for cell in code_cells(notebook)
        for out in cell.get("outputs", [])
        for line in out.get("text", "").split("\n")
        if line
    ]


def writing_into(notebook: nbformat.NotebookNode, build: Path) -> nbformat.NotebookNode:
    """The notebook with BUILD_DIR pointed at `build` (right after its imports), so a test never touches build/."""
    index = next(i for i, cell in enumerate(notebook.cells) if "BUILD_DIR" in cell.source and "import" in cell.source)
    notebook.cells.insert(
        index + 1, nbformat.v4.new_code_cell(f"from pathlib import Path\nBUILD_DIR = Path({str(build)!r})")
    )
    return notebook


def cut_after(notebook: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    """The notebook up to the first code cell that holds `text`."""
    index = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and text in cell.source)
    notebook.cells = notebook.cells[: index + 1]
    return notebook


def execute(notebook: nbformat.NotebookNode, folder: Path) -> list[str]:
    """Run the notebook in `folder`, as a learner's copy there would run; returns the lines it printed."""
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(folder)}}).execute()
    return printed(notebook)
