"""Whole runs, as the CLI offers them: check the settings, train, save the four outputs; or evaluate."""

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from . import defaults
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .data import Data, load_data, make_loaders, make_test_loader
from .errors import CheckpointError, ConfigError, OutputError
from .evaluate import evaluate, predict
from .files import atomic_path, write_bytes_atomic
from .model import NeuralNetwork
from .plots import plot_loss, plot_predictions
from .sources import get_spec
from .train import History, fit, make_optimizer, pick_device, seed_everything

OUTPUTS = ("model.pt", "metrics.json", "loss.png", "predictions.png")


def check_training_args(
    *,
    num_epochs: int,
    batch_size: int,
    lr: float,
    momentum: float,
    device: str | None,
    out: str | os.PathLike,
    seed: int = defaults.SEED,
) -> torch.device:
    """Refuse impossible settings before any work is done; returns the device to train on."""
    if not is_count(num_epochs):
        raise ConfigError(f"--epochs {num_epochs} is not a positive whole number: pass 1 or more")
    if not is_count(batch_size):
        raise ConfigError(f"--batch-size {batch_size} is not a positive whole number: pass 1 or more")
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"--lr {lr:g} is not a positive number: pass one such as the lesson's {defaults.LR:g}")
    if not (0 <= momentum < 1):
        raise ConfigError(
            f"--momentum {momentum:g} is outside [0, 1): pass one such as the lesson's {defaults.MOMENTUM:g}"
        )
    if not (isinstance(seed, int) and 0 <= seed < 2**32):
        raise ConfigError(f"--seed {seed} is outside 0 to {2**32 - 1}: pass one in that range, such as 0")
    torch_device = pick_device(device)
    check_writable(Path(out))
    return torch_device


def is_count(value: object) -> bool:
    """True for a whole number of at least 1 (and not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_writable(out: Path) -> None:
    """Create the output folder if needed and prove the outputs can be written there."""
    try:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} is a file, not a folder: choose a folder for the outputs")
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
        blocked = next((name for name in OUTPUTS if (out / name).is_dir()), None)
    except OSError as error:
        raise ConfigError(f"cannot write to --out {out} ({error.strerror}): choose a writable folder") from None
    if blocked:
        raise ConfigError(f"--out {out} holds a folder named {blocked}: move it away or choose another --out")


def check_resumable(path: str | os.PathLike, state: dict[str, Any], *, dataset: str, num_epochs: int) -> None:
    """Refuse a checkpoint that cannot continue this run: weights only, another dataset, or already past it."""
    if "history" not in state:
        raise CheckpointError(
            f"{path} holds weights only, without the training state needed to resume: train without --resume"
        )
    if state.get("dataset", dataset) != dataset:
        raise ConfigError(f"{path} was trained on {state['dataset']}, not {dataset}: pass --dataset {state['dataset']}")
    if state["epoch"] > num_epochs:
        raise ConfigError(
            f"{path} has already trained {state['epoch']} epochs, more than --epochs {num_epochs}: "
            f"pass --epochs {state['epoch']} or more"
        )


def check_classes(path: str | os.PathLike, model: NeuralNetwork, dataset: str) -> None:
    """Refuse a network whose number of outputs differs from the dataset's number of classes."""
    classes = len(get_spec(dataset).class_names)
    if model.sizes["num_classes"] != classes:
        raise CheckpointError(
            f"{path} holds a network with {model.sizes['num_classes']} outputs, but {dataset} has {classes} "
            "classes: pass a checkpoint trained on it"
        )


def train_and_save(
    *,
    dataset: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    source: str | None = None,
    num_epochs: int = defaults.NUM_EPOCHS,
    batch_size: int = defaults.BATCH_SIZE,
    lr: float = defaults.LR,
    momentum: float = defaults.MOMENTUM,
    seed: int = defaults.SEED,
    device: str | None = None,
    out: str | os.PathLike = "runs/latest",
    fast: bool = True,
    resume: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train the lesson's network and write model.pt, metrics.json, loss.png and predictions.png to `out`.

    model.pt is rewritten after every epoch, so an interrupted run can continue with `resume`, which
    ends with the same weights as an uninterrupted run (same seed and settings, on the CPU).
    Returns the metrics that were written; an interrupted run writes only model.pt and returns
    {"interrupted": True, "epochs": epochs in model.pt (None if none was saved)}.
    """
    out = Path(out)
    torch_device = check_training_args(
        num_epochs=num_epochs, batch_size=batch_size, lr=lr, momentum=momentum, device=device, out=out, seed=seed
    )
    resumed = load_checkpoint(resume) if resume else None
    if resumed:
        check_resumable(resume, resumed, dataset=dataset, num_epochs=num_epochs)
    seed_everything(seed)
    model = model_from_checkpoint(resume, resumed) if resumed else NeuralNetwork()
    if resumed:
        check_classes(resume, model, dataset)
    data = load_data(dataset=dataset, source=source, data_dir=data_dir)
    model.to(torch_device)
    optimizer = make_optimizer(model, lr=lr, momentum=momentum)
    train_loader, test_loader = make_loaders(data, batch_size=batch_size, fast=fast, device=torch_device, seed=seed)
    history = restore(resume, resumed, optimizer, train_loader) if resumed else History()
    saver = CheckpointSaver(out / "model.pt", model=model, dataset=dataset, optimizer=optimizer, loader=train_loader)
    epochs_before = history.epochs
    for name in OUTPUTS[1:]:  # an earlier run's metrics and plots would describe another model.pt
        (out / name).unlink(missing_ok=True)
    started = time.perf_counter()
    history = fit(
        model,
        train_loader,
        test_loader,
        num_epochs=num_epochs,
        optimizer=optimizer,
        device=torch_device,
        history=history,
        progress=progress,
        callbacks=[saver],
    )
    if history.interrupted:
        return {"interrupted": True, "epochs": saver.epochs}
    if history.epochs == epochs_before:  # resumed a run that had already reached num_epochs
        saver(history)
    print(f"Test Accuracy: {100 * history.test_accuracy[-1]:.2f}%")
    settings = {"batch_size": batch_size, "lr": lr, "momentum": momentum, "seed": seed, "device": str(torch_device)}
    metrics = make_metrics(data, history, settings, fast=fast, seconds=time.perf_counter() - started)
    write_outputs(out, metrics, history, prediction_figure(model, data, test_loader, device=torch_device))
    return metrics


def restore(path: str | os.PathLike, state: dict[str, Any], optimizer: torch.optim.Optimizer, loader) -> History:
    """Put the optimizer and the shuffling back where the checkpoint left them; returns its history.

    The optimizer keeps the learning rate and momentum asked for now, which may differ from the checkpoint's.
    """
    wanted = [{"lr": group["lr"], "momentum": group["momentum"]} for group in optimizer.param_groups]
    try:
        history = History.from_dict(state["history"])
        if state.get("optimizer_state"):
            optimizer.load_state_dict(state["optimizer_state"])
        if state.get("shuffle_state") is not None:
            loader.generator.set_state(state["shuffle_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"{path} holds a training state that does not fit this run ({error}): train without --resume"
        ) from None
    for group, settings in zip(optimizer.param_groups, wanted, strict=True):
        if group["lr"] != settings["lr"]:
            print(f"Note: {path} was trained with learning rate {group['lr']:g}; continuing with {settings['lr']:g}")
        group.update(settings)
    print(f"Resuming from {path} after epoch {history.epochs}")
    return history


class CheckpointSaver:
    """A fit() callback that rewrites model.pt after every epoch and remembers how many epochs it holds."""

    def __init__(
        self, path: Path, *, model: NeuralNetwork, dataset: str, optimizer: torch.optim.Optimizer, loader
    ) -> None:
        self.path, self.model, self.dataset, self.optimizer, self.loader = path, model, dataset, optimizer, loader
        self.epochs: int | None = None

    def __call__(self, history: History) -> None:
        save_checkpoint(
            self.path,
            model=self.model,
            dataset=self.dataset,
            history=history.to_dict(),
            optimizer=self.optimizer,
            shuffle_state=self.loader.generator.get_state(),
        )
        self.epochs = history.epochs


def make_metrics(data: Data, history: History, settings: dict[str, Any], *, fast: bool, seconds: float) -> dict:
    """Everything metrics.json records about a finished run."""
    return {
        "dataset": data.source.dataset,
        "source": data.source.kind,
        "data_folder": str(data.source.folder),
        "n_train": len(data.train),
        "n_test": len(data.test),
        "epochs": history.epochs,
        **settings,
        "loader": "fast" if fast else "lesson",
        "test_accuracy": history.test_accuracy[-1],
        "seconds": seconds,
        "train_loss": history.train_loss,
        "test_loss": history.test_loss,
        "test_accuracy_per_epoch": history.test_accuracy,
        "epoch_seconds": history.seconds,
    }


def write_outputs(out: Path, metrics: dict[str, Any], history: History, predictions: Figure) -> None:
    """Write metrics.json, loss.png and predictions.png, each atomically."""
    path = out / "metrics.json"
    try:
        write_bytes_atomic(path, (json.dumps(metrics, indent=2) + "\n").encode())
        path = out / "loss.png"
        save_figure(plot_loss(history), path)
        path = out / "predictions.png"
        save_figure(predictions, path)
    except OSError as error:
        raise OutputError(
            f"cannot write {path} ({error.strerror or error}): free some disk space or choose another --out"
        ) from None


def prediction_figure(model: NeuralNetwork, data: Data, test_loader, *, device: torch.device) -> Figure:
    """The first 32 test images with predictions; mistakes in red."""
    probabilities, labels = predict(model, test_loader, device=device)
    count = 32
    return plot_predictions(
        data.test.images[:count], labels[:count], probabilities[:count].argmax(dim=1), data.class_names
    )


def save_figure(figure: Figure, path: Path) -> None:
    """Save `figure` as a PNG at `path`, atomically."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def evaluate_checkpoint(
    *,
    checkpoint: str | os.PathLike,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    source: str | None = None,
    device: str | None = None,
) -> float:
    """Test accuracy (a fraction) of a saved model on the test split of the data it was trained on."""
    torch_device = pick_device(device)
    state = load_checkpoint(checkpoint)
    trained_on = state.get("dataset", "mnist")
    dataset = dataset or trained_on
    get_spec(dataset)
    if dataset != trained_on:
        raise ConfigError(f"{checkpoint} was trained on {trained_on}, not {dataset}: pass --dataset {trained_on}")
    model = model_from_checkpoint(checkpoint, state).to(torch_device)
    check_classes(checkpoint, model, dataset)
    data = load_data(dataset=dataset, source=source, data_dir=data_dir)
    test_loader = make_test_loader(data, device=torch_device)
    _, accuracy = evaluate(model, test_loader, device=torch_device)
    print(f"Test Accuracy: {100 * accuracy:.2f}%")
    return accuracy
