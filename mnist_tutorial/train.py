"""The training loop: seeding, device choice, one epoch of the lesson's step, and `fit` around it."""

import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .defaults import CPU_THREADS, DEVICE_ENV, LOG_EVERY, LR, MOMENTUM, NUM_EPOCHS
from .divergence import DivergenceCheck
from .errors import ConfigError
from .evaluate import evaluate
from .history import History
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
        raise ConfigError(f"unknown `device={device!r}`: choose one of {', '.join(DEVICES)}")
    if not available[device]:
        raise ConfigError(f"`device={device}` is not available on this machine: use `device=cpu` or `device=auto`")
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


def train_one_epoch(
    model: nn.Module,
    train_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    *,
    epoch: int = 1,
    device: str | torch.device = "cpu",
    log_every: int = LOG_EVERY,
    log: Callable[[str], None] = print,
    on_batch: Callable[[int, float], None] | None = None,
) -> float:
    """One pass over the training data, the lesson's loop; logs the running loss every `log_every` batches.

    Returns the epoch's mean loss. `on_batch(batch, loss)` runs after every step (fit checks divergence there).
    """
    model.train()
    running_loss = total_loss = 0.0
    batch = 0
    for batch, (inputs, labels) in enumerate(train_loader, start=1):
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs.view(-1, 784))
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        running_loss += loss.item()
        if batch % log_every == 0:
            log(f"[Epoch {epoch}, Batch {batch}] Loss: {running_loss / log_every:.3f}")
            total_loss, running_loss = total_loss + running_loss, 0.0
        if on_batch is not None:
            on_batch(batch, loss.item())
    if batch == 0:
        raise ConfigError("`train_loader` yielded no batches: pass a loader over at least one image")
    return (total_loss + running_loss) / batch


def check_fit_args(model: nn.Module, loaders: Sequence[Iterable], optimizer: torch.optim.Optimizer, num_epochs: int):
    """Refuse misuse that would otherwise train nothing, or fail deep inside the loop."""
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise ConfigError(f"`num_epochs={num_epochs!r}` is not a positive whole number: pass 1 or more")
    for name, loader in zip(("train_loader", "test_loader"), loaders, strict=True):
        if hasattr(loader, "__len__") and len(loader) == 0:
            raise ConfigError(f"`{name}` is empty: build it from a dataset with at least one image")
    ours = {id(p) for p in model.parameters()}
    if not any(id(p) in ours for group in optimizer.param_groups for p in group["params"]):
        raise ConfigError(
            "the optimizer holds none of the model's parameters, so training would change nothing (was the model "
            "cell run again after the optimizer's?): create the optimizer from this model, "
            "optim.SGD(model.parameters(), ...)"
        )


def fit(
    model: nn.Module,
    train_loader: Iterable,
    test_loader: Iterable,
    *,
    num_epochs: int = NUM_EPOCHS,
    optimizer: torch.optim.Optimizer | None = None,
    criterion: nn.Module | None = None,
    device: str | torch.device = "cpu",
    log_every: int = LOG_EVERY,
    history: History | None = None,
    progress: bool | None = None,
    callbacks: Sequence[Callable[[History], None]] = (),
    threads: int | None = CPU_THREADS,
    train_epoch: Callable[..., float] | None = None,
) -> History:
    """Train until `num_epochs` epochs are done in all, testing after each; returns the history.

    Continues from `history` (and `optimizer`'s state) when given. Stops with TrainingDivergedError once the loss
    diverges (see divergence.py). Interrupting (Ctrl-C, the notebook's stop button, SIGTERM in the CLI) ends
    training cleanly and returns the epochs completed so far. On the CPU it trains with `threads` threads.
    `train_epoch` replaces train_one_epoch with a function of the same arguments (cuda_graphs.GraphedTraining).
    """
    model.to(device)
    optimizer = optimizer or make_optimizer(model)
    check_fit_args(model, (train_loader, test_loader), optimizer, num_epochs)
    criterion = criterion or nn.CrossEntropyLoss()
    history = history or History()
    with Progress(enabled=progress, num_epochs=num_epochs, start=history.epochs) as bars, cpu_threads(threads, device):
        try:
            for epoch in range(history.epochs + 1, num_epochs + 1):
                loaders = (train_loader, test_loader)
                step = (model, optimizer, criterion, train_epoch or train_one_epoch)
                run_epoch(step, loaders, epoch, device, log_every, history, bars)
                for callback in callbacks:
                    callback(history)
        except KeyboardInterrupt:
            history.interrupted = True
            print(f"Interrupted: keeping the model as it is, with {history.epochs} complete epoch(s).")
    return history


def run_epoch(step, loaders, epoch, device, log_every, history, bars) -> None:
    """Train one epoch (timed, watched for divergence, counted on the bars), test, and record it in `history`."""
    model, optimizer, criterion, train_epoch = step
    train_loader, test_loader = loaders
    start = time.perf_counter()
    diverged = DivergenceCheck(lr=optimizer.param_groups[0]["lr"], epoch=epoch)
    train_loss = train_epoch(
        model,
        bars.batches(train_loader, epoch),
        optimizer,
        criterion,
        epoch=epoch,
        device=device,
        log_every=log_every,
        log=bars.write,
        on_batch=diverged,
    )
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = evaluate(model, test_loader, device=device)
    history.train_loss.append(train_loss)
    history.test_loss.append(test_loss)
    history.test_accuracy.append(test_accuracy)
    history.seconds.append(seconds)
    bars.epoch_done(history)
