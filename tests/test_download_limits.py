"""Downloads show a bar with the size, and never hang: name lookups are bounded, failures remembered, `budget` kept."""

import socket
import threading
import time

import pytest
from helpers import md5, write_dataset
from torchvision import datasets
from tqdm import tqdm

from mnist_tutorial.datasets import download, sources
from mnist_tutorial.datasets.sources import DATASETS, SPLIT_FILES
from mnist_tutorial.defaults import OFFLINE_ENV, PROGRESS_ENV
from mnist_tutorial.errors import DataError

NAMES = [f"{name}.gz" for pair in SPLIT_FILES.values() for name in pair]
MNIST = DATASETS["mnist"]


@pytest.fixture(autouse=True)
def online_with_no_memory(monkeypatch):
    monkeypatch.delenv(OFFLINE_ENV)
    monkeypatch.setattr(download, "FAILED", {})


@pytest.fixture
def served(mirror, monkeypatch):
    """Tiny MNIST on the local mirror, and torchvision's MNIST pointed at it with the right md5s."""
    base, folder = mirror
    write_dataset(folder, n_train=40, n_test=20, checked=None)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [base])
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, md5(folder / name)) for name in NAMES])
    return folder


def test_a_bar_with_each_file_size(tmp_path, served, monkeypatch, capsys):
    monkeypatch.setenv(PROGRESS_ENV, "bar")
    download.download_files(MNIST, tmp_path / "raw")
    err = capsys.readouterr().err
    for name in NAMES:
        size = (served / name).stat().st_size
        shown = tqdm.format_sizeof(size, divisor=1024)
        assert f"{name}: 100%|██████████| {shown}/{shown} [" in err


def test_text_progress_is_a_line_per_file(tmp_path, served, monkeypatch, capsys):
    monkeypatch.setenv(PROGRESS_ENV, "text")
    download.download_files(MNIST, tmp_path / "raw")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Downloading MNIST into {tmp_path / 'raw'} ..."
    assert [line.split(":")[0].strip() for line in lines[1:]] == NAMES


def test_a_hanging_name_lookup_is_bounded_by_the_timeout(tmp_path, monkeypatch):
    released = threading.Event()

    def hanging_lookup(*args, **kwargs):
        released.wait(120)  # far beyond the 60 s deadline below: only the timeout can end the wait in time
        raise socket.gaierror("too late")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://mirror.invalid/"])
    started = time.monotonic()
    try:
        with pytest.raises(
            DataError, match=r"mirror\.invalid/train-images-idx3-ubyte\.gz: timed out: no answer within 0\.3 s"
        ):
            download.download_files(MNIST, tmp_path / "raw", timeout=0.3)
        assert time.monotonic() - started < 60  # a hang deadline: the lookup alone would hold it for 120 s
    finally:
        released.set()


def test_a_failure_is_remembered_for_the_rest_of_the_process(tmp_path, served, monkeypatch, closed_port_url):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url])
    with pytest.raises(DataError, match="Connection refused"):
        download.download_files(MNIST, tmp_path / "raw")
    asked = []
    monkeypatch.setattr(download, "fetch", lambda url, *args, **kwargs: asked.append(url))
    with pytest.raises(DataError, match=r"Connection refused \(earlier in this session\)"):
        download.download_files(MNIST, tmp_path / "raw")
    assert asked == []


def test_the_budget_bounds_the_whole_download(tmp_path, served, monkeypatch, silent_server, capsys):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [silent_server, silent_server + "again/"])
    started = time.monotonic()
    with pytest.raises(DataError, match="timed out"):
        download.download_files(MNIST, tmp_path / "raw", timeout=100, budget=1)
    assert time.monotonic() - started < 60  # a hang deadline: without the budget, 2 mirrors x 100 s
    assert "(at most 1 s, then the sample takes over)" in capsys.readouterr().out
    assert not (tmp_path / "raw").exists()


def test_auto_gives_up_within_its_budget_and_says_the_sample_takes_over(
    tmp_path, served, monkeypatch, silent_server, capsys
):
    monkeypatch.setattr(sources, "AUTO_BUDGET_S", 1.0)  # 30 s in the course
    monkeypatch.setattr(datasets.MNIST, "mirrors", [silent_server])
    started = time.monotonic()
    assert sources.resolve_source(data_dir=tmp_path / "data", timeout=100).kind == "sample"  # auto
    assert time.monotonic() - started < 60  # a hang deadline: without the budget, 100 s for the first step alone
    out = capsys.readouterr().out
    assert "(at most 1 s, then the sample takes over)" in out
    assert "using the embedded sample instead" in out
    asked = []
    monkeypatch.setattr(download, "fetch", lambda url, *args, **kwargs: asked.append(url))
    assert sources.resolve_source(data_dir=tmp_path / "data").kind == "sample"  # the next load_data: no new wait
    assert asked == []
    assert "(earlier in this session)" in capsys.readouterr().out
