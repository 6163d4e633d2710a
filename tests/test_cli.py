"""The `mnist-tutorial` command: its outputs, resuming, and one line with exit status 2 for every bad input."""

import contextlib
import gzip
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import md5, pass_as_checked, run_with_deadline, same_weights

from mnist_tutorial import (
    NeuralNetwork,
    checkpoint,
    fit,
    load_checkpoint,
    load_data,
    load_model,
    make_loaders,
    save_checkpoint,
    seed_everything,
)
from mnist_tutorial.cli import main
from mnist_tutorial.datasets.idx import write_idx
from mnist_tutorial.files import atomic_path
from mnist_tutorial.run.outputs import OUTPUTS

SCRIPT = Path(sys.executable).parent / "mnist-tutorial"
ACCURACY = re.compile(r"^Test Accuracy: (\d+\.\d\d)%$", re.MULTILINE)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """`mnist-tutorial train --source sample --epochs 1 --out DIR`, run once for the tests that read its outputs."""
    out = tmp_path_factory.mktemp("sample-run")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["train", "--source", "sample", "--epochs", "1", "--out", str(out), "--no-progress"])
    return code, stdout.getvalue(), out


def test_train_writes_the_four_outputs(sample_run):
    code, _, out = sample_run
    assert code == 0
    assert sorted(os.listdir(out)) == ["loss.png", "metrics.json", "model.pt", "predictions.png"]
    for png in ("loss.png", "predictions.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")


def test_metrics_match_the_printed_accuracy(sample_run):
    _, stdout, out = sample_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert ACCURACY.findall(stdout) == [f"{100 * metrics['test_accuracy']:.2f}"]
    assert 0 < metrics["test_accuracy"] < 1 and len(metrics["train_loss"]) == metrics["epochs"] == 1
    assert (metrics["source"], metrics["n_train"], metrics["n_test"]) == ("sample", 8000, 2000)
    assert metrics["seconds"] > 0
    assert "8,000 training and 2,000 test images" in stdout


def test_evaluate_prints_the_same_accuracy(sample_run, capsys):
    _, stdout, out = sample_run
    assert main(["evaluate", "--checkpoint", str(out / "model.pt"), "--source", "sample"]) == 0
    assert ACCURACY.findall(capsys.readouterr().out) == ACCURACY.findall(stdout)


@pytest.mark.slow
def test_the_console_script_and_its_exit_statuses(sample_run):
    _, stdout, out = sample_run
    good = run_with_deadline(
        [SCRIPT, "evaluate", "--checkpoint", out / "model.pt", "--source", "sample"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0 and ACCURACY.findall(good.stdout) == ACCURACY.findall(stdout)
    bad = run_with_deadline([SCRIPT, "train", "--epochs", "0"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr == "mnist-tutorial: error: --epochs 0 is not a positive whole number: pass 1 or more\n"


@pytest.mark.slow
def test_python_dash_m_runs_the_same_command_line(tmp_path):
    command = [sys.executable, "-m", "mnist_tutorial"]
    helped = run_with_deadline([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: mnist-tutorial")
    assert all(command in helped.stdout for command in ("train", "evaluate", "export", "doctor"))
    flags = ["train", "--source", "sample", "--epochs", "1", "--out", "X"]
    trained = run_with_deadline([*command, *flags], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr
    assert "Test Accuracy:" in trained.stdout and sorted(os.listdir(tmp_path / "X")) == sorted(OUTPUTS)


def run(args: list[str], capsys) -> tuple[int, str, str]:
    """main(args) in-process: (exit status, stdout, stderr); argparse's own exits count as statuses too."""
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(args: list[str], capsys, status: int = 2) -> str:
    """Run a command that must be refused: one line on stderr, no traceback; returns that line."""
    code, _, err = run(args, capsys)
    assert code == status, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


FLAGS = [
    (["--epochs", "0"], "--epochs 0 is not a positive whole number: pass 1 or more"),
    (["--epochs", "-3"], "--epochs -3 is not a positive whole number: pass 1 or more"),
    (["--batch-size", "0"], "--batch-size 0 is not a positive whole number: pass 1 or more"),
    (["--lr", "0"], "--lr 0 is not a positive number: pass one such as the lesson's 0.001"),
    (["--lr", "-1"], "--lr -1 is not a positive number: pass one such as the lesson's 0.001"),
    (["--lr", "nan"], "--lr nan is not a positive number: pass one such as the lesson's 0.001"),
    (["--lr", "inf"], "--lr inf is not a positive number: pass one such as the lesson's 0.001"),
    (["--momentum", "1"], "--momentum 1 is outside [0, 1): pass one such as the lesson's 0.9"),
    (["--momentum", "-0.1"], "--momentum -0.1 is outside [0, 1): pass one such as the lesson's 0.9"),
    (["--seed", "-1"], "--seed -1 is outside 0 to 4294967295: pass one in that range, such as 0"),
    (["--hidden1", "0"], "--hidden1 0 is outside 1 to 4096: pass one such as the lesson's 128"),
    (["--hidden2", "4097"], "--hidden2 4097 is outside 1 to 4096: pass one such as the lesson's 64"),
]


@pytest.mark.parametrize(("flags", "message"), FLAGS)
def test_flags_are_checked_before_any_work(tmp_path, capsys, flags, message):
    line = refused(["train", "--out", tmp_path / "out", *flags], capsys)
    assert line == f"mnist-tutorial: error: {message}"
    assert not (tmp_path / "out").exists()  # refused before anything was created


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_device_the_machine_lacks_is_refused_before_any_work(tmp_path, capsys):
    line = refused(["train", "--device", "cuda", "--out", tmp_path / "out"], capsys)
    assert line == (
        "mnist-tutorial: error: --device cuda is not available on this machine: use --device cpu or --device auto"
    )
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_or_inside_one_or_blocked(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert refused(["train", "--out", tmp_path / "file"], capsys) == (
        f"mnist-tutorial: error: --out {tmp_path}/file is a file, not a folder: choose a folder for the outputs"
    )
    assert refused(["train", "--out", tmp_path / "file" / "run"], capsys) == (
        f"mnist-tutorial: error: cannot write to --out {tmp_path}/file/run (Not a directory): choose a writable folder"
    )
    (tmp_path / "run" / "model.pt").mkdir(parents=True)
    assert refused(["train", "--out", tmp_path / "run"], capsys) == (
        f"mnist-tutorial: error: --out {tmp_path}/run holds a folder named model.pt: move it away or choose another "
        "--out"
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
        (["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu' (choose from 'auto', 'cpu', 'cuda', 'mps')"),
        (["--source", "web"], "argument --source: invalid choice: 'web' (choose from 'auto', 'full', 'sample')"),
    ],
)
def test_malformed_flags_are_one_line_too(capsys, flags, message):
    line = refused(["train", *flags], capsys)
    assert line == f"mnist-tutorial train: error: {message} (see mnist-tutorial train --help)"


def damage(raw: Path, case: str) -> str:
    """Spoil one file of a tiny dataset; returns the message (after the path) that the CLI must print."""
    images, labels = raw / "train-images-idx3-ubyte.gz", raw / "train-labels-idx1-ubyte.gz"
    fix = "delete it so it is downloaded again, or use --source sample"
    if case == "truncated gzip":
        images.write_bytes(images.read_bytes()[:-500])
        return f"{images} is not a valid gzip file (truncated or corrupt): {fix}"
    if case == "corrupt gzip":
        data = bytearray(images.read_bytes())
        data[100:110] = bytes(10)
        images.write_bytes(bytes(data))
        return f"{images} is not a valid gzip file (truncated or corrupt): {fix}"
    if case == "wrong magic":
        labels.write_bytes(gzip.compress(b"\x00\x00\x0b\x01" + gzip.decompress(labels.read_bytes())[4:]))
        magic = "0x00000b01, expected 0x000008 followed by 01-04"
        return f"{labels} is not an IDX file of unsigned bytes (magic number {magic}): {fix}"
    if case == "an html page":
        labels.write_bytes(gzip.compress(b"<html>404</html>"))
        magic = "0x3c68746d, expected 0x000008 followed by 01-04"
        return f"{labels} is not an IDX file of unsigned bytes (magic number {magic}): {fix}"
    if case == "truncated body":
        images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:-784]))
        promise = "its header promises 250880 bytes of data for shape (320, 28, 28), but it holds 250096"
        return f"{images} is truncated: {promise}: {fix}"
    if case == "no images":
        write_idx(images, np.zeros((0, 28, 28), dtype=np.uint8))
        write_idx(labels, np.zeros(0, dtype=np.uint8))
        return f"{images} holds no images: {fix}"
    assert case == "count mismatch"
    write_idx(labels, np.zeros(319, dtype=np.uint8))
    fix = "delete both so they are downloaded again, or use --source sample"
    return f"{labels} holds 319 labels but {images} holds 320 images: {fix}"


@pytest.mark.parametrize(
    "case",
    ["truncated gzip", "corrupt gzip", "wrong magic", "an html page", "truncated body", "no images", "count mismatch"],
)
def test_bad_data_files(tiny_data_dir, tmp_path, capsys, case):
    expected = damage(tiny_data_dir / "MNIST" / "raw", case)
    pass_as_checked(tiny_data_dir / "MNIST" / "raw")  # as if its md5s matched: the reader must still refuse it
    line = refused(["train", "--data-dir", tiny_data_dir, "--out", tmp_path / "out"], capsys)
    assert line == f"mnist-tutorial: error: {expected}"
    assert os.listdir(tmp_path / "out") == []


def test_bad_data_dirs_and_missing_data(tmp_path, capsys, no_system_fashion):
    (tmp_path / "file").write_text("x")
    out = ["--out", tmp_path / "out"]
    assert refused(["train", "--data-dir", tmp_path / "file", *out], capsys) == (
        f"mnist-tutorial: error: --data-dir {tmp_path}/file is a file, not a folder: pass a folder as --data-dir"
    )
    assert refused(["train", "--data-dir", tmp_path / "file" / "data", *out], capsys) == (
        f"mnist-tutorial: error: --data-dir {tmp_path}/file/data cannot exist, as {tmp_path}/file is a file: "
        "check --data-dir"
    )
    raw = tmp_path / "empty" / "MNIST" / "raw"
    assert refused(["train", "--source", "full", "--data-dir", tmp_path / "empty", *out], capsys) == (
        f"mnist-tutorial: error: full MNIST is not in {raw} and $MNIST_TUTORIAL_OFFLINE is set: copy the four IDX "
        f"files into {raw}, unset $MNIST_TUTORIAL_OFFLINE to download them, or use --source sample"
    )
    raw = tmp_path / "empty" / "FashionMNIST" / "raw"
    assert refused(["train", "--dataset", "fashion", "--data-dir", tmp_path / "empty", *out], capsys) == (
        f"mnist-tutorial: error: full Fashion-MNIST is not in {raw} and $MNIST_TUTORIAL_OFFLINE is set: copy the "
        f"four IDX files into {raw} (on Debian: apt-get install dataset-fashion-mnist)"
    )


@pytest.fixture
def tiny_run(tiny_data_dir, tmp_path):
    """Train on the tiny dataset: tiny_run(out, epochs, *more flags) -> exit status."""

    def train(out: Path, epochs: int, *flags: str) -> int:
        args = ["train", "--source", "full", "--data-dir", tiny_data_dir, "--epochs", epochs, "--out", out]
        return main([str(arg) for arg in [*args, "--device", "cpu", "--no-progress", *flags]])

    return train


@pytest.mark.slow
def test_resume_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path, tiny_run):
    assert tiny_run(tmp_path / "straight", 2) == 0
    assert tiny_run(tmp_path / "halves", 1) == 0
    assert tiny_run(tmp_path / "halves", 2, "--resume", tmp_path / "halves" / "model.pt") == 0
    straight, halves = (load_checkpoint(tmp_path / run / "model.pt") for run in ("straight", "halves"))
    assert same_weights(load_model(tmp_path / "straight" / "model.pt"), load_model(tmp_path / "halves" / "model.pt"))
    assert straight["history"]["train_loss"] == halves["history"]["train_loss"] and halves["epoch"] == 2
    metrics = json.loads((tmp_path / "halves" / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["test_accuracy"] == straight["history"]["test_accuracy"][-1]


def interrupt_at_step(monkeypatch, step: int) -> None:
    """Make the optimizer's `step`-th step raise KeyboardInterrupt, as Ctrl-C would."""
    original, calls = torch.optim.SGD.step, []

    def step_or_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == step:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", step_or_interrupt)


@pytest.mark.slow
def test_an_interrupt_keeps_the_last_epoch_and_resuming_ends_where_a_straight_run_does(
    tmp_path, tiny_run, monkeypatch, capsys
):
    assert tiny_run(tmp_path / "straight", 3) == 0
    interrupt_at_step(monkeypatch, 5 + 5 + 2)  # 5 batches per epoch: in the middle of the third epoch
    assert tiny_run(tmp_path / "run", 3) == 130
    out = capsys.readouterr().out
    checkpoint = tmp_path / "run" / "model.pt"
    assert f"Stopped: {checkpoint} holds 2 epoch(s); continue with --resume {checkpoint}" in out
    assert sorted(os.listdir(tmp_path / "run")) == ["model.pt"] and load_checkpoint(checkpoint)["epoch"] == 2
    monkeypatch.undo()
    assert tiny_run(tmp_path / "run", 3, "--resume", checkpoint) == 0
    assert same_weights(load_model(checkpoint), load_model(tmp_path / "straight" / "model.pt"))


def test_an_interrupt_during_a_save_keeps_the_previous_checkpoint(tmp_path, tiny_run, monkeypatch, capsys):
    original, saves = checkpoint.write_bytes_atomic, []

    def save_then_interrupt(path, data):
        saves.append(path)
        if len(saves) == 2:
            with atomic_path(path) as tmp:
                tmp.write_bytes(data[:100])
                raise KeyboardInterrupt
        original(path, data)

    monkeypatch.setattr(checkpoint, "write_bytes_atomic", save_then_interrupt)
    assert tiny_run(tmp_path / "run", 3) == 130
    assert "holds 1 epoch(s)" in capsys.readouterr().out
    assert os.listdir(tmp_path / "run") == ["model.pt"] and load_checkpoint(tmp_path / "run" / "model.pt")["epoch"] == 1


def test_an_interrupt_before_training_is_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("mnist_tutorial.run.training.load_data", interrupted)
    assert refused(["train", "--out", tmp_path / "out"], capsys, status=130) == "mnist-tutorial: interrupted"


def test_non_finite_loss_stops_with_the_learning_rate_and_saves_nothing(tmp_path, tiny_data_dir, capsys):
    args = ["train", "--source", "full", "--data-dir", tiny_data_dir, "--out", tmp_path / "out", "--lr", "1e6"]
    line = refused([*args, "--epochs", "3"], capsys, status=1)
    assert re.fullmatch(
        r"mnist-tutorial: error: the loss became (nan|inf) by epoch 1, batch \d+, with learning rate 1e\+06: "
        r"training stopped, as it cannot recover; try a smaller one, e\.g\. --lr 0\.01",
        line,
    ), line
    assert os.listdir(tmp_path / "out") == []


def test_resume_refusals(tmp_path, tiny_run, capsys):
    assert tiny_run(tmp_path / "run", 2) == 0
    checkpoint = tmp_path / "run" / "model.pt"
    capsys.readouterr()
    resume = ["train", "--out", tmp_path / "more", "--resume"]
    assert refused([*resume, checkpoint, "--epochs", "1"], capsys) == (
        f"mnist-tutorial: error: {checkpoint} has already trained 2 epochs, more than --epochs 1: pass --epochs 2 "
        "or more"
    )
    assert refused([*resume, checkpoint, "--dataset", "fashion"], capsys) == (
        f"mnist-tutorial: error: --dataset fashion differs from --dataset mnist, which {checkpoint} was trained "
        "with: leave it out to continue with mnist, or train afresh without --resume"
    )
    torch.save(NeuralNetwork().state_dict(), tmp_path / "weights.pt")
    assert refused([*resume, tmp_path / "weights.pt"], capsys) == (
        f"mnist-tutorial: error: {tmp_path}/weights.pt holds weights only, without the training state needed to "
        "resume: train without --resume"
    )
    assert refused([*resume, tmp_path / "nope.pt"], capsys).startswith(
        f"mnist-tutorial: error: checkpoint {tmp_path}/nope.pt does not exist"
    )


def test_resume_refuses_a_training_state_of_another_kind_in_one_line(tmp_path, tiny_run, capsys):
    assert tiny_run(tmp_path / "run", 1) == 0
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    capsys.readouterr()
    kinds = {
        "epoch": ({"epoch": "1"}, "epoch '1', settings dict"),
        "settings": ({"settings": "x"}, "epoch 1, settings str"),
    }
    for name, (change, shows) in kinds.items():
        torch.save({**state, **change}, tmp_path / f"{name}.pt")
        assert refused(["train", "--out", tmp_path / "more", "--resume", tmp_path / f"{name}.pt"], capsys) == (
            f"mnist-tutorial: error: {tmp_path}/{name}.pt holds an epoch count or settings of a kind the course "
            f"never writes ({shows}): delete it and train again"
        )
    momentum = state["optimizer_state"]["state"][0]
    momentum["momentum_buffer"] = torch.zeros(3)
    torch.save(state, tmp_path / "momentum.pt")
    assert tiny_run(tmp_path / "more", 2, "--resume", tmp_path / "momentum.pt") == 2
    assert capsys.readouterr().err == (
        f"mnist-tutorial: error: {tmp_path}/momentum.pt holds an optimizer state that does not fit its network (a "
        "momentum buffer of another shape, or a stride-0 view), which the course never writes: delete it and train "
        "again\n"
    )
    assert list((tmp_path / "more").glob("*")) == []  # refused before any output was written


def test_out_and_checkpoint_paths_empty_under_home_or_a_device(tmp_path, capsys, monkeypatch, tiny_run):
    assert refused(["train", "--out", ""], capsys) == (
        "mnist-tutorial: error: --out is empty: pass a file or folder name (an unset variable?)"
    )
    assert refused(["evaluate", "--checkpoint", "/dev/zero"], capsys) == (
        "mnist-tutorial: error: checkpoint /dev/zero is a device, not a file: pass the model.pt training wrote"
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert tiny_run("~/run", 1) == 0
    assert (tmp_path / "home" / "run" / "model.pt").is_file() and not (tmp_path / "~").exists()


def test_a_network_with_other_outputs_than_the_dataset_has_classes(tmp_path, capsys):
    torch.save(NeuralNetwork(num_classes=5).state_dict(), tmp_path / "five.pt")
    assert refused(["evaluate", "--checkpoint", tmp_path / "five.pt", "--source", "sample"], capsys) == (
        f"mnist-tutorial: error: {tmp_path}/five.pt holds a network with 5 outputs, but mnist has 10 classes: pass "
        "a checkpoint trained on it"
    )


@pytest.mark.parametrize("case", ["missing", "folder", "truncated", "garbage", "other shape", "not ours"])
def test_bad_checkpoints(tmp_path, capsys, case):
    path = tmp_path / "model.pt"
    retrain = "delete it and train again"
    if case == "missing":
        expected = f"checkpoint {path} does not exist: check the path, or train a model first"
    elif case == "folder":
        path.mkdir()
        expected = f"checkpoint {path} is a folder, not a file: pass the model.pt that training wrote"
    elif case == "truncated":
        torch.save(NeuralNetwork().state_dict(), path)
        path.write_bytes(path.read_bytes()[:3000])
        expected = f"{path} is not a readable checkpoint (truncated, or not a PyTorch file): {retrain}"
    elif case == "garbage":
        path.write_bytes(random.Random(0).randbytes(3000))  # seeded: the same bytes every run
        expected = f"{path} is not a checkpoint of this course (not a PyTorch file): pass the model.pt training wrote"
    elif case == "other shape":
        torch.save({**NeuralNetwork().state_dict(), "fc2.weight": torch.zeros(64, 100)}, path)
        expected = (
            f"{path} holds weights of another shape than the lesson's network (its stored sizes {{'hidden1': 128, "
            f"'hidden2': 64, 'num_classes': 10}} do not match its tensors, or exceed 4096): {retrain}"
        )
    else:
        torch.save({"weights": [1, 2, 3]}, path)
        expected = (
            f"{path} is a PyTorch file but not a mnist-tutorial checkpoint: pass a model.pt that the course "
            "wrote, or a state_dict saved with torch.save(model.state_dict(), path)"
        )
    line = refused(["evaluate", "--checkpoint", path, "--source", "sample"], capsys)
    assert line == f"mnist-tutorial: error: {expected}"


def test_a_full_disk_while_writing_the_outputs(tmp_path, tiny_run, monkeypatch, capsys):
    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mnist_tutorial.run.outputs.write_bytes_atomic", full)
    assert tiny_run(tmp_path / "out", 1) == 2
    assert capsys.readouterr().err == (
        f"mnist-tutorial: error: cannot write {tmp_path}/out/metrics.json: the disk is full: free some disk space "
        "or write somewhere else\n"
    )


def test_an_interrupted_first_epoch_keeps_the_previous_runs_outputs_as_they_were(tmp_path, tiny_data_dir, capsys,
                                                                                  monkeypatch):  # fmt: skip
    out = tmp_path / "out"
    assert main(["train", "--data-dir", str(tiny_data_dir), "--epochs", "1", "--out", str(out)]) == 0
    before = {name: md5(out / name) for name in OUTPUTS}

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("mnist_tutorial.train.train_one_epoch", interrupt)
    assert main(["train", "--data-dir", str(tiny_data_dir), "--epochs", "2", "--out", str(out)]) == 130
    assert f"Stopped before the first epoch ended: {out} is as it was before this run" in capsys.readouterr().out
    assert {name: md5(out / name) for name in os.listdir(out)} == before


def test_a_new_model_replaces_the_previous_runs_metrics_and_plots(tmp_path, tiny_data_dir, tiny_run, monkeypatch):
    """Once the new run has saved an epoch, no metrics.json from another model may sit beside its model.pt."""
    out = tmp_path / "out"
    assert tiny_run(out, 1) == 0
    interrupt_at_step(monkeypatch, 5 + 2)  # in the second epoch: the first one is saved
    assert tiny_run(out, 3, "--seed", "1") == 130
    assert sorted(os.listdir(out)) == ["model.pt"] and load_checkpoint(out / "model.pt")["epoch"] == 1


@pytest.mark.parametrize(
    ("flags", "given", "stored"),
    [
        (["--batch-size", "32"], "--batch-size 32", "--batch-size 64"),
        (["--dataset", "fashion"], "--dataset fashion", "--dataset mnist"),
        (["--source", "sample"], "--source sample", "--source full"),
        (["--loader", "lesson"], "--loader lesson", "--loader fast"),
        (["--lr", "0.01"], "--lr 0.01", "--lr 0.001"),
        (["--hidden1", "32"], "--hidden1 32", "--hidden1 128"),
    ],
)
def test_resume_refuses_a_setting_that_differs_from_the_checkpoints(tmp_path, tiny_run, capsys, flags, given, stored):
    assert tiny_run(tmp_path / "run", 1) == 0
    checkpoint = tmp_path / "run" / "model.pt"
    capsys.readouterr()
    line = refused(["train", "--out", tmp_path / "more", "--epochs", "2", "--resume", checkpoint, *flags], capsys)
    assert line == (
        f"mnist-tutorial: error: {given} differs from {stored}, which {checkpoint} was trained with: leave it out to "
        f"continue with {stored.split()[1]}, or train afresh without --resume"
    )


@pytest.mark.slow
def test_resume_follows_the_checkpoints_settings_where_none_are_given(tmp_path, tiny_run, capsys):
    assert tiny_run(tmp_path / "run", 1, "--batch-size", "32", "--lr", "0.01") == 0
    assert tiny_run(tmp_path / "run", 2, "--resume", tmp_path / "run" / "model.pt") == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (metrics["batch_size"], metrics["lr"], metrics["source"], metrics["epochs"]) == (32, 0.01, "full", 2)


def test_resume_refuses_a_checkpoint_of_other_normalisation(tmp_path, tiny_run, capsys):
    assert tiny_run(tmp_path / "run", 1) == 0
    checkpoint = tmp_path / "run" / "model.pt"
    state = torch.load(checkpoint, weights_only=True)
    state["normalization"] = {"mean": 0.1307, "std": 0.3081}
    torch.save(state, checkpoint)
    capsys.readouterr()
    line = refused(["train", "--out", tmp_path / "more", "--resume", checkpoint], capsys)
    assert line.startswith(f"mnist-tutorial: error: {checkpoint} was trained on inputs normalised with")


def test_the_help_states_the_resume_rule(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    kept = "--dataset, --source, --lr, --momentum, --batch-size, --hidden1, --hidden2, --loader"
    assert f"settings you do not pass ({kept}) follow" in help_text


def test_hidden_sizes_are_flags_that_a_checkpoint_keeps_and_a_resumed_run_follows(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert {"--hidden1 HIDDEN1", "--hidden2 HIDDEN2"} <= set(re.findall(r"--hidden\d \w+", capsys.readouterr().out))
    out, sizes = tmp_path / "run", {"hidden1": 16, "hidden2": 8, "num_classes": 10}
    sample = ["train", "--source", "sample", "--device", "cpu", "--no-progress", "--out", out]
    assert run([*sample, "--epochs", "1", "--hidden1", "16", "--hidden2", "8"], capsys)[0] == 0
    assert load_checkpoint(out / "model.pt")["sizes"] == sizes
    assert run([*sample, "--epochs", "2", "--resume", out / "model.pt"], capsys)[0] == 0
    saved, metrics = load_checkpoint(out / "model.pt"), json.loads((out / "metrics.json").read_text())
    assert (saved["epoch"], saved["sizes"], metrics["hidden1"], metrics["hidden2"]) == (2, sizes, 16, 8)
    assert refused([*sample, "--epochs", "3", "--resume", out / "model.pt", "--hidden2", "64"], capsys) == (
        f"mnist-tutorial: error: --hidden2 64 differs from --hidden2 8, which {out}/model.pt was trained with: leave "
        "it out to continue with 8, or train afresh without --resume"
    )


# A checkpoint that notebook 03 saved after the learner typed SGD(lr=0.05): its settings record no lr, or the
# lesson's (the notebook's `lr` variable, left as it was), and its optimizer state says 0.05, which is what trained.
NOTEBOOK_SETTINGS = {
    "no lr recorded": {"source": "full", "batch_size": 64, "loader": "fast"},
    "the lesson's lr recorded": {"source": "full", "batch_size": 64, "loader": "fast", "lr": 0.001, "momentum": 0.9},
}


def notebook_checkpoint(path: Path, data_dir: Path, settings: dict) -> None:
    seed_everything(0)
    model = NeuralNetwork()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_loader, test_loader = make_loaders(load_data(source="full", data_dir=data_dir))
    history = fit(model, train_loader, test_loader, num_epochs=1, optimizer=optimizer, progress=False)
    save_checkpoint(path, model=model, dataset="mnist", history=history.to_dict(), optimizer=optimizer,
                    settings=settings)  # fmt: skip


def steps_taken(monkeypatch) -> list[tuple[float, float, torch.Tensor | None]]:
    """Record (lr, momentum, first momentum buffer) at every optimizer step: the settings that train."""
    original, steps = torch.optim.SGD.step, []

    def step(self, *args, **kwargs):
        group = self.param_groups[0]
        buffer = self.state.get(group["params"][0], {}).get("momentum_buffer")
        steps.append((group["lr"], group["momentum"], None if buffer is None else buffer.clone()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", step)
    return steps


@pytest.mark.parametrize("recorded", NOTEBOOK_SETTINGS)
@pytest.mark.parametrize(("flags", "lr"), [(["--lr", "0.001"], 0.001), ([], 0.05)], ids=["--lr 0.001", "no --lr"])
def test_a_resumed_run_trains_with_the_lr_it_reports(tmp_path, tiny_data_dir, tiny_run, monkeypatch, recorded, flags,
                                                     lr):  # fmt: skip
    checkpoint_path = tmp_path / "nb.pt"
    notebook_checkpoint(checkpoint_path, tiny_data_dir, NOTEBOOK_SETTINGS[recorded])
    stored = load_checkpoint(checkpoint_path)["optimizer_state"]["state"][0]["momentum_buffer"]
    steps = steps_taken(monkeypatch)
    assert tiny_run(tmp_path / "out", 2, "--resume", checkpoint_path, *flags) == 0
    assert {(step_lr, momentum) for step_lr, momentum, _ in steps} == {(lr, 0.9)}  # what trained
    assert torch.equal(steps[0][2], stored)  # the momentum buffers went on from where the notebook left them
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    saved = load_checkpoint(tmp_path / "out" / "model.pt")
    assert metrics["lr"] == saved["settings"]["lr"] == saved["optimizer_state"]["param_groups"][0]["lr"] == lr


def test_a_resumed_run_still_refuses_another_lr_than_its_consistent_record(tmp_path, tiny_data_dir, capsys):
    checkpoint_path = tmp_path / "nb.pt"
    notebook_checkpoint(checkpoint_path, tiny_data_dir, {**NOTEBOOK_SETTINGS["no lr recorded"], "lr": 0.05})
    args = ["train", "--data-dir", tiny_data_dir, "--out", tmp_path / "out", "--resume", checkpoint_path]
    assert refused([*args, "--epochs", "2", "--lr", "0.001"], capsys) == (
        f"mnist-tutorial: error: --lr 0.001 differs from --lr 0.05, which {checkpoint_path} was trained with: leave "
        "it out to continue with 0.05, or train afresh without --resume"
    )


def test_an_interrupt_before_a_resumed_run_trains_names_the_checkpoint_to_resume(tmp_path, tiny_run, capsys,
                                                                                 monkeypatch):  # fmt: skip
    assert tiny_run(tmp_path / "run", 1) == 0
    checkpoint_path = tmp_path / "run" / "model.pt"
    capsys.readouterr()

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("mnist_tutorial.run.training.load_data", interrupted)
    code, out, err = run(["train", "--out", tmp_path / "more", "--epochs", "2", "--resume", checkpoint_path], capsys)
    assert (code, err) == (130, "mnist-tutorial: interrupted\n")
    assert out == f"Stopped before an epoch ended: continue with --resume {checkpoint_path}\n"


# A command run in a child process with a hook that holds it at one moment: the hook writes the file $MARK, then
# sleeps there until the test's real SIGINT arrives (as Ctrl-C in a terminal sends it). A terminal's command gets
# Python's own SIGINT handler; a test run started in the background (`make test &`) passes SIGINT on ignored.
HOOKED_COMMAND = textwrap.dedent(
    """
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
            return None

    HOOK
    from mnist_tutorial.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def interrupted_while_held(tmp_path: Path, hook: str, args: list) -> tuple[int, str, str]:
    """Run `mnist-tutorial args` in a child held by `hook`, send it SIGINT there: (exit status, stdout, stderr)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    mark = logs / "held"
    command = [sys.executable, "-c", HOOKED_COMMAND.replace("HOOK", textwrap.dedent(hook)), *map(str, args)]
    with open(logs / "stdout", "w") as stdout, open(logs / "stderr", "w") as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, env={**os.environ, "MARK": str(mark)},
                                 start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # a hang deadline only: the child imports torch, then trains a little
        while not mark.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.exists(), f"the command ended before the hook held it: {(logs / 'stderr').read_text()[-3000:]}"
        child.send_signal(signal.SIGINT)
        child.wait(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    return child.returncode, (logs / "stdout").read_text(), (logs / "stderr").read_text()


@pytest.mark.slow
def test_ctrl_c_while_the_command_loads_the_course_is_one_line(tmp_path):
    # torch itself loads with the package, before any of the command line's code can run; the course's runs,
    # doctor and matplotlib load after it, inside main(), where Ctrl-C ends the process at once in the one line.
    hook = "sys.meta_path.insert(0, HoldAtImport('mnist_tutorial.run'))"
    code, out, err = interrupted_while_held(tmp_path, hook, ["train", "--out", tmp_path / "out"])
    assert (code, out, err) == (130, "", "mnist-tutorial: interrupted\n")
    assert not (tmp_path / "out").exists()


HOLD_AT_TORCH = """
import os, signal, sys, time
from pathlib import Path

signal.signal(signal.SIGINT, signal.SIG_DFL)  # as a terminal starts a command, whatever started this test run

class HoldAtTorch:  # holds the command at its first import of torch, before any of the course's code has run
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            sys.meta_path.remove(self)
            Path(os.environ["MARK"]).write_text(name)
            time.sleep(120)

sys.meta_path.insert(0, HoldAtTorch())
"""


@pytest.mark.slow
def test_ctrl_c_while_torch_loads_for_the_command_is_one_line(tmp_path):
    # `python -m mnist_tutorial` as a learner types it; the hold comes in through sitecustomize, before the package.
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(HOLD_AT_TORCH)
    mark, env = tmp_path / "held", {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "MARK": str(tmp_path / "held")}
    command = [sys.executable, "-m", "mnist_tutorial", "train", "--out", str(tmp_path / "out")]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a hang deadline only
        while not mark.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.read_text() == "torch"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert (child.returncode, out, err) == (130, "", "mnist-tutorial: interrupted\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_ctrl_c_during_onnx_export_is_one_line_and_keeps_the_old_files(tmp_path, sample_run, capsys):
    model = sample_run[2] / "model.pt"
    page = tmp_path / "page"
    assert main(["export", "--checkpoint", str(model), "--out", str(page)]) == 0
    before = {name: md5(page / name) for name in os.listdir(page)}
    # The exporter imports torch._inductor's modules as it starts: a Ctrl-C inside that import reaches main()
    # wrapped in the exporter's own error (three chained tracebacks, exit status 1, before the fix).
    hook = "sys.meta_path.insert(0, HoldAtImport('torch._inductor.', after='mnist_tutorial.deploy.export'))"
    code, out, err = interrupted_while_held(tmp_path, hook, ["export", "--checkpoint", model, "--out", page])
    assert (code, out, err) == (130, "", "mnist-tutorial: interrupted\n")
    assert {name: md5(page / name) for name in os.listdir(page)} == before
    assert sorted(os.listdir(tmp_path)) == ["logs", "page"]


TINY_TRAIN = ["train", "--source", "full", "--device", "cpu", "--no-progress"]


@pytest.mark.slow
def test_ctrl_c_after_the_accuracy_line_leaves_model_pt_and_the_resume_hint(tmp_path, tiny_data_dir):
    hook = r"""
        class HoldAfterAccuracy:  # holds once the accuracy line is printed, newline and all
            def __init__(self, stream):
                self.stream, self.line = stream, ""

            def write(self, text):
                written = self.stream.write(text)
                self.line = text if self.line.endswith("\n") else self.line + text
                if self.line.startswith("Test Accuracy") and self.line.endswith("\n"):
                    self.stream.flush()
                    hold("after the accuracy line")
                return written

            def __getattr__(self, name):
                return getattr(self.stream, name)

        sys.stdout = HoldAfterAccuracy(sys.stdout)
    """
    out = tmp_path / "out"
    args = [*TINY_TRAIN, "--data-dir", tiny_data_dir, "--epochs", "2", "--out", out]
    code, stdout, err = interrupted_while_held(tmp_path, hook, args)
    assert (code, err) == (130, ""), err
    assert stdout.splitlines()[-1] == f"Stopped: {out}/model.pt holds 2 epoch(s); continue with --resume {out}/model.pt"
    assert [name for name in os.listdir(out) if not name.startswith(".")] == ["model.pt"]
    assert not [name for name in os.listdir(out) if name.endswith(".tmp")]
    assert load_checkpoint(out / "model.pt")["epoch"] == 2


@pytest.mark.slow
def test_ctrl_c_while_epoch_3_is_saved_prints_the_epochs_model_pt_holds(tmp_path, tiny_data_dir):
    hook = """
        import torch

        real_save, saves = torch.save, []

        def save(*args, **kwargs):
            saves.append(1)
            if len(saves) == 3:
                hold("the save of epoch 3")
            return real_save(*args, **kwargs)

        torch.save = save
    """
    out = tmp_path / "out"
    code, stdout, err = interrupted_while_held(tmp_path, hook, [*TINY_TRAIN, "--data-dir", tiny_data_dir,
                                                                 "--epochs", "5", "--out", out])  # fmt: skip
    assert (code, err) == (130, ""), err
    saved = load_checkpoint(out / "model.pt")["epoch"]
    printed = re.findall(r"with (\d+) complete epoch\(s\)|holds (\d+) epoch\(s\)", stdout)
    assert saved == 2 and [int(a or b) for a, b in printed] == [saved, saved], stdout
