"""The training loop: seeding, device choice, one epoch of the lesson's step, and `fit` around it."""

import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .defaults import CHECK_FINITE_EVERY, CPU_THREADS, DEVICE_ENV, LOG_EVERY, LR, MOMENTUM, NUM_EPOCHS
from .errors import ConfigError, TrainingDivergedError
from .evaluate import evaluate
from .progress import Progress

DEVICES = ("auto", "cpu", "cuda", "mps")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so runs repeat exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str | None = None) -> torch.device:
    """The device to compute on: `device`, else $MNIST_TUTORIAL_DEVICE, else "auto".

    "auto" picks cuda, then mps, then cpu; a named device must exist on this machine.
    """
    device = device or os.environ.get(DEVICE_ENV) or "auto"
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if device == "auto":
        return torch.device(next(name for name, ok in available.items() if ok))
    if device not in available:
        raise ConfigError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    if not available[device]:
        raise ConfigError(f"device {device!r} is not available on this machine: use --device cpu or auto")
    return torch.device(device)


def make_optimizer(model: nn.Module, *, lr: float = LR, momentum: float = MOMENTUM) -> torch.optim.SGD:
    """The lesson's optimizer: SGD with momentum."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


@contextmanager
def cpu_threads(threads: int | None, device: str | torch.device = "cpu") -> Iterator[None]:
    """Run the block with `threads` CPU threads when training on the CPU, then restore the setting.

    None, or a device other than the CPU, leaves PyTorch's setting alone. See defaults.CPU_THREADS for why.
    """
    if threads is None or torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class History:
    """Per-epoch record of a run: mean training loss, test loss and accuracy, training seconds."""

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    interrupted: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> "History":
        return cls(**{key: list(values[key]) for key in cls().to_dict()})


def train_one_epoch(
    model: nn.Module,
    train_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    *,
    epoch: int,
    device: str | torch.device = "cpu",
    log_every: int = LOG_EVERY,
    progress: Progress | None = None,
) -> float:
    """One pass over the training data; prints the running loss every `log_every` batches.

    Returns the epoch's mean loss. Losses are summed on the device and read only every few batches
    (to print them, or to stop once they are NaN), so the loop rarely waits for the device.
    """
    model.train()
    running_loss = torch.zeros((), device=device)
    epoch_loss = torch.zeros((), device=device)
    batches = progress.batches(train_loader, epoch) if progress else train_loader
    log = progress.write if progress else print  # with progress bars, lines go above them
    for batch_index, (inputs, labels) in enumerate(batches, start=1):
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, labels)
        loss.backward()
        optimizer.step()

        running_loss += loss.detach()
        if batch_index % CHECK_FINITE_EVERY == 0:
            check_finite(running_loss, optimizer, epoch=epoch, batch=batch_index)
        if batch_index % log_every == 0:
            epoch_loss += running_loss
            log(f"[Epoch {epoch}, Batch {batch_index}] Loss: {running_loss.item() / log_every:.3f}")
            running_loss.zero_()
    epoch_loss += running_loss
    check_finite(epoch_loss, optimizer, epoch=epoch, batch=batch_index)
    return epoch_loss.item() / batch_index


def check_finite(loss_sum: torch.Tensor, optimizer: torch.optim.Optimizer, *, epoch: int, batch: int) -> None:
    """Stop with a clear message once the loss is NaN or infinite: further steps cannot recover."""
    if not torch.isfinite(loss_sum):
        lr = optimizer.param_groups[0]["lr"]
        raise TrainingDivergedError(
            f"the loss became {loss_sum.item()} by epoch {epoch}, batch {batch}, with learning rate "
            f"{lr:g}: training stopped; try a smaller one, e.g. --lr {lr / 10:g}"
        )


def fit(
    model: nn.Module,
    train_loader: Iterable,
    test_loader: Iterable,
    *,
    num_epochs: int = NUM_EPOCHS,
    optimizer: torch.optim.Optimizer | None = None,
    device: str | torch.device = "cpu",
    log_every: int = LOG_EVERY,
    history: History | None = None,
    progress: bool | None = None,
    callbacks: Sequence[Callable[[History], None]] = (),
    threads: int | None = CPU_THREADS,
) -> History:
    """Train until `num_epochs` epochs are done, testing after each; returns the history.

    Continues from `history` (and `optimizer`'s state) when given. Interrupting (Ctrl-C, or the
    notebook's stop button) ends training cleanly and returns the epochs completed so far.
    On the CPU it trains with `threads` threads (None: PyTorch's default), see defaults.CPU_THREADS.
    """
    model.to(device)
    optimizer = optimizer or make_optimizer(model)
    loss_fn = nn.CrossEntropyLoss()
    history = history or History()
    with Progress(enabled=progress, num_epochs=num_epochs, start=history.epochs) as bars, cpu_threads(threads, device):
        try:
            for epoch in range(history.epochs + 1, num_epochs + 1):
                start = time.perf_counter()
                train_loss = train_one_epoch(
                    model,
                    train_loader,
                    optimizer,
                    loss_fn,
                    epoch=epoch,
                    device=device,
                    log_every=log_every,
                    progress=bars,
                )
                seconds = time.perf_counter() - start
                test_loss, test_accuracy = evaluate(model, test_loader, device=device)
                history.train_loss.append(train_loss)
                history.test_loss.append(test_loss)
                history.test_accuracy.append(test_accuracy)
                history.seconds.append(seconds)
                bars.epoch_done(history)
                for callback in callbacks:
                    callback(history)
        except KeyboardInterrupt:
            history.interrupted = True
            print(f"Interrupted: keeping the model as it is, with {history.epochs} complete epoch(s).")
    return history
