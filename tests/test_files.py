"""Atomic writes: the temporary file is fsynced, then renamed over the target; a failure leaves no trace."""

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mnist_tutorial.errors import ConfigError, OutputError
from mnist_tutorial.files import atomic_path, path_argument, write_bytes_atomic, write_files_atomic


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
    old_umask = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "new", b"x")  # a new file gets the usual permissions, not mkstemp's private ones
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_set_of_files_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch, error):
    old = {tmp_path / name: f"old {name}".encode() for name in ("a", "b", "c")}
    for path, data in old.items():
        path.write_bytes(data)
    write_files_atomic({path: b"new" for path in old})
    assert {path.read_bytes() for path in old} == {b"new"}
    real_write, written = Path.write_bytes, []

    def fails_on_the_second(path, data):  # a full disk, or Ctrl-C, half way through the set
        written.append(path)
        if len(written) == 2:
            raise error
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", fails_on_the_second)
    with pytest.raises(type(error)):
        write_files_atomic({path: b"newer" for path in old})
    assert {path.read_bytes() for path in old} == {b"new"} and sorted(os.listdir(tmp_path)) == ["a", "b", "c"]


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("out", None, "`out` is None, not a path: pass a file or folder name as a string"),
        ("out", 64, "`out` is an int, not a path: pass a file or folder name as a string"),
        ("out", "", "`out` is empty: pass a file or folder name (an unset variable?)"),
        ("--report-dir", "", "--report-dir is empty: pass a file or folder name (an unset variable?)"),
    ],
)
def test_a_path_argument_that_is_no_path_is_refused_by_its_name_by_every_writer(tmp_path, name, value, message):
    for refuse in (lambda: path_argument(name, value), lambda: write_bytes_atomic(value, b"x", argument=name)):
        with pytest.raises(ConfigError) as refused:
            refuse()
        assert str(refused.value) == message
    assert os.listdir(tmp_path) == []


def test_a_path_argument_expands_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert path_argument("out", "~/runs") == path_argument("out", Path("~") / "runs") == tmp_path / "runs"
    write_bytes_atomic("~/a", b"x")
    assert (tmp_path / "a").read_bytes() == b"x"


PLANTERS = {
    "symlink": lambda there, victim: there.symlink_to(victim),
    "hard link": lambda there, victim: os.link(victim, there),
    "FIFO": lambda there, victim: os.mkfifo(there),
    "folder": lambda there, victim: there.mkdir(),
}


@pytest.mark.parametrize("planted", PLANTERS)
def test_a_planted_name_is_refused_and_nothing_is_written_through_it(tmp_path, planted):
    victim, there = tmp_path / "notes.txt", tmp_path / "shared" / "metrics.json"
    victim.write_text("my notes\n")
    there.parent.mkdir()
    PLANTERS[planted](there, victim)
    with pytest.raises(OutputError) as refused:
        write_bytes_atomic(there, b"new", argument="out")
    assert str(refused.value) == (
        f"cannot write {there}: it is a {planted}, not a file the course wrote: move it away or choose another `out`"
    )
    assert victim.read_text() == "my notes\n" and os.listdir(there.parent) == ["metrics.json"]


def a_finished_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_a_writer_removes_only_the_temporaries_whose_writer_is_gone(tmp_path):
    now, dead, target = time.time(), a_finished_pid(), tmp_path / "model.pt"
    gone = {
        ".model.pt.0123abcd.tmp": now - 7200,  # an older version's name, two hours old
        f".model.pt.{os.getpid()}.0123abcd.tmp": now - 7200,  # an hour old, whoever wrote it
        f".model.pt.{dead}.deadbeef.tmp": now - 120,  # its writer ended a while ago
    }
    kept = {
        ".model.pt.deadbeef.tmp": now,  # an older version's name, being written
        f".model.pt.{os.getppid()}.0123abcd.tmp": now - 120,  # a writer still running
        f".model.pt.{dead}.01234567.tmp": now,  # a pid not seen here may be another container's: give it a minute
        ".other.pt.0123abcd.tmp": now - 7200,  # another file's
        ".model.pt.notes.tmp": now - 7200,  # not a temporary's name
        "model.pt.tmp": now - 7200,
    }
    for name, mtime in {**gone, **kept}.items():
        (tmp_path / name).write_bytes(b"half")
        os.utime(tmp_path / name, (mtime, mtime))
    with atomic_path(target) as theirs:  # another writer of the same file, not yet done
        theirs.write_bytes(b"theirs")
        write_bytes_atomic(target, b"mine")
        assert theirs.exists() and target.read_bytes() == b"mine"
    assert target.read_bytes() == b"theirs"  # the last to finish wins
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.pt", *kept])


def test_two_writers_of_one_path_lose_no_write(tmp_path):
    target, failures = tmp_path / "run" / "model.pt", []
    target.parent.mkdir()
    start = threading.Barrier(2)

    def keep_writing(data: bytes) -> None:
        start.wait()
        for _ in range(300):
            try:
                write_bytes_atomic(target, data)
            except OSError as error:  # a writer removing the other's temporary, or a name taken twice
                failures.append(error)

    writers = [threading.Thread(target=keep_writing, args=(data,)) for data in (b"first" * 1000, b"second" * 1000)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert failures == [] and target.read_bytes() in (b"first" * 1000, b"second" * 1000)
    assert os.listdir(target.parent) == ["model.pt"]
