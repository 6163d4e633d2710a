"""Downloads, against a mirror on 127.0.0.1: good files land and load, a bad one leaves nothing, and nothing hangs:
name lookups and every wait are bounded, failures remembered, the `budget` kept. Bars show the sizes."""

import socket
import threading
import time

import pytest
from helpers import md5, write_dataset
from torchvision import datasets
from tqdm import tqdm

from mnist_tutorial import load_data, resolve_source
from mnist_tutorial.cli import main
from mnist_tutorial.datasets import download, sources
from mnist_tutorial.datasets.checksums import MEMORY
from mnist_tutorial.datasets.sources import DATASETS, SPLIT_FILES
from mnist_tutorial.defaults import OFFLINE_ENV, PROGRESS_ENV
from mnist_tutorial.errors import DataError

NAMES = [f"{name}.gz" for pair in SPLIT_FILES.values() for name in pair]
MNIST = DATASETS["mnist"]


@pytest.fixture
def served(mirror, monkeypatch):
    """Online, with tiny MNIST on the local mirror and torchvision's MNIST pointed at it with the right md5s."""
    monkeypatch.delenv(OFFLINE_ENV)
    base, folder = mirror
    write_dataset(folder, n_train=40, n_test=20, checked=None)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [base])
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, md5(folder / name)) for name in NAMES])
    return folder


def wrong_md5(monkeypatch, served, index):
    resources = [(name, md5(served / name)) for name in NAMES]
    resources[index] = (NAMES[index], "0" * 32)
    monkeypatch.setattr(datasets.MNIST, "resources", resources)


def everything_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize(("source", "progress"), [("full", "text"), ("auto", "bar")])
def test_good_files_land_and_load_with_a_line_or_a_bar_per_file(
    tmp_path, served, monkeypatch, capsys, source, progress
):
    monkeypatch.setenv(PROGRESS_ENV, progress)
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert resolve_source(source=source, data_dir=tmp_path / "data") == sources.DataSource("mnist", "full", raw)
    assert everything_under(raw) == sorted([*NAMES, MEMORY])  # no temporary files beside them, and md5s remembered
    assert all((raw / name).read_bytes() == (served / name).read_bytes() for name in NAMES)
    out, err = capsys.readouterr()
    assert out.startswith(f"Downloading MNIST into {raw}")
    if progress == "text":
        assert [line.split(":")[0].strip() for line in out.splitlines()[1:]] == NAMES
    for name in NAMES if progress == "bar" else ():
        shown = tqdm.format_sizeof((served / name).stat().st_size, divisor=1024)
        assert f"{name}: 100%|██████████| {shown}/{shown} [" in err
    data = load_data(source="full", data_dir=tmp_path / "data")
    assert (len(data.train), len(data.test)) == (40, 20)


@pytest.mark.parametrize("bad", [0, 2])
def test_a_wrong_md5_keeps_only_the_verified_files_and_auto_falls_back_to_the_sample(
    tmp_path, served, monkeypatch, mirror, capsys, bad
):
    wrong_md5(monkeypatch, served, bad)
    with pytest.raises(DataError) as caught:
        resolve_source(source="full", data_dir=tmp_path / "data")
    assert str(caught.value) == (
        f"could not download {NAMES[bad]} ({mirror[0]}{NAMES[bad]}: md5 {md5(served / NAMES[bad])}, expected "
        f"{'0' * 32}): check your connection, or copy the four files into {tmp_path / 'data' / 'MNIST' / 'raw'}, "
        'or use `source="sample"`'
    )
    capsys.readouterr()
    assert resolve_source(data_dir=tmp_path / "auto").kind == "sample"
    assert f"Download failed (could not download {NAMES[bad]}" in capsys.readouterr().out
    kept = sorted(["MNIST", "MNIST/raw", *(f"MNIST/raw/{name}" for name in NAMES[:bad])]) if bad else []
    for data_dir in (tmp_path / "data", tmp_path / "auto"):  # with bad == 0, not even the folders made for it
        assert everything_under(data_dir) == kept and data_dir.exists() == bool(bad)


def test_the_next_mirror_is_tried_when_one_fails_and_a_missing_file_is_named(
    tmp_path, served, monkeypatch, closed_port_url
):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url, *datasets.MNIST.mirrors])
    assert resolve_source(source="full", data_dir=tmp_path / "first").kind == "full"
    (served / NAMES[1]).unlink()
    with pytest.raises(DataError, match=f"could not download {NAMES[1]} .*File not found"):
        resolve_source(source="full", data_dir=tmp_path / "second")


def test_offline_or_no_network_is_one_line_at_once_and_remembered_for_the_process(
    tmp_path, served, monkeypatch, closed_port_url, capsys
):
    monkeypatch.setenv(OFFLINE_ENV, "1")
    with pytest.raises(DataError, match="MNIST_TUTORIAL_OFFLINE is set, so MNIST will not be downloaded"):
        download.download_files(MNIST, tmp_path / "offline" / "MNIST" / "raw")  # offline forbids it outright
    assert not (tmp_path / "offline").exists()
    monkeypatch.delenv(OFFLINE_ENV)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url])
    started = time.monotonic()
    code = main(["train", "--source", "full", "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "o")])
    assert time.monotonic() - started < 60  # a hang deadline only: a refused connection is answered at once
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and not (tmp_path / "d").exists()
    assert err.startswith(f"mnist-tutorial: error: could not download {NAMES[0]} ({closed_port_url}")
    assert "Connection refused): check your connection" in err
    asked = []
    monkeypatch.setattr(download, "fetch", lambda url, *args, **kwargs: asked.append(url))
    with pytest.raises(DataError, match=r"Connection refused \(earlier in this session\)"):
        download.download_files(MNIST, tmp_path / "raw")
    assert asked == []


def test_a_hanging_name_lookup_is_bounded_by_the_timeout(tmp_path, monkeypatch):
    monkeypatch.delenv(OFFLINE_ENV)
    released = threading.Event()

    def hanging_lookup(*args, **kwargs):
        released.wait(120)  # far beyond the 60 s deadline below: only the timeout can end the wait in time
        raise socket.gaierror("too late")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://mirror.invalid/"])
    started = time.monotonic()
    try:
        with pytest.raises(DataError, match=r"invalid/train-images-idx3-ubyte\.gz: timed out: no answer within 0\.3 s"):
            download.download_files(MNIST, tmp_path / "raw", timeout=0.3)
        assert time.monotonic() - started < 60  # a hang deadline: the lookup alone would hold it for 120 s
    finally:
        released.set()


def test_a_silent_server_waits_the_timeout_the_budget_bounds_all_and_auto_then_never_waits_again(
    tmp_path, served, monkeypatch, silent_server, capsys
):
    # Each deadline of 60 s only catches a hang: the servers never answer at all.
    monkeypatch.setattr(datasets.MNIST, "mirrors", [silent_server])
    asked, fetch = [], download.fetch
    monkeypatch.setattr(
        download, "fetch", lambda *args, **kwargs: asked.append(kwargs["timeout"]) or fetch(*args, **kwargs)
    )
    started = time.monotonic()
    with pytest.raises(DataError, match="timed out"):
        resolve_source(source="full", data_dir=tmp_path / "data", timeout=0.5)
    assert asked == [0.5]  # the timeout given, not another: how long it took is the machine's business
    assert time.monotonic() - started < 60 and not (tmp_path / "data").exists()
    monkeypatch.setattr(datasets.MNIST, "mirrors", [silent_server + "again/", silent_server + "twice/"])
    started = time.monotonic()
    with pytest.raises(DataError, match="timed out"):
        download.download_files(MNIST, tmp_path / "raw", timeout=100, budget=1)
    assert time.monotonic() - started < 60  # without the budget, 2 mirrors x 100 s
    assert "(at most 1 s, then the sample takes over)" in capsys.readouterr().out
    assert not (tmp_path / "raw").exists()
    monkeypatch.setattr(sources, "AUTO_BUDGET_S", 1.0)  # 30 s in the course
    monkeypatch.setattr(datasets.MNIST, "mirrors", [silent_server + "third/"])
    started = time.monotonic()
    assert resolve_source(data_dir=tmp_path / "data", timeout=100).kind == "sample"  # auto
    assert time.monotonic() - started < 60  # without the budget, 100 s for the first step alone
    out = capsys.readouterr().out
    assert "(at most 1 s, then the sample takes over)" in out and "using the embedded sample instead" in out
    monkeypatch.setattr(download, "fetch", lambda url, *args, **kwargs: asked.append(url))
    assert resolve_source(data_dir=tmp_path / "data").kind == "sample"  # the next load_data: no new wait
    assert asked == [0.5, 100, 100, 100] and "(earlier in this session)" in capsys.readouterr().out
