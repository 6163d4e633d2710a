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


def fit_device(device: str | torch.device) -> torch.device:
    """`device` as fit takes it ("auto", "cpu", "cuda:1", a torch.device), refused unless this machine has its kind."""
    if isinstance(device, str) and device in DEVICES:
        return pick_device(device)
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"unknown `device={device!r}`: choose one of {', '.join(DEVICES)}") from None
    pick_device(chosen.type)  # refuses a kind of device this machine lacks, in the same words
    return chosen


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
    losses = LossLog(epoch=epoch, log_every=log_every, log=log, on_batch=on_batch)
    for inputs, labels in checked_batches(train_loader, "train_loader", model):
        inputs, labels = inputs.to(device), labels.to(device)
        loss = training_step(model, optimizer, criterion, inputs, labels)
        losses.add(loss.item())
    return losses.mean()


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
        raise ConfigError(dtype_mismatch(name, inputs.dtype, dtype))
    return inputs, labels


def dtype_mismatch(name: str, inputs: torch.dtype, parameters: torch.dtype) -> str:
    """Why inputs of one dtype cannot go through parameters of another, and which of the two to convert."""
    given, held = (str(dtype).removeprefix("torch.") for dtype in (inputs, parameters))
    if parameters != torch.float32:
        return (
            f"`model` holds {held} parameters, but `{name}` yields {given} inputs: convert the model with "
            "model.float(), as the lesson's networks are float32"
        )
    if not inputs.is_floating_point:
        return (
            f"`{name}` yields {given} inputs, but the network takes float32 ones: normalise the images "
            "(mnist_tutorial.normalize), as the lesson's loaders do"
        )
    return f"`{name}` yields {given} inputs, but `model` holds float32 parameters: convert them with inputs.float()"


class LossLog:
    """The lesson's bookkeeping of losses, fed one float per batch in order: running-loss lines and `on_batch`."""

    def __init__(self, *, epoch: int, log_every: int, log: Callable[[str], None], on_batch) -> None:
        self.epoch, self.log_every, self.log, self.on_batch = epoch, log_every, log, on_batch
        self.batch, self.running_loss, self.total_loss = 0, 0.0, 0.0

    def add(self, loss: float) -> None:
        self.batch += 1
        self.running_loss += loss
        if self.batch % self.log_every == 0:
            self.log(f"[Epoch {self.epoch}, Batch {self.batch}] Loss: {self.running_loss / self.log_every:.3f}")
            self.total_loss, self.running_loss = self.total_loss + self.running_loss, 0.0
        if self.on_batch is not None:
            self.on_batch(self.batch, loss)

    def mean(self) -> float:
        """The epoch's mean loss; refuses an epoch without batches."""
        if self.batch == 0:
            raise ConfigError("`train_loader` yielded no batches: pass a loader over at least one image")
        return (self.total_loss + self.running_loss) / self.batch


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
) -> History:
    """Train until `num_epochs` epochs are done in all, testing after each; returns the history.

    Continues from `history` (and `optimizer`'s state) when given. Stops with TrainingDivergedError once the loss
    diverges (see DivergenceCheck). Interrupting (Ctrl-C, the notebook's stop button, SIGTERM in the CLI) ends
    training cleanly and returns the epochs completed so far. On the CPU it trains with `threads` threads.
    `device` may be "auto" (pick_device's choice); one this machine lacks, or a batch that is not an (inputs, labels)
    pair of tensors the model takes, is refused in one sentence naming the argument.
    """
    device = fit_device(device)
    model.to(device)
    optimizer = optimizer or make_optimizer(model)
    check_fit_args(model, (train_loader, test_loader), optimizer, num_epochs)
    criterion = criterion or nn.CrossEntropyLoss()
    history = history or History()
    with Progress(enabled=progress, num_epochs=num_epochs, start=history.epochs) as bars, cpu_threads(threads, device):
        try:
            for epoch in range(history.epochs + 1, num_epochs + 1):
                diverged = DivergenceCheck(lr=optimizer.param_groups[0]["lr"], epoch=epoch)
                start = time.perf_counter()
                train_loss = train_one_epoch(
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
                test_batches = checked_batches(test_loader, "test_loader", model)
                test_loss, test_accuracy = evaluate(model, test_batches, device=device)
                history.add_epoch(train_loss, test_loss, test_accuracy, seconds)
                bars.epoch_done(history)
                for callback in callbacks:
                    callback(history)
        except KeyboardInterrupt:
            history.interrupted = True
            print(f"Interrupted: keeping the model as it is, with {history.epochs} complete epoch(s).")
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


# Stopping a run that cannot recover: a loss that is not finite, or far above an untrained network's.
#
# The rule: stop as soon as one batch's loss is NaN or infinite, or once the mean loss of the last
# `WINDOW` batches exceeds `FACTOR` times ln(number of classes).
#
# Why: a network that spreads its bets evenly over 10 classes scores ln 10 ≈ 2.30, whatever the labels, so
# a freshly initialised network starts near it, and learning only goes below. Single batches spike far above
# it without meaning much (measured on the embedded sample, seed 0: up to 35 at lr 0.3), so one batch proves
# nothing; a mean over 10 batches does. lr 0.0001 to 0.1 never take it above 2.3. Between 0.2 and 0.9 the first
# steps knock the ReLUs out and the network ends at chance (loss ≈ 2.31, accuracy ≈ 10%), some runs after a
# 10-batch mean of 5 to 6.5, which is a bad run but a finite one that the accuracy reports, some (0.6, 0.7,
# 0.9) after one beyond the limit, which stops them. lr 1 and more pass 100 within the first 10 batches
# (lr 1e4: 3e32) and never come back. Four times chance, 9.2, lies well above every run that learns.
WINDOW = 10  # batches averaged before judging: one noisy batch must not stop a run
LARGEST_LR_THAT_TRAINS = 0.01  # of 03's table: 94% on the sample in 10 epochs; 0.1 overshoots, 0.2+ dies
FACTOR = 4.0  # times the loss of an untrained network


class DivergenceCheck:
    """Call it after every step with the batch's loss; it raises TrainingDivergedError when the run diverged."""

    def __init__(self, *, lr: float, num_classes: int = 10, epoch: int = 1) -> None:
        self.lr = lr
        self.limit = FACTOR * math.log(num_classes)
        self.recent: deque[float] = deque(maxlen=WINDOW)
        self.epoch = epoch

    def __call__(self, batch: int, loss: float) -> None:
        self.recent.append(loss)
        if not math.isfinite(loss):
            self._stop(f"the loss became {loss}", batch)
        if len(self.recent) == WINDOW and sum(self.recent) / WINDOW > self.limit:
            mean = sum(self.recent) / WINDOW
            chance = self.limit / FACTOR
            self._stop(f"the loss grew to {mean:.3g}, far above an untrained network's {chance:.2f}", batch)

    def _stop(self, what: str, batch: int) -> None:
        raise TrainingDivergedError(
            f"{what} by epoch {self.epoch}, batch {batch}, with learning rate {self.lr:g}: training stopped, as it "
            f"cannot recover; {advice(self.lr)}"
        )


def advice(lr: float) -> str:
    """What to try after `lr` diverged: a smaller one, unless `lr` is not a finite number at all (nan, inf)."""
    if not math.isfinite(lr):
        return f"the learning rate is not a finite number: pass a positive one, such as the lesson's `lr={LR:g}`"
    return f"try a smaller one, e.g. `lr={suggested_lr(lr):g}`"


def suggested_lr(lr: float) -> float:
    """A learning rate to try after `lr` diverged: a tenth of it, and never above one known to train."""
    return min(lr / 10, LARGEST_LR_THAT_TRAINS)
