"""Checkpoints: what they carry, safe loading, a clear message for every bad file, and no torn writes."""

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from helpers import same_weights

from mnist_tutorial import NeuralNetwork, checkpoint, load_checkpoint, load_model, make_optimizer, save_checkpoint
from mnist_tutorial.defaults import PROJECT_ROOT
from mnist_tutorial.errors import CheckpointError
from mnist_tutorial.files import atomic_path

HISTORY = {"train_loss": [0.9, 0.5], "test_loss": [0.8, 0.6], "test_accuracy": [0.7, 0.8], "seconds": [1.0, 1.1]}


def trained(hidden1: int = 128, hidden2: int = 64) -> tuple[NeuralNetwork, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = NeuralNetwork(hidden1, hidden2)
    optimizer = make_optimizer(model)
    model(torch.rand(4, 784)).sum().backward()
    optimizer.step()  # momentum buffers now exist
    return model, optimizer


def saved(path, hidden1: int = 128, hidden2: int = 64) -> NeuralNetwork:
    model, optimizer = trained(hidden1, hidden2)
    shuffle = torch.Generator().manual_seed(3).get_state()
    save_checkpoint(path, model=model, dataset="mnist", history=HISTORY, optimizer=optimizer, shuffle_state=shuffle)
    return model


def test_a_checkpoint_carries_what_rebuilding_checking_and_resuming_need(tmp_path):
    model = saved(tmp_path / "model.pt")
    state = load_checkpoint(tmp_path / "model.pt")
    assert state["format"] == "mnist-tutorial/1"
    assert state["sizes"] == {"hidden1": 128, "hidden2": 64, "num_classes": 10}
    assert state["dataset"] == "mnist" and state["epoch"] == 2 and state["history"] == HISTORY
    assert state["normalization"] == {"mean": 0.5, "std": 0.5}
    momentum = state["optimizer_state"]["state"][0]["momentum_buffer"]
    assert state["optimizer_state"]["param_groups"][0]["lr"] == 0.001 and momentum.shape == (128, 784)
    assert torch.equal(state["shuffle_state"], torch.Generator().manual_seed(3).get_state())
    assert all(torch.equal(state["model_state"][k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("sizes", [(128, 64), (32, 16)])
def test_load_model_gives_the_same_network_on_the_cpu_in_eval_mode(tmp_path, sizes):
    model = saved(tmp_path / "model.pt", *sizes)
    loaded = load_model(tmp_path / "model.pt")
    assert type(loaded) is NeuralNetwork and not loaded.training
    assert {p.device.type for p in loaded.parameters()} == {"cpu"}
    assert same_weights(loaded, model)


def test_a_bare_state_dict_is_accepted(tmp_path):
    model, _ = trained(32, 16)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    loaded = load_model(tmp_path / "weights.pt")
    assert loaded.sizes == {"hidden1": 32, "hidden2": 16, "num_classes": 10} and same_weights(loaded, model)


RAN = []


class RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (RAN.append, ("code ran",))


def test_loading_never_runs_code_from_the_file(tmp_path):
    torch.save({"fc1.weight": RunsCodeWhenUnpickled()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="holds Python objects besides weights, which are not loaded for safety"):
        load_checkpoint(tmp_path / "evil.pt")
    assert RAN == []


def test_a_whole_pickled_model_is_refused_with_the_fix(tmp_path):
    torch.save(NeuralNetwork(), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"save model.state_dict\(\) rather than the model"):
        load_model(tmp_path / "model.pt")


def message(path) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_model(path)
    assert str(path) in str(caught.value)
    return str(caught.value)


def test_missing_checkpoint(tmp_path):
    assert message(tmp_path / "nope.pt") == (
        f"checkpoint {tmp_path}/nope.pt does not exist: check the path, or train a model first"
    )


def test_a_folder_instead_of_a_checkpoint(tmp_path):
    assert message(tmp_path).endswith("is a folder, not a file: pass the model.pt that training wrote")
    saved(tmp_path / "model.pt")
    assert message(tmp_path) == f"checkpoint {tmp_path} is a folder, not a file: pass {tmp_path}/model.pt"


def test_a_device_or_a_fifo_instead_of_a_checkpoint(tmp_path):
    assert message("/dev/zero") == "checkpoint /dev/zero is a device, not a file: pass the model.pt training wrote"
    os.mkfifo(tmp_path / "model.pt")
    assert message(tmp_path / "model.pt").endswith("model.pt is a FIFO, not a file: pass the model.pt training wrote")


@pytest.mark.parametrize(
    "change, shows",
    [
        ({"epoch": "2"}, "epoch '2', settings dict"),
        ({"epoch": -1}, "epoch -1, settings dict"),
        ({"settings": "lr=0.01"}, "epoch 2, settings str"),
        ({"settings": {"lr": [0.01]}}, "epoch 2, settings dict"),
    ],
)
def test_an_epoch_or_settings_of_another_kind_are_refused_in_one_line(tmp_path, change, shows):
    saved(tmp_path / "model.pt")
    torch.save({**torch.load(tmp_path / "model.pt", weights_only=True), **change}, tmp_path / "model.pt")
    assert message(tmp_path / "model.pt") == (
        f"{tmp_path}/model.pt holds an epoch count or settings of a kind the course never writes ({shows}): "
        "delete it and train again"
    )


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.6, 0.99])
def test_truncated_checkpoint(tmp_path, fraction):
    saved(tmp_path / "model.pt")
    data = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "model.pt").write_bytes(data[: int(len(data) * fraction)])
    assert message(tmp_path / "model.pt") == (
        f"{tmp_path}/model.pt is not a readable checkpoint (truncated, or not a PyTorch file): "
        "delete it and train again"
    )


GARBAGE = [b"hello", random.Random(0).randbytes(5000), b"\x80\x04K\x01."]  # the same on every xdist worker


@pytest.mark.parametrize("content", GARBAGE, ids=["text", "noise", "pickle"])
def test_garbage_checkpoint(tmp_path, content):
    (tmp_path / "model.pt").write_bytes(content)
    assert "is not a readable checkpoint" in message(tmp_path / "model.pt")


@pytest.mark.parametrize("payload", [torch.zeros(3), {"conv1.weight": torch.zeros(3)}, [1, 2]])
def test_a_pytorch_file_that_is_not_a_checkpoint(tmp_path, payload):
    torch.save(payload, tmp_path / "other.pt")
    assert "is a PyTorch file but not a mnist-tutorial checkpoint" in message(tmp_path / "other.pt")


def test_a_network_of_another_shape(tmp_path):
    state = NeuralNetwork().state_dict()
    state["fc1.weight"] = torch.zeros(128, 785)  # one input too many
    torch.save(state, tmp_path / "other.pt")
    assert message(tmp_path / "other.pt").startswith(
        f"{tmp_path}/other.pt holds weights of another shape than the lesson's network (its stored sizes "
    )


def test_declared_sizes_that_do_not_match_the_weights(tmp_path):
    saved(tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    state["sizes"]["hidden1"] = 100
    torch.save(state, tmp_path / "model.pt")
    assert "holds weights of another shape" in message(tmp_path / "model.pt")


def test_a_state_dict_missing_layers(tmp_path):
    torch.save({"fc1.weight": torch.zeros(128, 784)}, tmp_path / "part.pt")
    assert "is a state_dict, but not of the lesson's network (fc1, fc2, fc3)" in message(tmp_path / "part.pt")


@pytest.mark.parametrize(
    ("error", "cause"),
    [(OSError(errno.ENOSPC, "No space left on device"), "the disk is full: free some disk space"),
     (OSError(errno.EACCES, "Permission denied"), "permission denied: choose a folder you can write to")],
)  # fmt: skip
def test_a_full_disk_or_a_refusal_keeps_the_checkpoint_and_names_the_cause(tmp_path, monkeypatch, error, cause):
    first = saved(tmp_path / "model.pt")

    def fail_half_way(path, data):
        with atomic_path(path) as tmp:
            tmp.write_bytes(data[:100])  # the disk fills up, or the folder is taken away, part way through
            raise error

    monkeypatch.setattr(checkpoint, "write_bytes_atomic", fail_half_way)
    with pytest.raises(CheckpointError, match=rf"cannot write checkpoint .*model.pt: {cause}"):
        saved(tmp_path / "model.pt", 32, 16)
    assert same_weights(load_model(tmp_path / "model.pt"), first)
    assert os.listdir(tmp_path) == ["model.pt"]


def test_saving_into_a_missing_folder(tmp_path):
    with pytest.raises(
        CheckpointError, match=r"cannot write checkpoint .*: no such file or directory: check the folder"
    ):
        saved(tmp_path / "missing" / "model.pt")


KEEP_SAVING = textwrap.dedent(
    """
    import sys, torch
    from mnist_tutorial import NeuralNetwork, save_checkpoint
    model = NeuralNetwork(hidden1=4096, hidden2=4096)  # the largest a checkpoint may hold: 80 MB, slow to save
    for step in range(10**6):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(step)
        history = {"train_loss": [0.0] * step, "test_loss": [], "test_accuracy": [], "seconds": []}
        save_checkpoint(sys.argv[1], model=model, dataset="mnist", history=history)
        print(step, flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_save_leaves_the_previous_checkpoint_whole(tmp_path):
    path = tmp_path / "model.pt"
    saver = subprocess.Popen([sys.executable, "-c", KEEP_SAVING, str(path)], cwd=PROJECT_ROOT,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert saver.stdout.readline().strip() == "0"  # a first checkpoint is complete
        deadline, caught_mid_save = time.monotonic() + 60, False
        while not caught_mid_save and time.monotonic() < deadline:
            temporary = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            caught_mid_save = any(p.exists() and 0 < p.stat().st_size < path.stat().st_size for p in temporary)
        saver.send_signal(signal.SIGKILL)
    finally:
        saver.kill()
        saver.wait()
    assert caught_mid_save, "never saw a save in progress"
    state = load_checkpoint(path)
    model = load_model(path)
    steps = {float(p.detach().flatten()[0]) for p in model.parameters()}
    assert len(steps) == 1 and state["epoch"] == steps.pop()  # one complete save, not a mixture
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in leftovers)  # hidden, never read


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "_orig_mod.module."])
def test_state_dicts_of_wrapped_networks_load(tmp_path, prefix):
    """DataParallel and DDP save `module.`-prefixed names, torch.compile `_orig_mod.`: the weights are the same."""
    model = NeuralNetwork()
    torch.save({prefix + name: tensor for name, tensor in model.state_dict().items()}, tmp_path / "wrapped.pt")
    assert same_weights(load_model(tmp_path / "wrapped.pt"), model)
    saved(tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    state["model_state"] = {prefix + name: tensor for name, tensor in state["model_state"].items()}
    torch.save(state, tmp_path / "model.pt")
    assert set(load_model(tmp_path / "model.pt").state_dict()) == set(model.state_dict())


def test_a_network_trained_on_other_normalisation_is_refused(tmp_path):
    saved(tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    state["normalization"] = {"mean": 0.1307, "std": 0.3081}
    torch.save(state, tmp_path / "model.pt")
    assert "was trained on inputs normalised with {'mean': 0.1307, 'std': 0.3081}" in message(tmp_path / "model.pt")


def test_a_save_removes_temporaries_an_interrupted_save_left_and_nothing_else(tmp_path):
    stale = [tmp_path / ".model.pt.0123abcd.tmp", tmp_path / ".model.pt.deadbeef.tmp"]
    kept = [tmp_path / ".other.pt.0123abcd.tmp", tmp_path / ".model.pt.notes.tmp", tmp_path / "model.pt.tmp"]
    for path in stale + kept:
        path.write_bytes(b"half")
    saved(tmp_path / "model.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.pt", *(p.name for p in kept)])
