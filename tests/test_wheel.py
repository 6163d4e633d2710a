"""From a wheel, not a checkout: the course installed into a fresh environment runs offline from any folder.

The fresh environment reuses this one's installed libraries (torch is gigabytes) through a .pth line, but
gets the course only from the wheel, so nothing of the checkout can leak in.
"""

import os
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers import printed, run_with_deadline

from mnist_tutorial.defaults import PROJECT_ROOT

# The chain that writes beside the notebooks, as a learner's copy does: 01 writes network.py, 03 trains that class
# on the wheel's sample (one epoch here) and saves build/03_training/model.pt, 08 exports it with the wheel's page.
# nbval runs every notebook in the checkout; these prove what only an installed course in a folder of its own can
# show: data from the installed package, files written beside the notebooks, not into the checkout.
NOTEBOOKS = [PROJECT_ROOT / "notebooks" / name for name in ("01_model.ipynb", "03_training.ipynb", "08_deploy.ipynb")]
pytestmark = pytest.mark.wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run_with_deadline(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, PROJECT_ROOT], check=True, timeout=300
    )
    return next(out.glob("mnist_tutorial-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the course from the wheel; returns its bin folder."""
    venv = tmp_path_factory.mktemp("venv")
    run_with_deadline([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=300)
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    site.mkdir(parents=True, exist_ok=True)
    (site / "course_libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = venv / "bin" / "python"
    # --ignore-installed: the borrowed libraries include this checkout's editable install, which must stay put.
    run_with_deadline(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", wheel], check=True, timeout=300
    )
    return venv / "bin"


def test_the_wheel_carries_the_sample_and_the_page(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        assert f"mnist_tutorial/datasets/sample/MNIST/raw/{name}" in names
    assert "mnist_tutorial/datasets/sample/MD5SUMS" in names and "mnist_tutorial/deploy/web/index.html" in names


def offline_env() -> dict[str, str]:
    """This environment without the course's settings or a PYTHONPATH (which could lend the checkout), offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNIST_TUTORIAL_") and k != "PYTHONPATH"}
    return {**env, "MNIST_TUTORIAL_OFFLINE": "1", "MNIST_TUTORIAL_DEVICE": "cpu", "MNIST_TUTORIAL_PROGRESS": "text"}


def run(folder: Path, *command) -> str:
    """Run `command` in `folder`, offline, in the fresh environment's terms; returns what it printed."""
    result = run_with_deadline(command, cwd=folder, capture_output=True, text=True, env=offline_env(), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_course_and_its_command_come_from_the_wheel_and_train_offline_in_an_empty_folder(installed, tmp_path):
    where = run(tmp_path, installed / "python", "-c", "import mnist_tutorial as m; print(m.__file__)")
    assert str(PROJECT_ROOT) not in where and "site-packages" in where
    assert run(tmp_path, installed / "python", "-m", "mnist_tutorial", "--help").startswith("usage: mnist-tutorial")
    trained = run(
        tmp_path, installed / "mnist-tutorial", "train", "--source", "sample", "--epochs", "1", "--out", "run"
    )
    assert "the embedded sample" in trained and "Test Accuracy:" in trained
    assert sorted(os.listdir(tmp_path / "run")) == ["loss.png", "metrics.json", "model.pt", "predictions.png"]


def test_the_chain_runs_offline_from_a_copy_in_an_empty_folder(installed, tmp_path):
    for path in [*NOTEBOOKS, PROJECT_ROOT / "notebooks" / "glossary.md"]:
        shutil.copy(path, tmp_path)
    training = nbformat.read(tmp_path / "03_training.ipynb", as_version=4)  # one epoch proves the chain as ten do
    after = next(i for i, cell in enumerate(training.cells) if cell.source.startswith("lr = "))
    training.cells.insert(after + 1, nbformat.v4.new_code_cell("num_epochs = 1"))
    nbformat.write(training, tmp_path / "03_training.ipynb")
    execute = [installed / "python", "-m", "nbconvert", "--to", "notebook", "--execute", "--inplace"]
    for notebook in NOTEBOOKS:  # in order: each reads what the one before wrote; an error in a cell fails nbconvert
        run(tmp_path, *execute, "--ExecutePreprocessor.timeout=600", notebook.name)
    trained = "\n".join(printed(nbformat.read(tmp_path / "03_training.ipynb", as_version=4)))
    assert "your network from 01 (network.py): 784 → 128 → 64 → 10, 109,386 parameters" in trained
    assert (tmp_path / "network.py").is_file() and (tmp_path / "build" / "03_training" / "model.pt").is_file()
    assert (tmp_path / "build" / "08_deploy" / "page" / "index.html").is_file()
    assert not (tmp_path / "data").exists()  # nothing was downloaded, and no stray data folder
