"""Downloads, against a mirror on 127.0.0.1: good files land and load; a bad one leaves nothing; no hangs."""

import time

import pytest
from helpers import md5, write_dataset
from torchvision import datasets

from mnist_tutorial import load_data, resolve_source
from mnist_tutorial.cli import main
from mnist_tutorial.datasets import download
from mnist_tutorial.datasets.checksums import MEMORY
from mnist_tutorial.datasets.download import download_files
from mnist_tutorial.datasets.sources import DATASETS, SPLIT_FILES
from mnist_tutorial.defaults import OFFLINE_ENV
from mnist_tutorial.errors import DataError

NAMES = [f"{name}.gz" for pair in SPLIT_FILES.values() for name in pair]


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv(OFFLINE_ENV)


@pytest.fixture
def served(mirror, monkeypatch, online):
    """Tiny MNIST on the local mirror, and torchvision's MNIST pointed at it with the right md5s."""
    base, folder = mirror
    write_dataset(folder, n_train=40, n_test=20, checked=None)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [base])
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, md5(folder / name)) for name in NAMES])
    return folder


def everything_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_good_files_land_and_load(tmp_path, served, capsys):
    found = resolve_source(source="full", data_dir=tmp_path / "data")
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert (found.kind, found.folder) == ("full", raw)
    assert everything_under(raw) == sorted([*NAMES, MEMORY])  # no temporary files beside them, and md5s remembered
    assert all((raw / name).read_bytes() == (served / name).read_bytes() for name in NAMES)
    data = load_data(source="full", data_dir=tmp_path / "data")
    assert (len(data.train), len(data.test)) == (40, 20)
    assert "Downloading MNIST into" in capsys.readouterr().out


def test_auto_downloads_when_the_network_is_allowed(tmp_path, served):
    assert resolve_source(data_dir=tmp_path).kind == "full"


def test_wrong_md5_leaves_nothing_behind(tmp_path, served, monkeypatch, mirror):
    resources = [(name, md5(served / name)) for name in NAMES]
    resources[0] = (NAMES[0], "0" * 32)
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    with pytest.raises(DataError) as caught:
        resolve_source(source="full", data_dir=tmp_path / "data")
    assert str(caught.value) == (
        f"could not download {NAMES[0]} ({mirror[0]}{NAMES[0]}: md5 {md5(served / NAMES[0])}, expected {'0' * 32}): "
        f"check your connection, or copy the four files into {tmp_path / 'data' / 'MNIST' / 'raw'}, "
        'or use `source="sample"`'
    )
    assert not (tmp_path / "data").exists()  # not even the folders made for it


def test_a_failure_after_some_files_keeps_only_verified_files(tmp_path, served, monkeypatch):
    resources = [(name, md5(served / name)) for name in NAMES]
    resources[2] = (NAMES[2], "0" * 32)
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    with pytest.raises(DataError, match="md5"):
        resolve_source(source="full", data_dir=tmp_path)
    assert everything_under(tmp_path / "MNIST" / "raw") == sorted(NAMES[:2])


def test_auto_falls_back_to_the_sample_and_says_why(tmp_path, served, monkeypatch, capsys):
    monkeypatch.setattr(datasets.MNIST, "resources", [(NAMES[0], "0" * 32)])
    assert resolve_source(data_dir=tmp_path / "data").kind == "sample"
    assert "Download failed (could not download train-images-idx3-ubyte.gz" in capsys.readouterr().out
    assert not (tmp_path / "data").exists()


def test_the_next_mirror_is_tried_when_one_fails(tmp_path, served, monkeypatch, closed_port_url):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url, *datasets.MNIST.mirrors])
    assert resolve_source(source="full", data_dir=tmp_path).kind == "full"


def test_no_network_fails_at_once_with_one_clear_message(tmp_path, served, monkeypatch, closed_port_url):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url])
    started = time.monotonic()
    with pytest.raises(DataError, match=r"could not download .*Connection refused\): check your connection"):
        resolve_source(source="full", data_dir=tmp_path / "data")
    assert time.monotonic() - started < 60  # a hang deadline only: a refused connection is answered at once
    assert not (tmp_path / "data").exists()


def test_a_server_that_never_answers_fails_within_the_timeout(tmp_path, served, monkeypatch, silent_server):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [silent_server])
    asked, fetch = [], download.fetch
    monkeypatch.setattr(
        download, "fetch", lambda *args, **kwargs: asked.append(kwargs["timeout"]) or fetch(*args, **kwargs)
    )
    started = time.monotonic()
    with pytest.raises(DataError, match="timed out"):
        resolve_source(source="full", data_dir=tmp_path / "data", timeout=0.5)
    assert asked == [0.5]  # the timeout given, not another: how long it took is the machine's business
    assert time.monotonic() - started < 60  # a hang deadline only: the server never answers at all
    assert not (tmp_path / "data").exists()


def test_a_missing_file_on_the_mirror(tmp_path, served):
    (served / NAMES[1]).unlink()
    with pytest.raises(DataError, match=f"could not download {NAMES[1]} .*File not found"):
        resolve_source(source="full", data_dir=tmp_path)


def test_offline_forbids_downloading_outright(tmp_path, monkeypatch):
    monkeypatch.setenv(OFFLINE_ENV, "1")
    with pytest.raises(DataError, match="MNIST_TUTORIAL_OFFLINE is set, so MNIST will not be downloaded"):
        download_files(DATASETS["mnist"], tmp_path / "MNIST" / "raw")
    assert everything_under(tmp_path) == []


def test_cli_reports_a_failed_download_in_one_line(tmp_path, served, monkeypatch, closed_port_url, capsys):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url])
    code = main(["train", "--source", "full", "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"mnist-tutorial: error: could not download {NAMES[0]} ({closed_port_url}")
