"""The training loop: seeding, device choice, one epoch of the lesson's step, and `fit` around it."""

import math
import os
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from .defaults import CPU_THREADS, DEVICE_ENV, LOG_EVERY, LR, MOMENTUM, NUM_EPOCHS
from .errors import ConfigError, TrainingDivergedError
from .evaluate import evaluate
from .history import History
from .progress import Progress
from .settings import DEVICES, check_count


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so runs repeat exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to compute on: `device` ("auto", "cpu", "cuda:1"...), else $MNIST_TUTORIAL_DEVICE, else "auto".

    "auto" picks cuda, then mps, then cpu; a named device must be of a kind this machine has.
    """
    device = device or os.environ.get(DEVICE_ENV) or "auto"
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if device == "auto":
        return torch.device(next(name for name, ok in available.items() if ok))
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        chosen = None
    if chosen is None or chosen.type not in available:
        raise ConfigError(f"unknown `device={device!r}`: choose one of {', '.join(DEVICES)}")
    if not available[chosen.type]:
        raise ConfigError(f"`device={chosen.type}` is not available on this machine: use `device=cpu` or `device=auto`")
    return chosen


def make_optimizer(model: nn.Module, *, lr: float = LR, momentum: float = MOMENTUM) -> torch.optim.SGD:
    """The lesson's optimizer: SGD with momentum."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


@contextmanager
def cpu_threads(threads: int | None, device: str | torch.device = "cpu") -> Iterator[None]:
    """Run the block on `threads` CPU threads when training on the CPU (None: PyTorch's own), then restore them."""
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
    """The lesson's loop over one epoch, logging the running loss every `log_every` batches; the epoch's mean loss.

    `on_batch(batch, loss)` runs after every step (fit checks divergence there).
    """
    model.train()
    batch, running_loss, total_loss = 0, 0.0, 0.0
    for batch, (inputs, labels) in enumerate(checked_batches(train_loader, "train_loader", model), 1):
        loss = training_step(model, optimizer, criterion, inputs.to(device), labels.to(device)).item()
        running_loss += loss
        if batch % log_every == 0:
            log(f"[Epoch {epoch}, Batch {batch}] Loss: {running_loss / log_every:.3f}")
            total_loss, running_loss = total_loss + running_loss, 0.0
        if on_batch is not None:
            on_batch(batch, loss)
    if batch == 0:
        raise ConfigError("`train_loader` yielded no batches: pass a loader over at least one image")
    return (total_loss + running_loss) / batch


def training_step(model: nn.Module, optimizer, criterion: nn.Module, inputs, labels) -> torch.Tensor:
    """The lesson's step on one batch; returns the loss (a 0-d tensor, not yet read). inputs: (B, 1, 28, 28).

    The model flattens where it needs to (the lesson's network first of all, a CNN after its convolutions).
    """
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = criterion(outputs, labels)
    loss.backward()
    optimizer.step()
    return loss


def checked_batches(loader: Iterable, name: str, model: nn.Module) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """`loader`'s batches, each refused in one sentence naming `name` unless an (inputs, labels) pair `model` takes."""
    parameter = next(model.parameters(), None)
    for batch in loader:
        yield checked_batch(batch, name, None if parameter is None else parameter.dtype)


def checked_batch(batch: object, name: str, dtype: torch.dtype | None) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch` as an (inputs, labels) pair of tensors with inputs of `dtype` (the model's), or a ConfigError."""
    pair = "but fit takes (inputs, labels) pairs of tensors"
    if isinstance(batch, Mapping):
        keys = ", ".join(repr(key) for key in list(batch)[:4])
        raise ConfigError(f"`{name}` yields dicts (keys {keys}), {pair}: yield (batch[...], batch[...]) from it")
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        what = f"{len(batch)} items" if isinstance(batch, (tuple, list)) else f"a {type(batch).__name__}"
        raise ConfigError(f"`{name}` yields {what} per batch, {pair}: yield (inputs, labels) from it")
    inputs, labels = batch
    if isinstance(inputs, np.ndarray) or isinstance(labels, np.ndarray):
        numpy = "convert them with torch.from_numpy(inputs), torch.from_numpy(labels)"
        raise ConfigError(f"`{name}` yields NumPy arrays, {pair}: {numpy}")
    if not (isinstance(inputs, torch.Tensor) and isinstance(labels, torch.Tensor)):
        kinds = f"{type(inputs).__name__} and {type(labels).__name__}"
        raise ConfigError(f"`{name}` yields {kinds}, {pair}: convert them with torch.as_tensor")
    if dtype is not None and inputs.dtype != dtype:
        given, held = (str(kind).removeprefix("torch.") for kind in (inputs.dtype, dtype))
        if dtype != torch.float32:
            fix = "convert the model with model.float(), as the lesson's networks are float32"
            raise ConfigError(f"`model` holds {held} parameters, but `{name}` yields {given} inputs: {fix}")
        if not inputs.is_floating_point():
            fix = "normalise the images (mnist_tutorial.normalize), as the lesson's loaders do"
            raise ConfigError(f"`{name}` yields {given} inputs, but the network takes float32 ones: {fix}")
        raise ConfigError(f"`{name}` yields {given} inputs, but `model` holds float32 parameters: convert them with "
                          "inputs.float()")  # fmt: skip
    return inputs, labels


def check_fit_args(model: nn.Module, loaders: Sequence[Iterable], optimizer: torch.optim.Optimizer, num_epochs: int):
    """Refuse misuse that would otherwise train nothing, or fail deep inside the loop."""
    check_count("num_epochs", num_epochs)
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
    log: Callable[[str], None] = print,
) -> History:
    """Train until `num_epochs` epochs are done in all (continuing `history`), testing after each; the history.

    Stops with TrainingDivergedError once the loss diverges (DivergenceCheck). Ctrl-C (the notebook's stop button,
    SIGTERM in the CLI) ends training cleanly with the epochs completed so far. Misuse is refused in one sentence.
    Its lines go to `log` (the playground shows them in its form), above the bars when they are on.
    """
    device = pick_device(device)
    model.to(device)
    optimizer = optimizer or make_optimizer(model)
    check_fit_args(model, (train_loader, test_loader), optimizer, num_epochs)
    criterion = criterion or nn.CrossEntropyLoss()
    history = history or History()
    with (
        Progress(enabled=progress, num_epochs=num_epochs, start=history.epochs, log=log) as bars,
        cpu_threads(threads, device),
    ):
        try:
            for epoch in range(history.epochs + 1, num_epochs + 1):
                diverged = DivergenceCheck(lr=optimizer.param_groups[0]["lr"], epoch=epoch)
                start = time.perf_counter()
                train_loss = train_one_epoch(model, bars.batches(train_loader, epoch), optimizer, criterion,
                                             epoch=epoch, device=device, log_every=log_every, log=bars.write,
                                             on_batch=diverged)  # fmt: skip
                seconds = time.perf_counter() - start
                test_loss, test_accuracy = evaluate(model, checked_batches(test_loader, "test_loader", model),
                                                    device=device)  # fmt: skip
                history.add_epoch(train_loss, test_loss, test_accuracy, seconds)
                bars.epoch_done(history)
                for callback in callbacks:
                    callback(history)
        except KeyboardInterrupt:
            history.interrupted = True
            log(f"Interrupted: keeping the model as it is, with {history.epochs} complete epoch(s).")
        except (IndexError, RuntimeError) as error:
            if (reason := label_problem(error)) is None:
                raise
            raise ConfigError(reason) from None
    return history


def label_problem(error: Exception) -> str | None:
    """What is wrong with the labels, if torch's loss refused them: class numbers out of range, or not whole."""
    message = str(error)
    if match := re.search(r"Target (-?\d+) is out of bounds", message):
        return (
            f"a loader yielded the label {match[1]}, but the network has an output for each class from 0 to one "
            "less than its number of outputs: check the labels the loaders yield (labels.unique())"
        )
    if "target dtype" in message or "scalar type Long" in message:
        return (
            "a loader yielded labels that are not whole class numbers (CrossEntropyLoss wants one per image, as "
            "torch.long): convert them with labels.long()"
        )
    return None


# A network that spreads its bets evenly over 10 classes scores ln 10 ≈ 2.30, and learning only goes below it.
# Single batches spike far above it (up to 35 at lr 0.3 on the sample), so the rule judges the mean of 10 batches:
# lr up to 0.1 never takes it above 2.3, lr 1 and more pass 100 within 10 batches and never come back, and between
# 0.2 and 0.9 runs either die at chance (a bad but finite run the accuracy reports) or pass the limit and stop.
WINDOW = 10  # batches averaged before judging: one noisy batch must not stop a run
LARGEST_LR_THAT_TRAINS = 0.01  # of 03's table: 94% on the sample in 10 epochs; 0.1 overshoots, 0.2+ dies
FACTOR = 4.0  # times the loss of an untrained network: well above every run that learns


class DivergenceCheck:
    """Called after every step with the batch's loss; raises TrainingDivergedError once it is not finite, or the
    mean of the last WINDOW batches exceeds FACTOR times an untrained network's loss."""

    def __init__(self, *, lr: float, num_classes: int = 10, epoch: int = 1) -> None:
        self.lr, self.epoch = lr, epoch
        self.limit = FACTOR * math.log(num_classes)
        self.recent: deque[float] = deque(maxlen=WINDOW)

    def __call__(self, batch: int, loss: float) -> None:
        self.recent.append(loss)
        if not math.isfinite(loss):
            self._stop(f"the loss became {loss}", batch)
        if len(self.recent) == WINDOW and (mean := sum(self.recent) / WINDOW) > self.limit:
            chance = self.limit / FACTOR
            self._stop(f"the loss grew to {mean:.3g}, far above an untrained network's {chance:.2f}", batch)

    def _stop(self, what: str, batch: int) -> None:
        if math.isfinite(self.lr):
            advice = f"try a smaller one, e.g. `lr={min(self.lr / 10, LARGEST_LR_THAT_TRAINS):g}`"
        else:
            advice = f"the learning rate is not a finite number: pass a positive one, such as the lesson's `lr={LR:g}`"
        raise TrainingDivergedError(
            f"{what} by epoch {self.epoch}, batch {batch}, with learning rate {self.lr:g}: training stopped, as it "
            f"cannot recover; {advice}"
        )
