"""Atomic writes: the temporary file is fsynced, then renamed over the target; a failure leaves no trace."""

import os
import sys
from pathlib import Path

import pytest

from mnist_tutorial.errors import ConfigError
from mnist_tutorial.files import atomic_path, kind_of, path_argument, write_bytes_atomic


def test_writes_go_to_a_temporary_file_that_is_fsynced_then_renamed(tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}") if sys.platform == "linux" else fd))
        real_fsync(fd)

    def replace(source, destination):
        events.append(("replace", str(source), str(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".model.pt.") and tmp.name.endswith(".tmp")
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # untouched until the body is done
    assert target.read_bytes() == b"new"
    assert [event[0] for event in events] == ["fsync", "replace", "fsync"]  # file, rename, then its folder
    if sys.platform == "linux":
        assert events[0][1] == str(tmp) and events[2][1] == str(tmp_path)
    assert events[1] == ("replace", str(tmp), str(target))
    assert os.listdir(tmp_path) == ["model.pt"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, error):
    target = tmp_path / "metrics.json"
    target.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise error
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_new_files_get_the_usual_permissions_not_private_ones(tmp_path):
    old_umask = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a", b"x")
    finally:
        os.umask(old_umask)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o644


def test_write_bytes_atomic_replaces_the_content(tmp_path):
    write_bytes_atomic(tmp_path / "a", b"first")
    write_bytes_atomic(tmp_path / "a", b"second")
    assert (tmp_path / "a").read_bytes() == b"second"


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "`out` is None, not a path: pass a file or folder name as a string"),
        (64, "`out` is an int, not a path: pass a file or folder name as a string"),
        ("", "`out` is empty: pass a file or folder name (an unset variable?)"),
    ],
)
def test_a_path_argument_that_is_no_path_is_refused_by_its_name(value, message):
    with pytest.raises(ConfigError) as refused:
        path_argument("out", value)
    assert str(refused.value) == message


def test_a_path_argument_expands_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert path_argument("out", "~/runs") == tmp_path / "runs"
    assert path_argument("out", Path("~") / "runs") == tmp_path / "runs"


def test_kind_of_names_what_is_not_a_regular_file(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    kinds = {name: kind_of(tmp_path / name) for name in ("file", "link", "folder", "fifo", "missing")}
    assert kinds == {"file": None, "link": "a symlink", "folder": "a folder", "fifo": "a FIFO", "missing": None}
    assert kind_of(Path("/dev/zero")) == "a device"
