"""Faults and misuse at the edges of a run: hostile files, a second run, signals. Each gets one clear line."""

import contextlib
import gzip
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
import torch
from helpers import md5, pass_as_checked, run_with_deadline, write_dataset

from mnist_tutorial import NeuralNetwork, load_checkpoint
from mnist_tutorial.checkpoint import FORMAT
from mnist_tutorial.cli import main
from mnist_tutorial.run.outputs import OUTPUTS

IMAGES = "train-images-idx3-ubyte.gz"


def gzip_bomb(path: Path, *, images: int, body_bytes: int) -> None:
    """A gzipped IDX file whose header claims `images` 28x28 images, followed by `body_bytes` zeros."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (images, 28, 28)))
        for _ in range(body_bytes >> 20):
            out.write(bytes(1 << 20))


READ_UNDER_A_CAP = textwrap.dedent(
    """
    import resource, sys
    from mnist_tutorial.data import load_data
    from mnist_tutorial.errors import DataError
    # Cap this process's heap at what it uses now plus 400 MB: reading a bomb whole would need gigabytes.
    used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (used + 400 * 2**20, resource.RLIM_INFINITY))
    for data_dir in sys.argv[1:]:
        try:
            load_data(source="full", data_dir=data_dir)
        except DataError as error:
            print(error)
    """
)


@pytest.mark.slow
def test_a_gzip_bomb_is_refused_without_decompressing_it(tmp_path):
    for images in (2_500_000, 60_000):
        raw = write_dataset(tmp_path / str(images) / "MNIST" / "raw")
        gzip_bomb(raw / IMAGES, images=images, body_bytes=600 << 20)  # 600 MB of zeros in about 0.6 MB
        pass_as_checked(raw)  # its md5 would refuse it first; the reader must refuse it on its own too
        assert (raw / IMAGES).stat().st_size < 2 << 20
    command = [sys.executable, "-c", READ_UNDER_A_CAP, tmp_path / "2500000", tmp_path / "60000"]
    result = run_with_deadline(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    header_refused, read_as_promised = result.stdout.splitlines()
    assert "claims 2,500,000 items, more than the 60,000 this split can hold" in header_refused
    assert "is longer than its header says" in read_as_promised  # it read no further than its header promised


def tiny_train(tmp_path: Path, *more: str, out: Path | None = None) -> list[str]:
    """`train` on a tiny dataset (5 batches per epoch) written into tmp_path/d; into tmp_path/out unless `out`."""
    data_dir = write_dataset(tmp_path / "d" / "MNIST" / "raw").parent.parent
    args = ["train", "--source", "full", "--data-dir", data_dir, "--out", out or tmp_path / "out", "--no-progress"]
    return [str(arg) for arg in [*args, *more]]


# A command run as a learner types it, `python -m mnist_tutorial ...`, held at one moment by a sitecustomize.py:
# there it writes the file $MARK and sleeps until the test's signal arrives. Python's own SIGINT handler comes first,
# as a terminal gives it, whatever started this test run (`make test &` passes SIGINT on ignored).
SITECUSTOMIZE = """
import os, signal, sys, time
from pathlib import Path

signal.signal(signal.SIGINT, signal.default_int_handler)

def hold(where):
    Path(os.environ["MARK"]).write_text(where)
    time.sleep(120)

class HoldAtImport:  # holds the first import of a module named prefix..., once `after` is loaded
    def __init__(self, prefix, after="sys"):
        self.prefix, self.after = prefix, after

    def find_spec(self, name, path=None, target=None):
        if name.startswith(self.prefix) and self.after in sys.modules:
            sys.meta_path.remove(self)
            hold(name)

def hold_at_call(owner, name, number, about):  # holds the number-th call of owner.name about a file, before it runs
    real, calls = getattr(owner, name), []

    def held(*args, **kwargs):
        calls.append(about in str(args[0]))
        if calls.count(True) == number and calls[-1]:
            hold(f"call {number} of {name} about {about}")
        return real(*args, **kwargs)

    setattr(owner, name, held)
"""


def held(tmp_path: Path, hook: str, args: list, signum: int = signal.SIGINT) -> tuple[int, str, str]:
    """Run the command held by `hook` (more of sitecustomize.py), signal it there: (exit status, stdout, stderr)."""
    where = tmp_path / "held"
    where.mkdir()
    (where / "sitecustomize.py").write_text(SITECUSTOMIZE + textwrap.dedent(hook))
    path = os.pathsep.join(filter(None, [str(where), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "MARK": str(where / "mark")}
    command = [sys.executable, "-m", "mnist_tutorial", *map(str, args)]
    with open(where / "stdout", "w") as stdout, open(where / "stderr", "w") as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 300  # a hang deadline only: the child imports torch, then trains a little
        while not (where / "mark").exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (where / "mark").exists(), f"it ended before the hook held it: {(where / 'stderr').read_text()[-3000:]}"
        child.send_signal(signum)
        child.wait(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    return child.returncode, (where / "stdout").read_text(), (where / "stderr").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("module", ["torch", "mnist_tutorial.run"])
def test_ctrl_c_while_the_command_loads_is_one_line(tmp_path, module):
    # torch loads with the package, before any of the command line's code can run; the course's runs, doctor and
    # matplotlib load after it, inside main(). Either way Ctrl-C ends the process at once, in the one line.
    hook = f"sys.meta_path.insert(0, HoldAtImport({module!r}))"
    assert held(tmp_path, hook, ["train", "--out", tmp_path / "out"]) == (130, "", "mnist-tutorial: interrupted\n")
    assert (tmp_path / "held" / "mark").read_text() == module and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_ctrl_c_during_onnx_export_is_one_line_and_keeps_the_old_files(tmp_path):
    model, page = tmp_path / "model.pt", tmp_path / "page"
    torch.save(NeuralNetwork().state_dict(), model)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", "--checkpoint", str(model), "--out", str(page)]) == 0
    before = {name: md5(page / name) for name in os.listdir(page)}
    # The exporter imports torch._inductor's modules as it starts: a Ctrl-C inside that import reaches main()
    # wrapped in the exporter's own error (three chained tracebacks, exit status 1, before the fix).
    hook = "sys.meta_path.insert(0, HoldAtImport('torch._inductor.', after='mnist_tutorial.deploy.export'))"
    code, out, err = held(tmp_path, hook, ["export", "--checkpoint", model, "--out", page])
    assert (code, out, err) == (130, "", "mnist-tutorial: interrupted\n")
    assert {name: md5(page / name) for name in os.listdir(page)} == before
    assert sorted(os.listdir(tmp_path)) == ["held", "model.pt", "page"]


HOLD_AFTER_ACCURACY = """
import builtins

def print_then_hold(*args, real_print=builtins.print, **kwargs):
    real_print(*args, **kwargs)
    if args and str(args[0]).startswith("Test Accuracy"):
        sys.stdout.flush()
        hold("after the accuracy line")

builtins.print = print_then_hold
"""
# Where a 3-epoch run is held, the signal it then gets, and the epochs model.pt holds after it (0: none saved).
# SIGTERM (a timeout, docker stop, Slurm) must stop a run as Ctrl-C does: each raises KeyboardInterrupt where it lands.
MID_RUN = {
    "SIGTERM after the accuracy line": (HOLD_AFTER_ACCURACY, signal.SIGTERM, 3),
    # os.replace renames a save's temporary file, written whole and fsynced, over model.pt
    "Ctrl-C while epoch 3 is saved": ("hold_at_call(os, 'replace', 3, 'model.pt')", signal.SIGINT, 2),
    "SIGTERM while epoch 1 is saved": ("hold_at_call(os, 'replace', 1, 'model.pt')", signal.SIGTERM, 0),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", MID_RUN)
def test_a_signal_mid_run_stops_it_cleanly_saying_what_model_pt_holds(tmp_path, case):
    hook, signum, saved = MID_RUN[case]
    code, stdout, err = held(tmp_path, hook, tiny_train(tmp_path, "--epochs", "3"), signum)
    out = tmp_path / "out"
    assert (code, err) == (130, ""), err
    if saved:
        hint = f"holds {saved} epoch(s); continue with --resume {out}/model.pt"
        assert stdout.splitlines()[-1] == f"Stopped: {out}/model.pt {hint}"
        assert os.listdir(out) == ["model.pt"] and load_checkpoint(out / "model.pt")["epoch"] == saved
    else:
        assert stdout.splitlines()[-1] == f"Stopped before the first epoch ended: {out} is as it was before this run"
        assert os.listdir(out) == []
    within_fit = "accuracy" not in case  # fit says what it keeps, and must count as model.pt does
    assert re.findall(r"with (\d+) complete epoch\(s\)", stdout) == ([str(saved)] if within_fit else []), stdout


PLANTED = {"symlink": "a symlink", "fifo": "a FIFO", "folder": "a folder", "hard link": "a hard link"}


@pytest.mark.parametrize("name", [".mnist-tutorial.lock", *OUTPUTS])
@pytest.mark.parametrize("planted", PLANTED)
def test_a_planted_name_in_out_is_refused_and_nothing_is_written_through_it(tmp_path, capsys, planted, name):
    out, victim = tmp_path / "shared", tmp_path / "notes.txt"
    out.mkdir()
    victim.write_text("my notes\n")
    there = out / name
    plant = {"symlink": lambda: there.symlink_to(victim), "fifo": lambda: os.mkfifo(there), "folder": there.mkdir,
             "hard link": lambda: os.link(victim, there)}  # fmt: skip
    plant[planted]()
    assert main(tiny_train(tmp_path, "--epochs", "1", out=out)) == 2
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
    model = NeuralNetwork()
    if case == "deflated":
        honest = path.with_name("honest.pt")
        torch.save({**model.state_dict(), "padding": torch.zeros(1 << 26)}, honest)  # 256 MB of zeros
        with zipfile.ZipFile(honest) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as packed:
            for entry in source.infolist():
                packed.writestr(entry.filename, source.read(entry))
        honest.unlink()
        return "holds compressed entries, which torch.save never writes"
    if case == "billion laughs":
        laughs: list = [1.0]
        for _ in range(60):  # 2**60 floats once followed: shared lists, a few KB on disk
            laughs = [laughs, laughs]
        history = {"train_loss": laughs, "test_loss": [], "test_accuracy": [], "seconds": []}
        state = {"format": FORMAT, "sizes": model.sizes, "model_state": model.state_dict(), "dataset": "mnist"}
        torch.save({**state, "history": history}, path)
        return "holds a training history that is not lists of numbers"
    if case == "stride 0, 65536 wide":
        state = {**stride_zero_lesson_network(64), "fc2.weight": torch.zeros(1).expand(65536, 65536),
                 "fc2.bias": torch.zeros(1).expand(65536)}  # fmt: skip
    elif case == "a million units claimed":
        sizes = {"hidden1": 1_000_000, "hidden2": 64, "num_classes": 10}
        state = {"format": FORMAT, "sizes": sizes, "model_state": {"fc1.weight": torch.zeros(1, 1)}}
    elif case == "stride 0, within the cap":
        state = stride_zero_lesson_network(4096)
    else:
        state = NeuralNetwork(4097, 64).state_dict()
    torch.save(state, path)
    return "do not match its tensors, or exceed 4096"


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
CRAFTED = ["stride 0, 65536 wide", "a million units claimed", "stride 0, within the cap", "hidden 4097", "deflated",
           "billion laughs"]  # fmt: skip


@pytest.mark.slow
def test_crafted_checkpoints_are_refused_in_one_line_within_their_honest_memory(tmp_path):
    words, commands = {}, []
    for index, case in enumerate(CRAFTED):
        path = tmp_path / f"{index}.pt"
        words[str(path)] = crafted_checkpoint(case, path)
        commands += [["evaluate", "--checkpoint", str(path), "--source", "sample"],
                     ["export", "--checkpoint", str(path), "--out", str(tmp_path / "page")]]  # fmt: skip
    # An address-space limit of 6 GB: torch alone maps about 3; any 16 GiB network or 1 GiB unpacking fails.
    limit = ["prlimit", "--as=6000000000"] if shutil.which("prlimit") else []
    command = [*limit, sys.executable, "-c", MAIN_WITH_PEAK, json.dumps(commands)]
    # 300 s only catches a hang (each command takes a few seconds); how long they take is no assertion
    result = run_with_deadline(command, capture_output=True, text=True, timeout=300)
    *lines, peak = result.stderr.strip().splitlines()
    assert result.returncode == 0 and len(lines) == 2 * len(commands), result.stderr  # per command: a line, a status
    for argv, error, status in zip(commands, lines[::2], lines[1::2], strict=True):
        assert status == "status 2" and error.startswith("mnist-tutorial: error: ") and words[argv[2]] in error, error
    # every command within 1.5 GB, the peak being the largest: no more than the file's honest size
    assert int(peak.split()[1]) * 1024 < 1_500_000_000, peak
    assert not (tmp_path / "page").exists()
