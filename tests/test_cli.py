"""The `mnist-tutorial` command: its outputs, resuming, interrupts, and one line with exit status 2 for bad input.

Each setting's flag, check and resume rule come from settings.SETTINGS, so they are tested over every row of it.
"""

import contextlib
import gzip
import io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import md5, pass_as_checked, run_with_deadline, same_weights, write_dataset

from mnist_tutorial import NeuralNetwork, fit, load_data, load_model, make_loaders, seed_everything
from mnist_tutorial.checkpoint import load_checkpoint, save_checkpoint
from mnist_tutorial.cli import main
from mnist_tutorial.datasets.idx import write_idx
from mnist_tutorial.run.outputs import OUTPUTS
from mnist_tutorial.settings import KEPT_ON_RESUME, SETTINGS, fraction, layer_size, positive, positive_count, seed_range
from tools import make_student

SCRIPT = Path(sys.executable).parent / "mnist-tutorial"
ACCURACY = re.compile(r"^Test Accuracy: (\d+\.\d\d)%$", re.MULTILINE)


def run(args: list, capsys) -> tuple[int, str, str]:
    """main(args) in-process: (exit status, stdout, stderr); argparse's own exits count as statuses too."""
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(args: list, capsys, status: int = 2) -> str:
    """Run a command that must be refused: one line on stderr, no traceback; returns that line."""
    code, _, err = run(args, capsys)
    assert code == status, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """`mnist-tutorial train --source sample --epochs 1 --out DIR`, run once for the tests that read its outputs."""
    out = tmp_path_factory.mktemp("sample-run")
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = main(["train", "--source", "sample", "--epochs", "1", "--out", str(out), "--no-progress"])
    return code, stdout.getvalue(), out


def test_train_writes_the_four_outputs_and_evaluate_prints_the_same_accuracy(sample_run, capsys):
    code, stdout, out = sample_run
    assert code == 0 and sorted(os.listdir(out)) == sorted(OUTPUTS)
    assert all((out / png).read_bytes().startswith(b"\x89PNG") for png in ("loss.png", "predictions.png"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert ACCURACY.findall(stdout) == [f"{100 * metrics['test_accuracy']:.2f}"]
    assert 0 < metrics["test_accuracy"] < 1 and len(metrics["train_loss"]) == metrics["epochs"] == 1
    assert (metrics["source"], metrics["n_train"], metrics["n_test"]) == ("sample", 8000, 2000)
    assert metrics["seconds"] > 0 and "8,000 training and 2,000 test images" in stdout
    code, printed, _ = run(["evaluate", "--checkpoint", out / "model.pt", "--source", "sample"], capsys)
    assert code == 0 and ACCURACY.findall(printed) == ACCURACY.findall(stdout)


@pytest.mark.slow
def test_the_console_script_and_its_exit_statuses(sample_run):
    # `python -m mnist_tutorial` runs the same main(): tests/test_faults.py starts every command it interrupts so.
    _, stdout, out = sample_run
    evaluate = [SCRIPT, "evaluate", "--checkpoint", out / "model.pt", "--source", "sample"]
    good = run_with_deadline(evaluate, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0 and ACCURACY.findall(good.stdout) == ACCURACY.findall(stdout), good.stderr
    bad = run_with_deadline([SCRIPT, "train", "--epochs", "0"], capture_output=True, text=True, timeout=120)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == "mnist-tutorial: error: --epochs 0 is not a positive whole number: pass 1 or more\n"


def test_the_help_offers_every_setting_and_states_the_resume_rule(capsys):
    code, top, _ = run(["--help"], capsys)
    assert code == 0 and top.startswith("usage: mnist-tutorial")
    assert all(command in top for command in ("train", "evaluate", "export", "doctor"))
    code, text, _ = run(["train", "--help"], capsys)
    assert code == 0 and all(setting.flag in text for setting in SETTINGS)
    assert all(shown in text for shown in ("--hidden1 HIDDEN1", "--resume CHECKPOINT", "--nproc N", "--no-progress"))
    kept = "--dataset, --source, --lr, --momentum, --batch-size, --hidden1, --hidden2, --loader"
    assert f"settings you do not pass ({kept}) follow" in " ".join(text.split())


# For each check of settings.py: values it refuses, and what follows `--flag value` in the refusal.
REFUSALS = {
    positive_count: (["0", "-3"], "is not a positive whole number: pass 1 or more"),
    positive: (["0", "-1", "nan", "inf"], "is not a positive number: pass one such as the lesson's {default:g}"),
    fraction: (["1", "-0.1"], "is outside [0, 1): pass one such as the lesson's {default:g}"),
    seed_range: (["-1", "4294967296"], "is outside 0 to 4294967295: pass one in that range, such as {default}"),
    layer_size: (["0", "4097"], "is outside 1 to 4096: pass one such as the lesson's {default}"),
}
CHECKED = [(setting, value) for setting in SETTINGS if setting.check for value in REFUSALS[setting.check][0]]


@pytest.mark.parametrize(("setting", "value"), CHECKED, ids=[f"{s.flag} {value}" for s, value in CHECKED])
def test_every_checked_flag_refuses_a_bad_value_before_any_work(tmp_path, capsys, setting, value):
    tail = REFUSALS[setting.check][1].format(default=setting.default)
    line = refused(["train", "--out", tmp_path / "out", setting.flag, value], capsys)
    assert line == f"mnist-tutorial: error: {setting.flag} {value} {tail}"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flags", "said"),
    [(["--students", "0"], "--students must be at least 1, not 0"), (["--idle-minutes", "0"], "--idle-minutes must")],
)
def test_the_rooms_numbers_are_refused_in_the_words_of_their_flags(tmp_path, capsys, flags, said):
    make_student.make_student(tmp_path / "practice")
    line = refused(["room", "--practice", tmp_path / "practice", "--folder", tmp_path / "room", *flags], capsys)
    assert line.startswith(f"mnist-tutorial: error: {said}")
    assert not (tmp_path / "room").exists()  # refused before the room's folder is made


TYPED = [setting for setting in SETTINGS if setting.choices or setting.type in (int, float)]


@pytest.mark.parametrize("setting", TYPED, ids=[setting.flag for setting in TYPED])
def test_every_flag_that_is_not_a_number_or_a_choice_is_one_line(capsys, setting):
    line = refused(["train", setting.flag, "tpu"], capsys)
    if setting.choices:
        problem = f"invalid choice: 'tpu' (choose from {', '.join(map(repr, setting.choices))})"
    else:
        problem = f"invalid {setting.type.__name__} value: 'tpu'"
    assert line == f"mnist-tutorial train: error: argument {setting.flag}: {problem} (see mnist-tutorial train --help)"


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
BEFORE_ANY_WORK = [  # (flags, message), {tmp} standing for the test's folder
    (["--out", "{tmp}/file"], "--out {tmp}/file is a file, not a folder: choose a folder for the outputs"),
    (["--out", "{tmp}/file/run"], "cannot write to --out {tmp}/file/run (Not a directory): choose a writable folder"),
    (["--out", "{tmp}/run"], "--out {tmp}/run holds a folder named model.pt: move it away or choose another --out"),
    (["--out", ""], "--out is empty: pass a file or folder name (an unset variable?)"),
    (["--source", "full", "--data-dir", "{tmp}"],
     "full MNIST is not in {tmp}/MNIST/raw and $MNIST_TUTORIAL_OFFLINE is set: copy the four IDX files into "
     "{tmp}/MNIST/raw, unset $MNIST_TUTORIAL_OFFLINE to download them, or use --source sample"),
    pytest.param(["--device", "cuda"], "--device cuda is not available on this machine: use --device cpu or "
                 "--device auto", marks=NO_CUDA),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "message"), BEFORE_ANY_WORK)
def test_bad_paths_missing_data_or_device_are_refused_before_any_work(tmp_path, capsys, flags, message):
    (tmp_path / "file").write_text("x")
    (tmp_path / "run" / "model.pt").mkdir(parents=True)
    out = tmp_path / "out"
    line = refused(["train", "--out", out, *(flag.format(tmp=tmp_path) for flag in flags)], capsys)
    assert line == f"mnist-tutorial: error: {message.format(tmp=tmp_path)}"
    assert not out.exists() or os.listdir(out) == []


@pytest.mark.parametrize("case", ["an html page", "no images"])
def test_bad_data_files_are_refused_in_one_line(tiny_data_dir, tmp_path, capsys, case):
    raw = tiny_data_dir / "MNIST" / "raw"
    images, labels = raw / "train-images-idx3-ubyte.gz", raw / "train-labels-idx1-ubyte.gz"
    fix = "delete it so it is downloaded again, or use --source sample"
    if case == "an html page":
        labels.write_bytes(gzip.compress(b"<html>404</html>"))
        magic = "0x3c68746d, expected 0x000008 followed by 01-04"
        expected = f"{labels} is not an IDX file of unsigned bytes (magic number {magic}): {fix}"
    else:
        write_idx(images, np.zeros((0, 28, 28), dtype=np.uint8))
        write_idx(labels, np.zeros(0, dtype=np.uint8))
        expected = f"{images} holds no images: {fix}"
    pass_as_checked(raw)  # as if its md5s matched: the reader must still refuse it
    line = refused(["train", "--data-dir", tiny_data_dir, "--out", tmp_path / "out"], capsys)
    assert line == f"mnist-tutorial: error: {expected}"
    assert os.listdir(tmp_path / "out") == []


def test_evaluate_refuses_a_checkpoint_of_another_networks_outputs(tmp_path, capsys):
    # load_checkpoint's refusals of other files are tested in test_checkpoint.py: this one is evaluate's own
    path = tmp_path / "model.pt"
    torch.save({**NeuralNetwork().state_dict(), "fc3.weight": torch.zeros(5, 64), "fc3.bias": torch.zeros(5)}, path)
    assert refused(["evaluate", "--checkpoint", path, "--source", "sample"], capsys) == (
        f"mnist-tutorial: error: {path} holds a network with 5 outputs, but mnist has 10 classes: pass a checkpoint "
        "trained on it"
    )


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """A data dir holding a tiny "full" MNIST (5 batches of 64 per epoch), shared by the runs below."""
    data_dir = tmp_path_factory.mktemp("tiny")
    write_dataset(data_dir / "MNIST" / "raw")
    return data_dir


@pytest.fixture(scope="module")
def tiny_run(tiny_dir):
    """Train on the tiny dataset: tiny_run(out, epochs, *more flags) -> exit status."""

    def train(out: Path, epochs: int, *flags) -> int:
        args = ["train", "--source", "full", "--data-dir", tiny_dir, "--epochs", epochs, "--out", out]
        return main([str(arg) for arg in [*args, "--device", "cpu", "--no-progress", *flags]])

    return train


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_run) -> Path:
    """The model.pt of an uninterrupted 3-epoch run on the tiny dataset with the lesson's settings."""
    out = tmp_path_factory.mktemp("straight")
    with contextlib.redirect_stdout(io.StringIO()):
        assert tiny_run(out, 3) == 0
    return out / "model.pt"


REAL_STEP = torch.optim.SGD.step


def watch_steps(monkeypatch, interrupt_at: int = 0) -> list[tuple[float, float, torch.Tensor | None]]:
    """Record (lr, momentum, first momentum buffer) at every optimizer step, the settings that train; the
    `interrupt_at`-th step raises KeyboardInterrupt instead, as Ctrl-C would."""
    steps = []

    def step(self, *args, **kwargs):
        group = self.param_groups[0]
        buffer = self.state.get(group["params"][0], {}).get("momentum_buffer")
        steps.append((group["lr"], group["momentum"], None if buffer is None else buffer.clone()))
        if len(steps) == interrupt_at:
            raise KeyboardInterrupt
        return REAL_STEP(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", step)
    return steps


@pytest.mark.slow
def test_an_interrupt_keeps_the_last_epoch_and_resuming_ends_where_a_straight_run_does(
    tmp_path, straight, tiny_run, monkeypatch, capsys
):
    watch_steps(monkeypatch, interrupt_at=5 + 5 + 2)  # in the middle of the third epoch
    assert tiny_run(tmp_path / "run", 3) == 130
    checkpoint = tmp_path / "run" / "model.pt"
    assert f"Stopped: {checkpoint} holds 2 epoch(s); continue with --resume {checkpoint}" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "run")) == ["model.pt"] and load_checkpoint(checkpoint)["epoch"] == 2
    watch_steps(monkeypatch)  # no more interrupts
    assert tiny_run(tmp_path / "run", 3, "--resume", checkpoint) == 0
    assert same_weights(load_model(checkpoint), load_model(straight))
    resumed, uninterrupted = load_checkpoint(checkpoint)["history"], load_checkpoint(straight)["history"]
    assert resumed["train_loss"] == uninterrupted["train_loss"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["test_accuracy"] == uninterrupted["test_accuracy"][-1]


def test_an_interrupt_keeps_the_last_runs_outputs_until_the_new_model_has_an_epoch(tmp_path, tiny_run, monkeypatch,
                                                                                    capsys):  # fmt: skip
    out = tmp_path / "out"
    assert tiny_run(out, 1) == 0
    before = {name: md5(out / name) for name in OUTPUTS}
    watch_steps(monkeypatch, interrupt_at=2)  # in the first epoch: nothing of the new run is saved
    assert tiny_run(out, 2, "--seed", "1") == 130
    assert f"Stopped before the first epoch ended: {out} is as it was before this run" in capsys.readouterr().out
    assert {name: md5(out / name) for name in os.listdir(out)} == before
    watch_steps(monkeypatch, interrupt_at=5 + 2)  # in epoch 2: model.pt alone, no old metrics.json
    assert tiny_run(out, 3, "--seed", "1") == 130
    assert sorted(os.listdir(out)) == ["model.pt"] and load_checkpoint(out / "model.pt")["epoch"] == 1


@pytest.mark.parametrize("resuming", [False, True])
def test_an_interrupt_before_training_is_one_line(tmp_path, straight, capsys, monkeypatch, resuming):
    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("mnist_tutorial.run.training.load_data", interrupted)
    resume = ["--epochs", "4", "--resume", straight] if resuming else []
    code, out, err = run(["train", "--out", tmp_path / "out", *resume], capsys)
    assert (code, err) == (130, "mnist-tutorial: interrupted\n")
    assert out == (f"Stopped before an epoch ended: continue with --resume {straight}\n" if resuming else "")


def test_a_loss_that_is_not_finite_stops_the_run_in_one_line_and_saves_nothing(tmp_path, tiny_run, capsys):
    assert tiny_run(tmp_path / "out", 3, "--lr", "1e6") == 1
    line = capsys.readouterr().err
    assert re.fullmatch(
        r"mnist-tutorial: error: the loss became (nan|inf) by epoch 1, batch \d+, with learning rate 1e\+06: "
        r"training stopped, as it cannot recover; try a smaller one, e\.g\. --lr 0\.01\n",
        line,
    ), line
    assert os.listdir(tmp_path / "out") == []


def test_a_full_disk_while_writing_the_outputs(tmp_path, tiny_run, monkeypatch, capsys):
    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mnist_tutorial.run.outputs.write_bytes_atomic", full)
    assert tiny_run(tmp_path / "out", 1) == 2
    assert capsys.readouterr().err == (
        f"mnist-tutorial: error: cannot write {tmp_path}/out/metrics.json: the disk is full: free some disk space "
        "or write somewhere else\n"
    )


# A value of each setting a checkpoint keeps, other than what `straight` was trained with.
OTHER = {"dataset": "fashion", "source": "sample", "lr": "0.01", "momentum": "0.5", "batch_size": "32",
         "hidden1": "32", "hidden2": "8", "loader": "lesson"}  # fmt: skip


@pytest.mark.parametrize("setting", KEPT_ON_RESUME, ids=[setting.flag for setting in KEPT_ON_RESUME])
def test_resume_refuses_each_kept_setting_that_differs_from_the_checkpoints(tmp_path, straight, capsys, setting):
    stored = load_checkpoint(straight)["settings"][setting.name]
    args = ["train", "--out", tmp_path / "more", "--epochs", "4", "--resume", straight, setting.flag]
    assert refused([*args, OTHER[setting.name]], capsys) == (
        f"mnist-tutorial: error: {setting.flag} {OTHER[setting.name]} differs from {setting.flag} {stored}, which "
        f"{straight} was trained with: leave it out to continue with {stored}, or train afresh without --resume"
    )
    assert not (tmp_path / "more").exists()


def test_resume_refusals(tmp_path, straight, capsys):
    resume = ["train", "--out", tmp_path / "more", "--resume"]
    assert refused([*resume, straight, "--epochs", "2"], capsys) == (
        f"mnist-tutorial: error: {straight} has already trained 3 epochs, more than --epochs 2: pass --epochs 3 or more"
    )
    torch.save(NeuralNetwork().state_dict(), tmp_path / "weights.pt")
    assert refused([*resume, tmp_path / "weights.pt"], capsys) == (
        f"mnist-tutorial: error: {tmp_path}/weights.pt holds weights only, without the training state needed to "
        "resume: train without --resume"
    )
    assert list((tmp_path / "more").glob("*")) == []  # refused before any output was written


@pytest.mark.slow
def test_resume_follows_the_checkpoints_settings_and_sizes_and_paths_from_here_or_home(tmp_path, tiny_run,
                                                                                      monkeypatch):  # fmt: skip
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # `run` and `~/run` are one folder: the first relative to here, the second to home
    assert tiny_run("run", 1, "--batch-size", "32", "--lr", "0.01", "--hidden1", "16", "--hidden2", "8") == 0
    assert tiny_run("~/run", 2, "--resume", "~/run/model.pt") == 0
    out = tmp_path / "run"
    assert os.listdir(tmp_path) == ["run"]  # and no folder named ~
    saved, metrics = load_checkpoint(out / "model.pt"), json.loads((out / "metrics.json").read_text())
    assert (saved["epoch"], saved["sizes"]) == (2, {"hidden1": 16, "hidden2": 8, "num_classes": 10})
    assert [metrics[name] for name in ("batch_size", "lr", "hidden1", "hidden2", "source", "epochs")] == [
        32, 0.01, 16, 8, "full", 2
    ]  # fmt: skip


@pytest.fixture(scope="module")
def notebook_checkpoints(tmp_path_factory, tiny_dir) -> dict[str, Path]:
    """Checkpoints that notebook 03 saved after the learner typed SGD(lr=0.05), by what their settings record.

    No lr, or the lesson's (the notebook's `lr` variable, left as it was): the optimizer state says 0.05, which
    is what trained. Or 0.05, a record consistent with it.
    """
    seed_everything(0)
    model = NeuralNetwork()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_loader, test_loader = make_loaders(load_data(source="full", data_dir=tiny_dir))
    with contextlib.redirect_stdout(io.StringIO()):
        history = fit(model, train_loader, test_loader, num_epochs=1, optimizer=optimizer, progress=False)
    recorded = {"no lr recorded": {}, "the lesson's lr recorded": {"lr": 0.001, "momentum": 0.9}, "0.05": {"lr": 0.05}}
    paths = {name: tmp_path_factory.mktemp("notebook") / "nb.pt" for name in recorded}
    for name, settings in recorded.items():
        save_checkpoint(paths[name], model=model, dataset="mnist", history=history.to_dict(), optimizer=optimizer,
                        settings={"source": "full", "batch_size": 64, "loader": "fast", **settings})  # fmt: skip
    return paths


@pytest.mark.parametrize("recorded", ["no lr recorded", "the lesson's lr recorded"])
@pytest.mark.parametrize(("flags", "lr"), [(["--lr", "0.001"], 0.001), ([], 0.05)], ids=["--lr 0.001", "no --lr"])
def test_a_resumed_run_trains_with_the_lr_it_reports(tmp_path, notebook_checkpoints, tiny_run, monkeypatch, recorded,
                                                     flags, lr):  # fmt: skip
    path = notebook_checkpoints[recorded]
    stored = load_checkpoint(path)["optimizer_state"]["state"][0]["momentum_buffer"]
    steps = watch_steps(monkeypatch)
    assert tiny_run(tmp_path / "out", 2, "--resume", path, *flags) == 0
    assert {(step_lr, momentum) for step_lr, momentum, _ in steps} == {(lr, 0.9)}  # what trained
    assert torch.equal(steps[0][2], stored)  # the momentum buffers went on from where the notebook left them
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    saved = load_checkpoint(tmp_path / "out" / "model.pt")
    assert metrics["lr"] == saved["settings"]["lr"] == saved["optimizer_state"]["param_groups"][0]["lr"] == lr


def test_a_resumed_run_still_refuses_another_lr_than_its_consistent_record(tmp_path, notebook_checkpoints, capsys):
    path = notebook_checkpoints["0.05"]
    args = ["train", "--out", tmp_path / "out", "--epochs", "2", "--resume", path]
    assert refused([*args, "--lr", "0.001"], capsys) == (
        f"mnist-tutorial: error: --lr 0.001 differs from --lr 0.05, which {path} was trained with: leave it out to "
        "continue with 0.05, or train afresh without --resume"
    )
