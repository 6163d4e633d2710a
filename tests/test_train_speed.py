"""The training loop's speed settings change how fast it runs, never what it learns. No timings here."""

import contextlib
import io

import pytest
import torch
from helpers import tiny_data
from torch import nn

from mnist_tutorial import defaults
from mnist_tutorial.data import Data, make_loaders
from mnist_tutorial.model import NeuralNetwork
from mnist_tutorial.train import cpu_threads, fit, make_optimizer, seed_everything, train_one_epoch


def quietly(function, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


def test_make_optimizer_is_the_lessons_sgd() -> None:
    optimizer = make_optimizer(NeuralNetwork())
    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert group["lr"] == defaults.LR and group["momentum"] == defaults.MOMENTUM
    assert group["dampening"] == 0 and group["weight_decay"] == 0 and not group["nesterov"]
    assert not group["fused"]  # fused SGD rounds last bits differently from the lesson's SGD


def test_cpu_threads_sets_and_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    with cpu_threads(1, "cpu"):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(None, "cpu"):
        assert torch.get_num_threads() == before
    with cpu_threads(1, torch.device("cuda")):  # the GPU does the work: leave the CPU's setting alone
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), cpu_threads(1, "cpu"):
        raise RuntimeError("restored even so")
    assert torch.get_num_threads() == before


def test_fit_trains_with_the_course_thread_count_and_restores_it() -> None:
    data = tiny_data()
    train_loader, test_loader = make_loaders(data, batch_size=64, fast=True)
    seen = []
    before = torch.get_num_threads()
    record = [lambda history: seen.append(torch.get_num_threads())]
    quietly(fit, NeuralNetwork(), train_loader, test_loader, num_epochs=1, progress=False, callbacks=record)
    assert seen == [defaults.CPU_THREADS]
    assert torch.get_num_threads() == before


def train(data: Data, *, fast: bool, epochs: int = 2) -> tuple[nn.Module, list[float]]:
    seed_everything(0)
    model = NeuralNetwork()
    train_loader, test_loader = make_loaders(data, batch_size=32, fast=fast, seed=0)
    history = quietly(fit, model, train_loader, test_loader, num_epochs=epochs, progress=False)
    return model, history.test_accuracy


def test_fast_path_learns_exactly_what_the_lesson_pipeline_learns() -> None:
    data = tiny_data()
    lesson_model, lesson_accuracy = train(data, fast=False)
    fast_model, fast_accuracy = train(data, fast=True)
    for (name, lesson), fast in zip(lesson_model.state_dict().items(), fast_model.state_dict().values(), strict=True):
        assert torch.equal(lesson, fast), name
    assert lesson_accuracy == fast_accuracy


def test_running_loss_is_read_only_when_printed() -> None:
    """The loop prints every log_every batches and returns the epoch's mean loss, as the lesson does."""
    data = tiny_data(n_train=320)
    train_loader, _ = make_loaders(data, batch_size=32, fast=True)  # 10 batches
    seed_everything(0)
    model = NeuralNetwork()
    losses = []

    def loss_fn(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.cross_entropy(outputs, labels)
        losses.append(loss.item())
        return loss

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        mean = train_one_epoch(model, train_loader, make_optimizer(model), loss_fn, epoch=1, log_every=4)
    lines = printed.getvalue().splitlines()
    assert [line.split("]")[0] for line in lines] == ["[Epoch 1, Batch 4", "[Epoch 1, Batch 8"]
    assert lines[0].endswith(f"Loss: {sum(losses[:4]) / 4:.3f}")
    assert mean == pytest.approx(sum(losses) / len(losses), rel=1e-5)
