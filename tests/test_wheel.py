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
from helpers import run_with_deadline

from mnist_tutorial.defaults import PROJECT_ROOT

# The chain that writes beside the notebooks, as a learner's copy does: 01 writes network.py, 03 trains that class
# on the wheel's sample and saves build/03_training/model.pt, 08 exports it with the wheel's page. nbval runs every
# notebook in the checkout; these prove what only an installed course in a folder of its own can show.
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNIST_TUTORIAL_")}
    return {**env, "MNIST_TUTORIAL_OFFLINE": "1", "MNIST_TUTORIAL_DEVICE": "cpu", "MNIST_TUTORIAL_PROGRESS": "text"}


def test_the_course_comes_from_the_wheel_not_the_checkout(installed, tmp_path):
    where = run_with_deadline(
        [installed / "python", "-c", "import mnist_tutorial as m; print(m.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=offline_env(),
        timeout=300,
    ).stdout
    assert str(PROJECT_ROOT) not in where and "site-packages" in where
    helped = run_with_deadline(
        [installed / "python", "-m", "mnist_tutorial", "--help"],
        cwd=tmp_path,
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert helped.returncode == 0 and helped.stdout.startswith("usage: mnist-tutorial")


@pytest.mark.parametrize("command", [["mnist-tutorial"], ["python", "-m", "mnist_tutorial"]])
def test_train_runs_offline_from_an_empty_folder(installed, tmp_path, command):
    command = [installed / command[0], *command[1:], "train", "--source", "sample", "--epochs", "1", "--out", "run"]
    result = run_with_deadline(command, cwd=tmp_path, capture_output=True, text=True, env=offline_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "the embedded sample" in result.stdout and "Test Accuracy:" in result.stdout
    assert sorted(os.listdir(tmp_path / "run")) == ["loss.png", "metrics.json", "model.pt", "predictions.png"]


def run_notebook(python: Path, folder: Path, name: str) -> str | None:
    """Execute one notebook in place in `folder`; returns what went wrong, or None."""
    command = [python, "-m", "nbconvert", "--to", "notebook", "--execute", "--inplace",
               "--ExecutePreprocessor.timeout=600", name]  # fmt: skip
    result = run_with_deadline(command, cwd=folder, capture_output=True, text=True, env=offline_env(), timeout=900)
    if result.returncode != 0:
        return f"{name}: {result.stderr[-3000:]}"
    executed = nbformat.read(folder / name, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return f"{name}: error outputs {errors}" if errors else None


def test_the_chain_runs_offline_from_a_copy_in_an_empty_folder(installed, tmp_path):
    for notebook in NOTEBOOKS:
        shutil.copy(notebook, tmp_path)
    shutil.copy(PROJECT_ROOT / "notebooks" / "glossary.md", tmp_path)
    for notebook in NOTEBOOKS:  # in order: each reads what the one before wrote
        assert run_notebook(installed / "python", tmp_path, notebook.name) is None
    trained = "".join(o.get("text", "") for c in nbformat.read(tmp_path / "03_training.ipynb", as_version=4).cells
                      for o in c.get("outputs", []))  # fmt: skip
    assert "your network from 01 (network.py): 784 → 128 → 64 → 10, 109,386 parameters" in trained
    assert (tmp_path / "network.py").is_file() and (tmp_path / "build" / "03_training" / "model.pt").is_file()
    assert (tmp_path / "build" / "08_deploy" / "page" / "index.html").is_file()
    assert not (tmp_path / "data").exists()  # nothing was downloaded, and no stray data folder
