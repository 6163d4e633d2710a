"""divergence: a run that cannot recover stops at once; learning rates that train are never stopped."""

import contextlib
import io
import json
import math
import re

import pytest
import torch
from helpers import tiny_data

from mnist_tutorial import NeuralNetwork, fit, load_data, make_loaders, make_optimizer, seed_everything
from mnist_tutorial.cli import main
from mnist_tutorial.errors import TrainingDivergedError
from mnist_tutorial.train import FACTOR, WINDOW, DivergenceCheck


@pytest.fixture(scope="module")
def sample():
    with contextlib.redirect_stdout(io.StringIO()):
        return load_data(source="sample")


def train(data, lr: float, epochs: int = 2):
    seed_everything(0)
    model = NeuralNetwork()
    train_loader, test_loader = make_loaders(data)
    with contextlib.redirect_stdout(io.StringIO()):
        return fit(model, train_loader, test_loader, num_epochs=epochs, optimizer=make_optimizer(model, lr=lr))


def test_the_cli_stops_lr_1e4_within_the_first_epoch_naming_the_learning_rate(tmp_path, capsys):
    args = ["train", "--source", "sample", "--lr", "1e4", "--epochs", "3", "--out", str(tmp_path / "out")]
    assert main([*args, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mnist-tutorial: error: the loss grew to ") and len(err.splitlines()) == 1
    assert "by epoch 1, batch 10, with learning rate 10000: training stopped" in err
    assert err.rstrip().endswith("try a smaller one, e.g. --lr 0.01")


@pytest.mark.slow
@pytest.mark.parametrize("lr", ["1", "10", "1e4"])
def test_the_suggested_learning_rate_trains(tmp_path, capsys, lr):
    args = ["train", "--source", "sample", "--epochs", "3", "--no-progress"]
    assert main([*args, "--lr", lr, "--out", str(tmp_path / "diverged")]) == 1
    suggested = re.search(r"e\.g\. --lr (\S+)$", capsys.readouterr().err.rstrip()).group(1)
    assert main([*args, "--lr", suggested, "--out", str(tmp_path / "suggested")]) == 0
    metrics = json.loads((tmp_path / "suggested" / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["test_accuracy"] > 0.5


# The lesson's rate, the ones 03's exercises and 05's playground table suggest, and 0.1 (which overshoots,
# yet learns): none may be stopped.
@pytest.mark.parametrize("lr", [0.0001, 0.001, 0.01, 0.1])
def test_learning_rates_that_train_raise_no_alarm(sample, lr):
    history = train(sample, lr)
    assert history.epochs == 2 and all(math.isfinite(loss) for loss in history.train_loss)


def test_a_network_stuck_at_chance_is_reported_by_its_accuracy_not_stopped(sample):
    history = train(sample, 0.5)  # the ReLUs die in the first steps; the loss settles at ln 10
    assert history.train_loss[-1] == pytest.approx(math.log(10), abs=0.05)
    assert history.test_accuracy[-1] < 0.2


def test_an_injected_nan_is_caught_at_its_batch():
    check = DivergenceCheck(lr=0.01)
    check(1, 2.3)
    with pytest.raises(TrainingDivergedError, match=r"became nan by epoch 1, batch 2, with learning rate 0\.01"):
        check(2, float("nan"))


def test_a_nan_from_the_loss_function_stops_fit_before_the_epoch_ends():
    data = tiny_data()
    seed_everything(0)
    model = NeuralNetwork()
    train_loader, test_loader = make_loaders(data, batch_size=16)
    calls = []

    def poisoned(outputs, labels):
        calls.append(1)
        loss = torch.nn.functional.cross_entropy(outputs, labels)
        return loss * float("nan") if len(calls) == 3 else loss

    with pytest.raises(TrainingDivergedError, match="batch 3"):
        fit(model, train_loader, test_loader, num_epochs=1, criterion=poisoned, progress=False)
    assert len(calls) == 3


def test_the_rule_waits_for_a_full_window_and_judges_its_mean():
    check = DivergenceCheck(lr=1.0)
    limit = FACTOR * math.log(10)
    check(1, 50 * limit)  # one wild batch is not a verdict
    for batch in range(2, WINDOW):
        check(batch, 0.5)
    with pytest.raises(TrainingDivergedError, match=f"batch {WINDOW}"):
        check(WINDOW, 0.5 + limit * WINDOW)  # the mean of the last 10 now exceeds the limit


@pytest.mark.parametrize("lr", [float("nan"), float("inf")])
def test_a_learning_rate_that_is_not_a_finite_number_is_never_suggested(lr):
    data = tiny_data()
    seed_everything(0)
    model = NeuralNetwork()
    train_loader, test_loader = make_loaders(data, batch_size=16)
    with pytest.raises(TrainingDivergedError) as stopped:
        fit(model, train_loader, test_loader, num_epochs=1, optimizer=make_optimizer(model, lr=lr), progress=False)
    message = str(stopped.value)
    assert message.endswith(
        f"with learning rate {lr}: training stopped, as it cannot recover; the learning rate is not a finite number: "
        "pass a positive one, such as the lesson's `lr=0.001`"
    ), message
    assert "e.g." not in message and message.count("`lr=") == 1
