"""train: the loss falls, seeded runs repeat bit for bit, misuse is one sentence, divergence and interrupts end cleanly.

Speed settings (threads, the fast loader) change how fast it runs, never what it learns. No timings here.
"""

import contextlib
import io
import json
import math
import re

import numpy as np
import pytest
import torch
from helpers import digits, same_weights, tiny_data
from torch import nn

from mnist_tutorial import History, NeuralNetwork, defaults, load_model, pick_device, train_and_save, train_one_epoch
from mnist_tutorial.cli import main
from mnist_tutorial.data import load_data, make_loaders, normalize
from mnist_tutorial.errors import ConfigError, TrainingDivergedError
from mnist_tutorial.train import FACTOR, WINDOW, DivergenceCheck, cpu_threads, fit, make_optimizer, seed_everything

IMAGES, LABELS = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
GOOD = [(IMAGES, LABELS)]


@pytest.fixture(scope="module")
def sample():
    with contextlib.redirect_stdout(io.StringIO()):
        return load_data(source="sample")


def run(data=None, *, seed=0, epochs=2, fast=True, lr=0.001, batch_size=32, **fit_args):
    """A fresh seeded network trained quietly on `data` (tiny_data by default); the model and its history."""
    seed_everything(seed)
    model = NeuralNetwork()
    train_loader, test_loader = make_loaders(data or tiny_data(), batch_size=batch_size, fast=fast, seed=seed)
    optimizer = make_optimizer(model, lr=lr)
    with contextlib.redirect_stdout(io.StringIO()):
        history = fit(model, train_loader, test_loader, num_epochs=epochs, optimizer=optimizer, progress=False,
                      **fit_args)  # fmt: skip
    return model, history


def test_loss_falls_on_a_fixed_batch():
    seed_everything(0)
    images, labels = digits(64, seed=0)
    inputs, targets = normalize(torch.from_numpy(images)), torch.from_numpy(labels).long()
    model, loss_fn = NeuralNetwork(), nn.CrossEntropyLoss()
    before = loss_fn(model(inputs), targets).item()
    mean = train_one_epoch(model, [(inputs, targets)] * 60, make_optimizer(model, lr=0.01), loss_fn, epoch=1)
    after = loss_fn(model(inputs), targets).item()
    assert before == pytest.approx(2.30, abs=0.1)  # ln(10): an untrained network guesses evenly
    assert after < before / 10 and after < mean < before  # 60 steps on one batch: it learns it by heart


def test_seeded_runs_repeat_bit_for_bit_on_either_loader_and_the_history_records_every_epoch():
    (first, history1), (second, history2) = run(seed=5), run(seed=5)
    (lesson, lesson_history) = run(seed=5, fast=False)  # the fast path learns exactly what the lesson's learns
    assert same_weights(first, second) and history1.to_dict() | {"seconds": 0} == history2.to_dict() | {"seconds": 0}
    assert same_weights(first, lesson) and lesson_history.test_accuracy == history1.test_accuracy
    assert not torch.equal(first.fc1.weight, run(seed=6)[0].fc1.weight)
    assert history1.epochs == 2 and not history1.interrupted and history1.train_loss[1] < history1.train_loss[0]
    assert [len(values) for values in history1.to_dict().values()] == [2, 2, 2, 2]
    assert History.from_dict(history1.to_dict()).to_dict() == history1.to_dict()


def test_running_loss_lines_in_the_lessons_format_read_only_when_printed(capsys):
    losses = []

    def loss_fn(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.cross_entropy(outputs, labels)
        losses.append(loss.item())
        return loss

    model = NeuralNetwork()
    train_loader, test_loader = make_loaders(tiny_data(n_train=320), batch_size=32)  # 10 batches
    history = fit(model, train_loader, test_loader, num_epochs=1, criterion=loss_fn, log_every=4, progress=False)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[Epoch")]
    assert [line.split("]")[0] for line in lines] == ["[Epoch 1, Batch 4", "[Epoch 1, Batch 8"]
    assert lines[0].endswith(f"Loss: {sum(losses[:4]) / 4:.3f}")
    assert history.train_loss[0] == pytest.approx(sum(losses) / len(losses), rel=1e-5)  # the epoch's mean


def test_make_optimizer_is_the_lessons_sgd():
    group = make_optimizer(NeuralNetwork()).param_groups[0]
    assert group["lr"] == defaults.LR and group["momentum"] == defaults.MOMENTUM
    assert group["dampening"] == 0 and group["weight_decay"] == 0 and not group["nesterov"]
    assert not group["fused"]  # fused SGD rounds last bits differently from the lesson's SGD


def test_fit_trains_with_the_course_thread_count_and_cpu_threads_restores_it():
    before, seen = torch.get_num_threads(), []
    run(epochs=1, callbacks=[lambda history: seen.append(torch.get_num_threads())])
    assert seen == [defaults.CPU_THREADS] and torch.get_num_threads() == before
    with cpu_threads(1, "cpu"):
        assert torch.get_num_threads() == 1
    for threads, device in ((None, "cpu"), (1, torch.device("cuda"))):  # the GPU does the work: the CPU's is left
        with cpu_threads(threads, device):
            assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), cpu_threads(1, "cpu"):
        raise RuntimeError("restored even so")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_prefers_cuda_then_mps_then_cpu_and_fit_takes_it(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv(defaults.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device("auto").type == pick_device().type == expected
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv(defaults.DEVICE_ENV, "cpu")  # the environment pins the default, not an explicit choice
    assert pick_device().type == "cpu" and pick_device("auto").type == expected
    if expected == "cpu":
        assert fit(NeuralNetwork(), GOOD, GOOD, num_epochs=1, progress=False, device="auto").epochs == 1


@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 0)])
def test_a_device_the_machine_lacks_is_one_sentence(monkeypatch, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = NeuralNetwork()
    lacking = "`device=cuda` is not available on this machine: use `device=cpu` or `device=auto`"
    with pytest.raises(ConfigError, match=re.escape(lacking)):
        pick_device(device)
    with pytest.raises(ConfigError) as refused:
        fit(model, GOOD, GOOD, num_epochs=1, progress=False, device=device)
    assert str(refused.value) == lacking
    assert next(model.parameters()).device.type == "cpu"  # refused before anything moved
    with pytest.raises(ConfigError, match="unknown `device='tpu'`"):
        pick_device("tpu")


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
        ((IMAGES, torch.rand(8)), "a loader yielded labels that are not whole class numbers (CrossEntropyLoss wants "
         "one per image, as torch.long): convert them with labels.long()"),
        ((IMAGES, torch.full((8,), 10)), "a loader yielded the label 10, but the network has an output for each class "
         "from 0 to one less than its number of outputs: check the labels the loaders yield (labels.unique())"),
    ],
    ids=["dicts", "numpy", "three items", "float64 inputs", "uint8 inputs", "float labels", "label 10"],
)  # fmt: skip
def test_a_loader_fit_cannot_use_is_named_in_one_sentence(batch, message):
    with pytest.raises(ConfigError) as refused:
        fit(NeuralNetwork(), [batch], GOOD, num_epochs=1, progress=False)
    assert str(refused.value) == message
    with pytest.raises(ConfigError) as refused:  # the test loader's batches are held to the same rule
        fit(NeuralNetwork(), GOOD, [batch], num_epochs=1, progress=False)
    assert str(refused.value) == message.replace("train_loader", "test_loader")


def test_a_float64_model_is_named_unless_its_inputs_are_float64_too():
    with pytest.raises(ConfigError) as refused:
        fit(NeuralNetwork().double(), GOOD, GOOD, num_epochs=1, progress=False)
    assert str(refused.value) == (
        "`model` holds float64 parameters, but `train_loader` yields float32 inputs: convert the model with "
        "model.float(), as the lesson's networks are float32"
    )
    wide = [(IMAGES.double(), LABELS)]
    assert fit(NeuralNetwork().double(), wide, wide, num_epochs=1, progress=False).epochs == 1  # consistent: trains


def test_an_interrupt_in_a_callback_or_mid_epoch_keeps_the_complete_epochs_and_closes_the_bars(monkeypatch, capsys):
    from tqdm import tqdm

    def stop_after_first(history):
        if history.epochs == 1:
            raise KeyboardInterrupt

    history = run(epochs=3, callbacks=[stop_after_first])[1]
    assert history.interrupted and history.epochs == 1
    model = NeuralNetwork()
    optimizer, (train_loader, test_loader) = make_optimizer(model), make_loaders(tiny_data(), batch_size=32)
    steps, step = [], optimizer.step

    def interrupted_step(*args, **kwargs):
        steps.append(1)
        if len(steps) == len(train_loader) + 3:  # three batches into the second epoch
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(optimizer, "step", interrupted_step)
    history = fit(model, train_loader, test_loader, num_epochs=3, optimizer=optimizer, progress=True)
    assert history.interrupted and history.epochs == 1
    assert len(tqdm._instances) == 0  # every progress bar was closed
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == ["Epoch 1/3", "Interrupted"]


def test_train_and_save_takes_numpy_numbers_sizes_the_network_and_a_resumed_run_keeps_its_sizes(tmp_path):
    settings = {"source": "sample", "device": "cpu", "out": tmp_path, "progress": False}
    numbers = {"num_epochs": np.int64(1), "batch_size": np.int64(500), "lr": np.float32(0.01), "seed": np.uint8(0)}
    metrics = train_and_save(**settings, **numbers, momentum=np.float64(0.9), hidden1=np.int64(16), hidden2=8)
    assert (metrics["epochs"], metrics["batch_size"], metrics["hidden1"]) == (1, 500, 16)
    assert type(metrics["lr"]) is float
    resumed = train_and_save(**settings, num_epochs=2, resume=tmp_path / "model.pt")
    assert (resumed["epochs"], resumed["hidden1"], resumed["hidden2"]) == (2, 16, 8)
    assert load_model(tmp_path / "model.pt").sizes == {"hidden1": 16, "hidden2": 8, "num_classes": 10}
    with pytest.raises(ConfigError) as refused:
        train_and_save(**settings, num_epochs=3, resume=tmp_path / "model.pt", hidden1=32)
    assert str(refused.value) == (
        f"`hidden1=32` differs from `hidden1=16`, which {tmp_path}/model.pt was trained with: leave it out to continue "
        "with 16, or train afresh without `resume`"
    )


# Divergence: a run that cannot recover stops at once; learning rates that train are never stopped.


def test_the_cli_stops_lr_1e4_within_the_first_epoch_naming_the_learning_rate(tmp_path, capsys):
    args = ["train", "--source", "sample", "--lr", "1e4", "--epochs", "3", "--out", str(tmp_path / "out")]
    assert main([*args, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mnist-tutorial: error: the loss grew to ") and len(err.splitlines()) == 1
    assert "by epoch 1, batch 10, with learning rate 10000: training stopped" in err
    assert err.rstrip().endswith("try a smaller one, e.g. --lr 0.01")


# Every diverging rate (1, 10, 1e4: all from 0.1 up) is offered min(lr / 10, 0.01) = 0.01: one run shows it trains.
@pytest.mark.slow
def test_the_suggested_learning_rate_trains(tmp_path, capsys):
    args = ["train", "--source", "sample", "--epochs", "3", "--no-progress"]
    assert main([*args, "--lr", "1", "--out", str(tmp_path / "diverged")]) == 1
    suggested = re.search(r"e\.g\. --lr (\S+)$", capsys.readouterr().err.rstrip()).group(1)
    assert main([*args, "--lr", suggested, "--out", str(tmp_path / "suggested")]) == 0
    metrics = json.loads((tmp_path / "suggested" / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["test_accuracy"] > 0.5


# The lesson's rate, the ones 03's exercises and 05's playground table suggest, and 0.1 (which overshoots, yet
# learns): none may be stopped. 0.5 kills the ReLUs in the first steps: stuck at chance, reported by its accuracy.
@pytest.mark.parametrize("lr", [0.0001, 0.001, 0.01, 0.1, 0.5])
def test_learning_rates_that_train_raise_no_alarm_and_one_stuck_at_chance_is_not_stopped(sample, lr):
    history = run(sample, lr=lr, batch_size=64)[1]  # the lesson's batches
    assert history.epochs == 2 and all(math.isfinite(loss) for loss in history.train_loss)
    if lr == 0.5:
        assert history.train_loss[-1] == pytest.approx(math.log(10), abs=0.05) and history.test_accuracy[-1] < 0.2


def test_the_rule_stops_a_nan_at_its_batch_and_waits_for_a_full_window_to_judge_its_mean():
    check = DivergenceCheck(lr=0.01)
    check(1, 2.3)
    with pytest.raises(TrainingDivergedError, match=r"became nan by epoch 1, batch 2, with learning rate 0\.01"):
        check(2, float("nan"))
    check, limit = DivergenceCheck(lr=1.0), FACTOR * math.log(10)
    check(1, 50 * limit)  # one wild batch is not a verdict
    for batch in range(2, WINDOW):
        check(batch, 0.5)
    with pytest.raises(TrainingDivergedError, match=f"batch {WINDOW}"):
        check(WINDOW, 0.5 + limit * WINDOW)  # the mean of the last 10 now exceeds the limit


def test_a_nan_from_the_loss_function_stops_fit_before_the_epoch_ends_and_nothing_is_saved():
    calls, saved = [], []

    def poisoned(outputs, labels):
        calls.append(1)
        loss = torch.nn.functional.cross_entropy(outputs, labels)
        return loss * float("nan") if len(calls) == 3 else loss

    stopped = r"batch 3, with learning rate 0\.001: training stopped, as it cannot recover"
    with pytest.raises(TrainingDivergedError, match=stopped):
        run(epochs=1, criterion=poisoned, callbacks=[saved.append])
    assert len(calls) == 3 and saved == []  # no epoch of NaNs was handed on to be saved


@pytest.mark.parametrize("lr", [float("nan"), float("inf")])
def test_a_learning_rate_that_is_not_a_finite_number_is_never_suggested(lr):
    with pytest.raises(TrainingDivergedError) as stopped:
        run(epochs=1, lr=lr)
    message = str(stopped.value)
    assert message.endswith(
        f"with learning rate {lr}: training stopped, as it cannot recover; the learning rate is not a finite number: "
        "pass a positive one, such as the lesson's `lr=0.001`"
    ), message
    assert "e.g." not in message and message.count("`lr=") == 1
