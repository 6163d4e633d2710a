"""Full data is checked against the known md5s on first use, remembered, and read as it was checked."""

import os

import pytest
from helpers import md5, write_dataset
from torchvision import datasets

from mnist_tutorial.datasets import checksums
from mnist_tutorial.datasets.sources import resolve_source
from mnist_tutorial.doctor.data_checks import check_full
from mnist_tutorial.errors import DataError


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def known_md5s(monkeypatch, raw):
    """Make torchvision's md5s those of the files written, as if they were MNIST's."""
    names = [name for name, _ in datasets.MNIST.resources]
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, md5(raw / name)) for name in names])


def test_another_datasets_files_under_mnists_names_are_refused_by_training_and_doctor(data_dir):
    raw = write_dataset(data_dir / "MNIST" / "raw", checked=None)  # not MNIST's md5s, as Fashion-MNIST's are not
    with pytest.raises(DataError) as refused:
        resolve_source(source="full", data_dir=data_dir)
    message = str(refused.value)
    assert message.startswith(f"{raw / 'train-images-idx3-ubyte.gz'} is not MNIST's file of that name (md5 ")
    assert "another dataset's, or damaged? delete it and download again" in message
    assert check_full(data_dir).detail == message  # doctor says what training says, of the same file


def test_a_match_is_remembered_and_a_changed_file_is_checked_again(data_dir, monkeypatch):
    raw = write_dataset(data_dir / "MNIST" / "raw", checked=None)
    known_md5s(monkeypatch, raw)
    hashed = []
    monkeypatch.setattr(
        checksums, "md5_of_file", lambda path, real=checksums.md5_of_file: hashed.append(path.name) or real(path)
    )
    assert resolve_source(source="full", data_dir=data_dir).folder == raw
    assert len(hashed) == 4
    assert resolve_source(source="full", data_dir=data_dir).folder == raw
    assert len(hashed) == 4  # remembered: the second run reads no file to check it
    labels = raw / "t10k-labels-idx1-ubyte.gz"
    os.utime(labels, ns=(0, 0))
    assert resolve_source(source="full", data_dir=data_dir).folder == raw
    assert hashed[4:] == ["t10k-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("stale", [False, True])
def test_an_uncompressed_file_beside_its_gz_must_hold_the_same_images(data_dir, monkeypatch, stale):
    raw = write_dataset(data_dir / "MNIST" / "raw", checked=None)
    known_md5s(monkeypatch, raw)
    write_dataset(raw, n_train=50 if stale else 320, gz=False, checked=None)  # what training reads first
    if not stale:
        assert resolve_source(source="full", data_dir=data_dir).folder == raw
        assert check_full(data_dir).status == "ok"
        return
    with pytest.raises(DataError) as refused:
        resolve_source(source="full", data_dir=data_dir)
    assert str(refused.value) == (
        f"{raw / 'train-images-idx3-ubyte'}, which training reads, differs from train-images-idx3-ubyte.gz beside "
        f"it (a stale copy?): delete {raw / 'train-images-idx3-ubyte'} and the course reads the .gz"
    )
    assert check_full(data_dir).detail == str(refused.value)


def test_an_uncompressed_file_without_its_gz_must_have_full_mnists_size(data_dir):
    raw = write_dataset(data_dir / "MNIST" / "raw", gz=False, checked=None)
    with pytest.raises(DataError) as refused:
        resolve_source(source="full", data_dir=data_dir)
    assert str(refused.value) == (
        f"{raw / 'train-images-idx3-ubyte'} holds 250,896 bytes, not full MNIST's 47,040,016: delete it and "
        "download again (or copy the dataset's own file there)"
    )


def test_a_read_only_folder_is_checked_once_per_process(data_dir, monkeypatch):
    raw = write_dataset(data_dir / "MNIST" / "raw", checked=None)
    known_md5s(monkeypatch, raw)
    monkeypatch.setattr(checksums, "CHECKED_HERE", set())
    monkeypatch.setattr(checksums, "write_bytes_atomic", lambda *args: (_ for _ in ()).throw(PermissionError()))
    hashed = []
    monkeypatch.setattr(
        checksums, "md5_of_file", lambda path, real=checksums.md5_of_file: hashed.append(path) or real(path)
    )
    resolve_source(source="full", data_dir=data_dir)
    resolve_source(source="full", data_dir=data_dir)
    assert len(hashed) == 4 and not (raw / checksums.MEMORY).exists()
