"""Training: the loss falls, seeded runs repeat bit for bit, divergence and interrupts end cleanly."""

import numpy as np
import pytest
import torch
from helpers import digits, same_weights, tiny_data
from torch import nn

from mnist_tutorial import (
    History,
    NeuralNetwork,
    fit,
    load_model,
    make_optimizer,
    pick_device,
    seed_everything,
    train_and_save,
    train_one_epoch,
)
from mnist_tutorial.data import Data, TensorLoader, normalize
from mnist_tutorial.defaults import DEVICE_ENV
from mnist_tutorial.errors import ConfigError, TrainingDivergedError


def loaders(data: Data, seed: int = 0) -> tuple[TensorLoader, TensorLoader]:
    generator = torch.Generator().manual_seed(seed)
    train = TensorLoader(data.train.images, data.train.labels, batch_size=32, shuffle=True, generator=generator)
    test = TensorLoader(data.test.images, data.test.labels, batch_size=64, shuffle=False)
    return train, test


def test_loss_falls_on_a_fixed_batch():
    seed_everything(0)
    images, labels = digits(64, seed=0)
    inputs, targets = normalize(torch.from_numpy(images)), torch.from_numpy(labels).long()
    model = NeuralNetwork()
    loss_fn = nn.CrossEntropyLoss()
    before = loss_fn(model(inputs), targets).item()
    mean = train_one_epoch(model, [(inputs, targets)] * 60, make_optimizer(model, lr=0.01), loss_fn, epoch=1)
    after = loss_fn(model(inputs), targets).item()
    assert before == pytest.approx(2.30, abs=0.1)  # ln(10): an untrained network guesses evenly
    assert after < before / 10 and after < mean < before  # 60 steps on one batch: it learns it by heart


def run(seed: int, epochs: int = 2, **kwargs) -> tuple[NeuralNetwork, History]:
    seed_everything(seed)
    model = NeuralNetwork()
    train, test = loaders(tiny_data(), seed)
    return model, fit(model, train, test, num_epochs=epochs, progress=False, **kwargs)


def test_seeded_runs_repeat_bit_for_bit():
    (first, history1), (second, history2) = run(seed=5), run(seed=5)
    assert same_weights(first, second)
    assert (history1.train_loss, history1.test_loss) == (history2.train_loss, history2.test_loss)
    other, _ = run(seed=6)
    assert not torch.equal(first.fc1.weight, other.fc1.weight)


def test_history_records_every_epoch_and_survives_a_round_trip():
    _, history = run(seed=0)
    assert history.epochs == 2 and not history.interrupted
    assert [len(v) for v in history.to_dict().values()] == [2, 2, 2, 2]
    assert History.from_dict(history.to_dict()).to_dict() == history.to_dict()
    assert history.train_loss[1] < history.train_loss[0]


def test_running_loss_lines_in_the_lessons_format(capsys):
    run(seed=0, epochs=1, log_every=4)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[Epoch")]
    assert [line[: line.index("]") + 1] for line in lines] == ["[Epoch 1, Batch 4]", "[Epoch 1, Batch 8]"]
    assert all(line.split("Loss: ")[1].replace(".", "").isdigit() for line in lines)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device("auto").type == pick_device().type == expected
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "cpu")  # the environment pins the default, not an explicit choice
    assert pick_device().type == "cpu" and pick_device("auto").type == expected


def test_a_device_the_machine_lacks(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        ConfigError, match="`device=cuda` is not available on this machine: use `device=cpu` or `device=auto`"
    ):
        pick_device("cuda")
    with pytest.raises(ConfigError, match="unknown `device='tpu'`"):
        pick_device("tpu")


def test_non_finite_loss_stops_training_and_names_the_learning_rate():
    seed_everything(0)
    model = NeuralNetwork()
    train, test = loaders(tiny_data())
    saved = []
    with pytest.raises(TrainingDivergedError, match=r"learning rate 1e\+06: training stopped, as it cannot recover"):
        fit(model, train, test, num_epochs=3, optimizer=make_optimizer(model, lr=1e6), callbacks=[saved.append])
    assert saved == []  # no epoch of NaNs was handed on to be saved


@pytest.mark.parametrize(
    "labels, message",
    [
        (torch.rand(64), "a loader yielded labels that are not whole class numbers (CrossEntropyLoss wants one per "
         "image, as torch.long): convert them with labels.long()"),
        (torch.full((64,), 10), "a loader yielded the label 10, but the network has an output for each class from 0 "
         "to one less than its number of outputs: check the labels the loaders yield (labels.unique())"),
    ],
)  # fmt: skip
def test_labels_the_loss_cannot_use_are_named_in_one_line(labels, message):
    batches = [(torch.rand(64, 1, 28, 28), labels)]
    with pytest.raises(ConfigError) as refused:
        fit(NeuralNetwork(), batches, batches, num_epochs=1, progress=False)
    assert str(refused.value) == message


def test_numpy_numbers_are_welcome_where_python_numbers_are(tmp_path):
    numbers = {"num_epochs": np.int64(1), "batch_size": np.int64(500), "lr": np.float32(0.01), "seed": np.uint8(0)}
    metrics = train_and_save(source="sample", **numbers, momentum=np.float64(0.9), out=tmp_path, progress=False)
    assert metrics["epochs"] == 1 and metrics["batch_size"] == 500 and type(metrics["lr"]) is float


def test_train_and_save_sizes_the_network_and_a_resumed_run_keeps_the_checkpoints_sizes(tmp_path):
    run = {"source": "sample", "device": "cpu", "out": tmp_path, "progress": False}
    assert train_and_save(**run, num_epochs=1, hidden1=16, hidden2=8)["hidden1"] == 16
    resumed = train_and_save(**run, num_epochs=2, resume=tmp_path / "model.pt")
    assert (resumed["epochs"], resumed["hidden1"], resumed["hidden2"]) == (2, 16, 8)
    assert load_model(tmp_path / "model.pt").sizes == {"hidden1": 16, "hidden2": 8, "num_classes": 10}
    with pytest.raises(ConfigError) as refused:
        train_and_save(**run, num_epochs=3, resume=tmp_path / "model.pt", hidden1=32)
    assert str(refused.value) == (
        f"`hidden1=32` differs from `hidden1=16`, which {tmp_path}/model.pt was trained with: leave it out to continue "
        "with 16, or train afresh without `resume`"
    )


def test_interrupt_in_a_callback_returns_the_history_so_far():
    def stop_after_first(history):
        if history.epochs == 1:
            raise KeyboardInterrupt

    _, history = run(seed=0, epochs=3, callbacks=[stop_after_first])
    assert history.interrupted and history.epochs == 1


def test_interrupt_mid_epoch_closes_the_bars_and_keeps_complete_epochs(monkeypatch):
    from tqdm import tqdm

    seed_everything(0)
    model = NeuralNetwork()
    optimizer = make_optimizer(model)
    train, test = loaders(tiny_data())
    steps = []

    def step(*args, **kwargs):
        steps.append(1)
        if len(steps) == len(train) + 3:  # three batches into the second epoch
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    original = optimizer.step
    monkeypatch.setattr(optimizer, "step", step)
    history = fit(model, train, test, num_epochs=3, optimizer=optimizer, progress=True)
    assert history.interrupted and history.epochs == 1
    assert len(tqdm._instances) == 0  # every progress bar was closed


IMAGES, LABELS = torch.rand(8, 1, 28, 28), torch.arange(8) % 10


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"image": IMAGES, "label": LABELS}, "`train_loader` yields dicts (keys 'image', 'label'), but fit takes "
         "(inputs, labels) pairs of tensors: yield (batch[...], batch[...]) from it"),
        ((IMAGES.numpy(), LABELS.numpy()), "`train_loader` yields NumPy arrays, but fit takes (inputs, labels) pairs "
         "of tensors: convert them with torch.from_numpy(inputs), torch.from_numpy(labels)"),
        ((IMAGES, LABELS, 0), "`train_loader` yields 3 items per batch, but fit takes (inputs, labels) pairs of "
         "tensors: yield (inputs, labels) from it"),
        ((IMAGES.double(), LABELS), "`train_loader` yields float64 inputs, but `model` holds float32 parameters: "
         "convert them with inputs.float()"),
        (((IMAGES * 255).byte(), LABELS), "`train_loader` yields uint8 inputs, but the network takes float32 ones: "
         "normalise the images (mnist_tutorial.normalize), as the lesson's loaders do"),
    ],
    ids=["dicts", "numpy", "three items", "float64 inputs", "uint8 inputs"],
)  # fmt: skip
def test_a_loader_fit_cannot_use_is_named_in_one_sentence(batch, message):
    good = [(IMAGES, LABELS)]
    with pytest.raises(ConfigError) as refused:
        fit(NeuralNetwork(), [batch], good, num_epochs=1, progress=False)
    assert str(refused.value) == message
    with pytest.raises(ConfigError) as refused:  # the test loader's batches are held to the same rule
        fit(NeuralNetwork(), good, [batch], num_epochs=1, progress=False)
    assert str(refused.value) == message.replace("train_loader", "test_loader")


def test_a_float64_model_is_named_unless_its_inputs_are_float64_too():
    with pytest.raises(ConfigError) as refused:
        fit(NeuralNetwork().double(), [(IMAGES, LABELS)], [(IMAGES, LABELS)], num_epochs=1, progress=False)
    assert str(refused.value) == (
        "`model` holds float64 parameters, but `train_loader` yields float32 inputs: convert the model with "
        "model.float(), as the lesson's networks are float32"
    )
    wide = [(IMAGES.double(), LABELS)]
    assert fit(NeuralNetwork().double(), wide, wide, num_epochs=1, progress=False).epochs == 1  # consistent: trains


@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 0)])
def test_fit_on_a_device_the_machine_lacks_is_one_sentence(monkeypatch, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = NeuralNetwork()
    with pytest.raises(ConfigError) as refused:
        fit(model, [(IMAGES, LABELS)], [(IMAGES, LABELS)], num_epochs=1, progress=False, device=device)
    assert str(refused.value) == "`device=cuda` is not available on this machine: use `device=cpu` or `device=auto`"
    assert next(model.parameters()).device.type == "cpu"  # refused before anything moved


def test_fit_takes_device_auto_as_pick_device_does(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    history = fit(NeuralNetwork(), [(IMAGES, LABELS)], [(IMAGES, LABELS)], num_epochs=1, progress=False, device="auto")
    assert history.epochs == 1
