"""Faults and misuse at the edges of a run: hostile files, a second run, signals. Each gets one clear line."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import pytest
import torch
from helpers import pass_as_checked, run_with_deadline, write_dataset

from mnist_tutorial import NeuralNetwork, load_checkpoint, load_model
from mnist_tutorial.checkpoint import FORMAT
from mnist_tutorial.cli import main
from mnist_tutorial.errors import CheckpointError
from mnist_tutorial.run.lock import OutputLock
from mnist_tutorial.run.outputs import OUTPUTS

IMAGES = "train-images-idx3-ubyte.gz"


def gzip_bomb(path: Path, *, images: int, body_bytes: int) -> None:
    """A gzipped IDX file whose header claims `images` 28x28 images, followed by `body_bytes` zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (images, 28, 28))
    with open(path, "wb") as out:
        out.write(compressor.compress(header))
        chunk = bytes(1 << 20)
        for _ in range(body_bytes >> 20):
            out.write(compressor.compress(chunk))
        out.write(compressor.flush())


READ_UNDER_A_CAP = textwrap.dedent(
    """
    import resource, sys
    from mnist_tutorial.data import load_data
    from mnist_tutorial.errors import DataError
    # Cap this process's heap at what it uses now plus 400 MB: reading the bomb whole would need gigabytes.
    used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (used + 400 * 2**20, resource.RLIM_INFINITY))
    try:
        load_data(source="full", data_dir=sys.argv[1])
    except DataError as error:
        print(error)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("images", [2_500_000, 60_000])
def test_a_gzip_bomb_is_refused_without_decompressing_it(tmp_path, images):
    data_dir = tmp_path / "data"
    raw = write_dataset(data_dir / "MNIST" / "raw")
    gzip_bomb(raw / IMAGES, images=images, body_bytes=600 << 20)  # 600 MB of zeros in about 0.6 MB
    pass_as_checked(raw)  # its md5 would refuse it first; the reader must refuse it on its own too
    assert (raw / IMAGES).stat().st_size < 2 << 20
    result = run_with_deadline(
        [sys.executable, "-c", READ_UNDER_A_CAP, str(data_dir)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    if images > 60_000:  # refused on its header alone
        assert "claims 2,500,000 items, more than the 60,000 this split can hold" in result.stdout
    else:  # a plausible header, then far more data than it promises: read no further than promised
        assert "is longer than its header says" in result.stdout


def test_a_checkpoint_claiming_a_huge_network_is_refused_before_one_is_built(tmp_path, monkeypatch):
    state = {
        "format": FORMAT,
        "sizes": {"hidden1": 1_000_000, "hidden2": 64, "num_classes": 10},
        "model_state": {"fc1.weight": torch.zeros(1, 1)},
    }
    torch.save(state, tmp_path / "huge.pt")
    assert (tmp_path / "huge.pt").stat().st_size < 4000
    built = []
    monkeypatch.setattr(NeuralNetwork, "__init__", lambda self, *a, **k: built.append(a or k))
    with pytest.raises(CheckpointError, match=r"its stored sizes .* do not match its tensors, or exceed 4096"):
        load_model(tmp_path / "huge.pt")
    assert built == []


def train_args(data_dir: Path, out: Path, *more: str) -> list[str]:
    return [str(a) for a in ["train", "--source", "full", "--data-dir", data_dir, "--out", out, "--no-progress", *more]]


def test_a_second_run_on_the_same_out_is_refused_naming_the_first(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with OutputLock(out):
        assert main(train_args(write_dataset(tmp_path / "d" / "MNIST" / "raw").parent.parent, out)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mnist-tutorial: error: --out {out} is in use by another run (process {os.getpid()}, ")
    assert err.endswith("wait for it to end, or choose another --out\n") and len(err.splitlines()) == 1
    assert os.listdir(out) == []


HOLD_THE_LOCK = "import sys, time\nfrom mnist_tutorial.run.lock import OutputLock\n" \
    "with OutputLock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(60)\n"  # fmt: skip


@pytest.mark.slow
def test_a_lock_left_by_a_killed_run_blocks_nobody(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (out / ".mnist-tutorial.lock").exists()  # the file stays behind, but not the lock
    data_dir = write_dataset(tmp_path / "d" / "MNIST" / "raw").parent.parent
    assert main(train_args(data_dir, out, "--epochs", "1")) == 0
    assert sorted(os.listdir(out)) == ["loss.png", "metrics.json", "model.pt", "predictions.png"]


SLOW_SAVES = textwrap.dedent(
    """
    import os, sys, time
    from mnist_tutorial import files
    from mnist_tutorial.cli import main
    real_fsync = files.os.fsync
    def slow_fsync(fd):  # every save takes a while, so a signal can arrive in the middle of one
        print("saving", flush=True)
        time.sleep(float(os.environ["SAVE_SECONDS"]))
        real_fsync(fd)
    files.os.fsync = slow_fsync
    sys.exit(main(sys.argv[1:]))
    """
)


def start_run(tmp_path: Path, save_seconds: float) -> tuple[subprocess.Popen, Path]:
    data_dir = write_dataset(tmp_path / "d" / "MNIST" / "raw", n_train=2000).parent.parent
    out = tmp_path / "out"
    env = {**os.environ, "SAVE_SECONDS": str(save_seconds)}
    command = [sys.executable, "-c", SLOW_SAVES, *train_args(data_dir, out, "--epochs", "1000")]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env), out


@pytest.mark.slow
@pytest.mark.parametrize("when", ["mid-run", "mid-save"])
def test_sigterm_stops_like_ctrl_c_and_leaves_no_temporary_file(tmp_path, when):
    run, out = start_run(tmp_path, save_seconds=3 if when == "mid-save" else 0)
    lines = []
    while (line := run.stdout.readline()) and not line.startswith("saving"):  # the first save starts
        lines.append(line)
    if when == "mid-run":
        while not (out / "model.pt").exists():
            time.sleep(0.05)
        time.sleep(0.3)
    run.send_signal(signal.SIGTERM)
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    if when == "mid-save":  # the first save never finished: nothing to resume, and the folder is as before
        assert "Stopped before the first epoch ended" in stdout and not (out / "model.pt").exists()
    else:
        epochs = load_checkpoint(out / "model.pt")["epoch"]
        assert f"Stopped: {out}/model.pt holds {epochs} epoch(s); continue with --resume {out}/model.pt" in stdout


PLANTED = {"symlink": "a symlink", "fifo": "a FIFO", "folder": "a folder"}


@pytest.mark.parametrize("name", [".mnist-tutorial.lock", *OUTPUTS])
@pytest.mark.parametrize("planted", PLANTED)
def test_a_planted_name_in_out_is_refused_and_nothing_is_written_through_it(tmp_path, capsys, planted, name):
    out, victim = tmp_path / "shared", tmp_path / "notes.txt"
    out.mkdir()
    victim.write_text("my notes\n")
    there = out / name
    {"symlink": lambda: there.symlink_to(victim), "fifo": lambda: os.mkfifo(there), "folder": there.mkdir}[planted]()
    data_dir = write_dataset(tmp_path / "d" / "MNIST" / "raw").parent.parent
    assert main(train_args(data_dir, out, "--epochs", "1")) == 2
    error = capsys.readouterr().err.strip()
    if name == ".mnist-tutorial.lock":
        assert error == (
            f"mnist-tutorial: error: --out {out}: .mnist-tutorial.lock there is {PLANTED[planted]}, not the lock "
            f"file a run makes: remove it (rm -r '{there}') or choose another --out"
        )
    else:
        assert error == (
            f"mnist-tutorial: error: --out {out} holds {PLANTED[planted]} named {name}: move it away or choose "
            "another --out"
        )
    assert victim.read_text() == "my notes\n" and os.listdir(out) == [name]


def stride_zero_lesson_network(hidden: int) -> dict:
    """A state_dict whose tensors are views of one zero each (stride 0): a few bytes on disk for any size."""
    shapes = {"fc1.weight": (hidden, 784), "fc1.bias": (hidden,), "fc2.weight": (64, hidden), "fc2.bias": (64,),
              "fc3.weight": (10, 64), "fc3.bias": (10,)}  # fmt: skip
    return {name: torch.zeros(1).expand(*shape) for name, shape in shapes.items()}


def crafted_checkpoint(case: str, path: Path) -> str:
    """Write one of the crafted checkpoints at `path`; returns the words its refusal must contain."""
    if case == "stride 0, 65536 wide":
        torch.save({**stride_zero_lesson_network(64), "fc2.weight": torch.zeros(1).expand(65536, 65536),
                    "fc2.bias": torch.zeros(1).expand(65536)}, path)  # fmt: skip
        return "do not match its tensors, or exceed 4096"
    if case == "stride 0, within the cap":
        torch.save(stride_zero_lesson_network(4096), path)
        return "do not match its tensors, or exceed 4096"
    if case == "hidden 4097":
        model = NeuralNetwork(4097, 64)
        torch.save(model.state_dict(), path)
        return "do not match its tensors, or exceed 4096"
    if case == "deflated":
        honest = path.with_name("honest.pt")
        torch.save({**NeuralNetwork().state_dict(), "fc1.bias": torch.zeros(128), "padding": torch.zeros(1 << 26)},
                   honest)  # fmt: skip
        with zipfile.ZipFile(honest) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as packed:
            for entry in source.infolist():
                packed.writestr(entry.filename, source.read(entry))
        honest.unlink()
        return "holds compressed entries, which torch.save never writes"
    laughs: list = [1.0]
    for _ in range(60):  # 2**60 floats once followed: shared lists, a few KB on disk
        laughs = [laughs, laughs]
    model = NeuralNetwork()
    state = {"format": FORMAT, "sizes": model.sizes, "model_state": model.state_dict(), "dataset": "mnist",
             "history": {"train_loss": laughs, "test_loss": [], "test_accuracy": [], "seconds": []}}  # fmt: skip
    torch.save(state, path)
    return "holds a training history that is not lists of numbers"


MAIN_WITH_PEAK = textwrap.dedent(
    """
    import json, sys
    from mnist_tutorial.cli import main
    for argv in json.loads(sys.argv[1]):  # each command in turn, in this one process
        print("status", main(argv), file=sys.stderr)
    # VmHWM, this process's own peak in kB (getrusage's ru_maxrss would include the forking parent's)
    peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print("peak", peak, file=sys.stderr)
    """
)
CRAFTED = ["stride 0, 65536 wide", "stride 0, within the cap", "hidden 4097", "deflated", "billion laughs"]


@pytest.mark.slow
@pytest.mark.parametrize("case", CRAFTED)
def test_a_crafted_checkpoint_is_refused_in_one_line_within_its_honest_memory(tmp_path, case):
    path = tmp_path / "model.pt"
    words = crafted_checkpoint(case, path)
    # An address-space limit of 6 GB: torch alone maps about 3; any 16 GiB network or 1 GiB unpacking fails.
    limit = ["prlimit", "--as=6000000000"] if shutil.which("prlimit") else []
    commands = [["evaluate", "--checkpoint", str(path), "--source", "sample"],
                ["export", "--checkpoint", str(path), "--out", str(tmp_path / "page")]]  # fmt: skip
    command = [*limit, sys.executable, "-c", MAIN_WITH_PEAK, json.dumps(commands)]
    # 120 s only catches a hang (both commands take a few seconds); how long they take is no assertion
    result = run_with_deadline(command, capture_output=True, text=True, timeout=120)
    *lines, peak = result.stderr.strip().splitlines()
    assert result.returncode == 0 and len(lines) == 4, result.stderr  # per command: one line, then its status
    for error, status in zip(lines[::2], lines[1::2], strict=True):
        assert status == "status 2" and error.startswith("mnist-tutorial: error: ") and words in error, error
    # both commands within 1.5 GB, the peak being the larger of the two: no more than the file's honest size
    assert int(peak.split()[1]) * 1024 < 1_500_000_000, peak
    assert not (tmp_path / "page").exists()
