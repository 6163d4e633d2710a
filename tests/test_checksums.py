"""Full data is checked against the known md5s on first use, remembered, and read as it was checked."""

import os

import pytest
from helpers import md5, write_dataset
from torchvision import datasets

from mnist_tutorial.datasets import checksums
from mnist_tutorial.datasets.sources import resolve_source
from mnist_tutorial.doctor.checks import check_full
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


@pytest.mark.parametrize("writable", [True, False])
def test_a_match_is_remembered_and_a_changed_file_is_checked_again(data_dir, monkeypatch, writable):
    raw = write_dataset(data_dir / "MNIST" / "raw", checked=None)
    known_md5s(monkeypatch, raw)
    monkeypatch.setattr(checksums, "CHECKED_HERE", set())
    if not writable:  # a read-only folder: remembered for the rest of the process only
        monkeypatch.setattr(checksums, "write_bytes_atomic", lambda *args: (_ for _ in ()).throw(PermissionError()))
    hashed = []
    monkeypatch.setattr(
        checksums, "md5_of_file", lambda path, real=checksums.md5_of_file: hashed.append(path.name) or real(path)
    )
    assert resolve_source(source="full", data_dir=data_dir).folder == raw
    assert len(hashed) == 4
    assert resolve_source(source="full", data_dir=data_dir).folder == raw
    assert len(hashed) == 4  # remembered: the second run reads no file to check it
    assert (raw / checksums.MEMORY).exists() == writable
    labels = raw / "t10k-labels-idx1-ubyte.gz"
    os.utime(labels, ns=(0, 0))
    assert resolve_source(source="full", data_dir=data_dir).folder == raw
    assert hashed[4:] == ["t10k-labels-idx1-ubyte.gz"]


UNPACKED = "train-images-idx3-ubyte"
REFUSED = {
    "stale": "{raw}/{name}, which training reads, differs from {name}.gz beside it (a stale copy?): delete "
    "{raw}/{name} and the course reads the .gz",
    "alone": "{raw}/{name} holds 250,896 bytes, not full MNIST's 47,040,016: delete it and download again (or copy "
    "the dataset's own file there)",
}


@pytest.mark.parametrize("unpacked", ["same", "stale", "alone"])
def test_an_uncompressed_file_must_hold_its_gz_or_without_one_have_full_mnists_size(data_dir, monkeypatch, unpacked):
    raw = data_dir / "MNIST" / "raw"
    if unpacked != "alone":
        known_md5s(monkeypatch, write_dataset(raw, checked=None))
    write_dataset(raw, n_train=50 if unpacked == "stale" else 320, gz=False, checked=None)  # what training reads first
    if unpacked == "same":
        assert resolve_source(source="full", data_dir=data_dir).folder == raw
        assert check_full(data_dir).status == "ok"
        return
    with pytest.raises(DataError) as refused:
        resolve_source(source="full", data_dir=data_dir)
    assert str(refused.value) == REFUSED[unpacked].format(raw=raw, name=UNPACKED)
    assert check_full(data_dir).detail == str(refused.value)  # doctor says what training says
