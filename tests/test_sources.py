"""Choosing the data: argument, then $MNIST_TUTORIAL_SOURCE, then auto; offline means no connection is even tried;
and every bad data dir is explained."""

import dataclasses
import os
import shutil
import socket
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from helpers import run_with_deadline, write_dataset

from mnist_tutorial import resolve_source
from mnist_tutorial.cli import main
from mnist_tutorial.datasets.sources import DATASETS, SAMPLE_DIR
from mnist_tutorial.defaults import PROJECT_ROOT, SOURCE_ENV
from mnist_tutorial.errors import ConfigError, DataError


@pytest.fixture
def no_connection(monkeypatch):
    """Every attempt to connect anywhere, refused and recorded; the test fails if there was one."""
    tried = []

    def refuse(*args, **kwargs):
        tried.append(args)
        raise AssertionError(f"network connection attempted while offline: {args}")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
    assert tried == []


def test_auto_finds_full_data_in_data_dir_mnist_raw_and_argument_beats_environment_beats_auto(
    tiny_data_dir, monkeypatch
):
    found = resolve_source(data_dir=tiny_data_dir)  # auto
    assert (found.kind, found.folder, found.root) == ("full", tiny_data_dir / "MNIST" / "raw", tiny_data_dir)
    assert found.description.startswith("full MNIST")
    monkeypatch.setenv(SOURCE_ENV, "sample")
    assert resolve_source(data_dir=tiny_data_dir).kind == "sample"  # environment over auto
    assert resolve_source(source="full", data_dir=tiny_data_dir).kind == "full"  # argument over environment
    monkeypatch.setenv(SOURCE_ENV, "full")
    assert resolve_source(source="sample", data_dir=tiny_data_dir).kind == "sample"


def test_offline_nothing_tries_the_network(tmp_path, tiny_data_dir, no_connection, no_system_fashion):
    found = resolve_source(data_dir=tmp_path / "empty")  # auto, without full data: the sample
    assert (found.kind, found.folder) == ("sample", SAMPLE_DIR)
    assert not (tmp_path / "empty").exists()  # nothing was created on the way
    # Their whole messages, through the command line: test_cli.py::test_bad_paths_missing_data_or_device.
    with pytest.raises(DataError, match=r"full MNIST is not in .* and \$MNIST_TUTORIAL_OFFLINE is set"):
        resolve_source(source="full", data_dir=tmp_path)
    with pytest.raises(DataError, match=r"full Fashion-MNIST is not in .*"):  # auto: not the MNIST sample
        resolve_source(dataset="fashion", data_dir=tmp_path)
    with pytest.raises(ConfigError) as caught:
        resolve_source(dataset="fashion", source="sample")
    assert str(caught.value) == (
        'there is no embedded sample of Fashion-MNIST: use `source="full"` (on Debian: apt-get install '
        "dataset-fashion-mnist)"
    )
    out, data_dir = str(tmp_path / "run"), str(tiny_data_dir)  # and the command line trains and evaluates
    assert main(["train", "--epochs", "1", "--data-dir", data_dir, "--out", out]) == 0
    assert main(["evaluate", "--checkpoint", f"{out}/model.pt", "--data-dir", data_dir]) == 0


@pytest.mark.parametrize("source", ["nonsense", "FULL"])
def test_unknown_source_or_dataset_from_argument_or_environment(monkeypatch, source):
    with pytest.raises(ConfigError, match=f"unknown `source='{source}'`: choose one of auto, full, sample"):
        resolve_source(source=source)
    monkeypatch.setenv(SOURCE_ENV, source)
    with pytest.raises(ConfigError, match=rf"unknown `source='{source}'` \(from \${SOURCE_ENV}\)"):
        resolve_source()
    with pytest.raises(ConfigError, match="unknown `dataset='kmnist'`: choose one of mnist, fashion"):
        resolve_source(dataset="kmnist")


def test_a_data_dir_that_is_or_lies_in_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=r"^`data_dir=.*/file` is a file, not a folder: pass a folder as `data_dir`$"):
        resolve_source(data_dir=tmp_path / "file")
    with pytest.raises(DataError) as caught:
        resolve_source(data_dir=tmp_path / "file" / "data")
    assert (
        str(caught.value)
        == f"`data_dir={tmp_path}/file/data` cannot exist, as {tmp_path}/file is a file: check `data_dir`"
    )


def test_fashion_found_in_a_system_folder_and_the_specs_agree_with_torchvision(tmp_path, monkeypatch):
    from torchvision import datasets

    assert DATASETS["fashion"].class_names == tuple(datasets.FashionMNIST.classes)
    assert DATASETS["mnist"].torchvision_class is datasets.MNIST
    assert DATASETS["fashion"].torchvision_class is datasets.FashionMNIST
    system = write_dataset(tmp_path / "usr-share", checked=None)  # a package manager vouches for its own copy
    monkeypatch.setitem(DATASETS, "fashion", dataclasses.replace(DATASETS["fashion"], system_dirs=(system,)))
    found = resolve_source(dataset="fashion", data_dir=tmp_path / "empty")
    assert found.folder == found.root == system


def test_a_data_dir_under_home_is_expanded(tmp_path, monkeypatch):
    raw = write_dataset(tmp_path / "data" / "MNIST" / "raw")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_source(source="full", data_dir="~/data").folder == raw


def test_missing_sample(monkeypatch, tmp_path):
    monkeypatch.setattr("mnist_tutorial.datasets.sources.SAMPLE_DIR", tmp_path)
    with pytest.raises(DataError) as caught:
        resolve_source(source="sample")
    assert str(caught.value) == (
        f"the embedded sample is missing from {tmp_path}: reinstall the course (pip install --force-reinstall "
        "--no-deps mnist-tutorial; in a checkout: git checkout mnist_tutorial/datasets/sample)"
    )


UNREADABLE_SCRIPT = textwrap.dedent(
    """
    import sys
    from mnist_tutorial.cli import main
    for data_dir in sys.argv[1:]:
        print(main(["train", "--source", "full", "--data-dir", data_dir, "--out", data_dir + "-out"]))
    """
)


def as_nobody() -> list[str]:
    """A command prefix that drops root (whose reads chmod cannot block) to user nobody; none when not root."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv (util-linux), so an unreadable folder cannot be made")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_unreadable_data_dir_and_unreadable_subfolder():
    # Root reads through chmod 000, so the check runs in a process that has dropped to user nobody, in a folder
    # anyone may enter (pytest's tmp_path lies inside one only its owner can).
    with tempfile.TemporaryDirectory(prefix="mnist-tutorial-test-") as name:
        shared = Path(name)
        shared.chmod(0o777)
        locked, deep = shared / "locked", shared / "deep"
        locked.mkdir(mode=0o000)
        write_dataset(deep / "MNIST" / "raw")
        (deep / "MNIST" / "raw").chmod(0o000)
        env = {**os.environ, "MPLCONFIGDIR": name, "HOME": name, "PYTHONDONTWRITEBYTECODE": "1"}
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
