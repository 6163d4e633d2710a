"""Choosing the data: argument, then $MNIST_TUTORIAL_SOURCE, then auto; and every bad data dir explained."""

import dataclasses
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run_with_deadline, write_dataset

from mnist_tutorial import resolve_source
from mnist_tutorial.datasets.sources import DATASETS, SAMPLE_DIR
from mnist_tutorial.defaults import PROJECT_ROOT, SOURCE_ENV
from mnist_tutorial.errors import ConfigError, DataError


def test_auto_finds_full_data_in_data_dir_mnist_raw(tiny_data_dir):
    found = resolve_source(data_dir=tiny_data_dir)
    assert (found.kind, found.folder) == ("full", tiny_data_dir / "MNIST" / "raw")
    assert found.description.startswith("full MNIST")


def test_auto_offline_without_full_data_falls_back_to_the_sample(tmp_path):
    found = resolve_source(data_dir=tmp_path)
    assert (found.kind, found.folder) == ("sample", SAMPLE_DIR)
    assert not (tmp_path / "MNIST").exists()  # nothing was created on the way


def test_argument_beats_environment_beats_auto(tiny_data_dir, monkeypatch):
    assert resolve_source(data_dir=tiny_data_dir).kind == "full"  # auto
    monkeypatch.setenv(SOURCE_ENV, "sample")
    assert resolve_source(data_dir=tiny_data_dir).kind == "sample"  # environment over auto
    assert resolve_source(source="full", data_dir=tiny_data_dir).kind == "full"  # argument over environment
    monkeypatch.setenv(SOURCE_ENV, "full")
    assert resolve_source(source="sample", data_dir=tiny_data_dir).kind == "sample"


def test_full_forced_offline_without_data_says_what_to_do(tmp_path):
    with pytest.raises(DataError) as caught:
        resolve_source(source="full", data_dir=tmp_path)
    assert str(caught.value) == (
        f"full MNIST is not in {tmp_path}/MNIST/raw and $MNIST_TUTORIAL_OFFLINE is set: copy the four IDX files "
        f'into {tmp_path}/MNIST/raw, unset $MNIST_TUTORIAL_OFFLINE to download them, or use `source="sample"`'
    )


@pytest.mark.parametrize("source", ["nonsense", "FULL"])
def test_unknown_source_from_argument_or_environment(monkeypatch, source):
    with pytest.raises(ConfigError, match=f"unknown `source='{source}'`: choose one of auto, full, sample"):
        resolve_source(source=source)
    monkeypatch.setenv(SOURCE_ENV, source)
    with pytest.raises(ConfigError, match=rf"unknown `source='{source}'` \(from \${SOURCE_ENV}\)"):
        resolve_source()


def test_unknown_dataset():
    with pytest.raises(ConfigError, match="unknown `dataset='kmnist'`: choose one of mnist, fashion"):
        resolve_source(dataset="kmnist")


def test_fashion_without_data_is_an_error_not_the_mnist_sample(tmp_path, no_system_fashion):
    with pytest.raises(DataError, match=r"full Fashion-MNIST is not in .*FashionMNIST/raw .*apt-get install"):
        resolve_source(dataset="fashion", data_dir=tmp_path)
    with pytest.raises(ConfigError, match='there is no embedded sample of Fashion-MNIST: use `source="full"`'):
        resolve_source(dataset="fashion", source="sample")


def test_fashion_found_in_a_system_folder(tmp_path, monkeypatch):
    system = write_dataset(tmp_path / "usr-share", checked=None)  # a package manager vouches for its own copy
    monkeypatch.setitem(DATASETS, "fashion", dataclasses.replace(DATASETS["fashion"], system_dirs=(system,)))
    assert resolve_source(dataset="fashion", data_dir=tmp_path / "empty").folder == system


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(
        DataError, match=f"`data_dir={tmp_path}/file` is a file, not a folder: pass a folder as `data_dir`"
    ):
        resolve_source(data_dir=tmp_path / "file")


def test_data_dir_inside_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=f"`data_dir={tmp_path}/file/data` cannot exist, as {tmp_path}/file is a file"):
        resolve_source(data_dir=tmp_path / "file" / "data")


def test_missing_sample(monkeypatch, tmp_path):
    monkeypatch.setattr("mnist_tutorial.datasets.sources.SAMPLE_DIR", tmp_path)
    with pytest.raises(
        DataError,
        match=r"the embedded sample is missing from .*: reinstall the course with pip, or in a checkout run `git checkout",
    ):
        resolve_source(source="sample")


UNREADABLE_SCRIPT = textwrap.dedent(
    """
    import sys
    from mnist_tutorial.cli import main
    for data_dir in sys.argv[1:]:
        print(main(["train", "--source", "full", "--data-dir", data_dir, "--out", data_dir + "-out"]))
    """
)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder anyone may use (pytest's tmp_path lies inside a folder only its owner can enter)."""
    with tempfile.TemporaryDirectory(prefix="mnist-tutorial-test-") as name:
        Path(name).chmod(0o777)
        yield Path(name)


def as_nobody() -> list[str]:
    """A command prefix that drops root (whose reads chmod cannot block) to user nobody; none when not root."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv (util-linux), so an unreadable folder cannot be made")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_unreadable_data_dir_and_unreadable_subfolder(shared):
    # Root reads through chmod 000, so the check runs in a process that has dropped to user nobody.
    locked = shared / "locked"
    locked.mkdir(mode=0o000)
    deep = shared / "deep"
    write_dataset(deep / "MNIST" / "raw")
    (deep / "MNIST" / "raw").chmod(0o000)
    env = {**os.environ, "MPLCONFIGDIR": str(shared), "HOME": str(shared), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [*as_nobody(), sys.executable, "-c", UNREADABLE_SCRIPT, str(locked), str(deep)]
    result = run_with_deadline(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    if not result.stdout:
        pytest.skip(f"user nobody cannot run this venv's Python here: {result.stderr[-300:]}")
    assert result.stdout.split() == ["2", "2"]
    assert result.stderr.splitlines() == [
        f"mnist-tutorial: error: cannot read the data folder {locked} (permission denied): fix its permissions or pass "
        "another --data-dir",
        f"mnist-tutorial: error: cannot read {deep}/MNIST/raw (permission denied): fix its permissions or pass "
        "another --data-dir",
    ]


def test_dataset_specs_agree_with_torchvision():
    from torchvision import datasets

    assert DATASETS["fashion"].class_names == tuple(datasets.FashionMNIST.classes)
    assert DATASETS["mnist"].torchvision_class is datasets.MNIST
    assert DATASETS["fashion"].torchvision_class is datasets.FashionMNIST


def test_a_data_dir_under_home_is_expanded(tmp_path, monkeypatch):
    raw = write_dataset(tmp_path / "data" / "MNIST" / "raw")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_source(source="full", data_dir="~/data").folder == raw
