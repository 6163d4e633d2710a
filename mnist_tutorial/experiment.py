"""Whole runs, as the CLI offers them: check the settings, train, save the four outputs; or evaluate."""

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from . import defaults
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .data import Data, load_data, make_loaders
from .errors import ConfigError
from .evaluate import evaluate, predict
from .files import atomic_path, write_bytes_atomic
from .model import NeuralNetwork
from .plots import plot_loss, plot_predictions
from .sources import get_spec
from .train import History, fit, make_optimizer, pick_device, seed_everything


def check_training_args(
    *, num_epochs: int, batch_size: int, lr: float, momentum: float, device: str, out: str | os.PathLike
) -> torch.device:
    """Refuse impossible settings before any work is done; returns the device to train on."""
    if num_epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {num_epochs}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"--lr must be a positive number, got {lr:g}: the lesson uses {defaults.LR:g}")
    if not (0 <= momentum < 1):
        raise ConfigError(f"--momentum must be in [0, 1), got {momentum:g}: the lesson uses {defaults.MOMENTUM:g}")
    check_writable(Path(out))
    return pick_device(device)


def check_writable(out: Path) -> None:
    """Create the output folder if needed and prove a file can be written there."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder: choose a folder for the outputs")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise ConfigError(f"cannot write to --out {out}: {error.strerror}: choose a writable folder") from None


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
    device: str = "auto",
    out: str | os.PathLike = "runs/latest",
    fast: bool = True,
    resume: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train the lesson's network and write model.pt, metrics.json, loss.png and predictions.png to `out`.

    model.pt is rewritten after every epoch, so an interrupted run can continue with `resume`.
    Returns the metrics that were written (history.interrupted runs write only model.pt).
    """
    out = Path(out)
    torch_device = check_training_args(
        num_epochs=num_epochs, batch_size=batch_size, lr=lr, momentum=momentum, device=device, out=out
    )
    resumed = load_checkpoint(resume) if resume else None
    if resumed and resumed.get("dataset", dataset) != dataset:
        raise ConfigError(f"{resume} was trained on {resumed['dataset']}, not {dataset}: pass --dataset to match")
    seed_everything(seed)
    data = load_data(dataset=dataset, source=source, data_dir=data_dir)
    model = model_from_checkpoint(resume, resumed) if resumed else NeuralNetwork()
    model.to(torch_device)
    optimizer = make_optimizer(model, lr=lr, momentum=momentum)
    train_loader, test_loader = make_loaders(data, batch_size=batch_size, fast=fast, device=torch_device, seed=seed)
    history = History()
    if resumed:
        history = History.from_dict(resumed["history"])
        if resumed.get("optimizer_state"):
            optimizer.load_state_dict(resumed["optimizer_state"])
        if resumed.get("shuffle_state") is not None:
            train_loader.generator.set_state(resumed["shuffle_state"])
        print(f"Resuming from {resume} after epoch {history.epochs}")

    def save(history: History) -> None:
        save_checkpoint(
            out / "model.pt",
            model=model,
            dataset=dataset,
            history=history.to_dict(),
            optimizer=optimizer,
            shuffle_state=train_loader.generator.get_state(),
        )

    epochs_before = history.epochs
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
        callbacks=[save],
    )
    if history.interrupted:
        return {"interrupted": True, "epochs": history.epochs}
    if history.epochs == epochs_before:  # resumed a run that had already reached num_epochs
        save(history)
    test_accuracy = history.test_accuracy[-1]
    print(f"Test Accuracy: {100 * test_accuracy:.2f}%")
    metrics = {
        "dataset": dataset,
        "source": data.source.kind,
        "data_folder": str(data.source.folder),
        "n_train": len(data.train),
        "n_test": len(data.test),
        "epochs": history.epochs,
        "batch_size": batch_size,
        "lr": lr,
        "momentum": momentum,
        "seed": seed,
        "device": str(torch_device),
        "loader": "fast" if fast else "lesson",
        "test_accuracy": test_accuracy,
        "seconds": time.perf_counter() - started,
        "train_loss": history.train_loss,
        "test_loss": history.test_loss,
        "test_accuracy_per_epoch": history.test_accuracy,
        "epoch_seconds": history.seconds,
    }
    write_bytes_atomic(out / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    save_figure(plot_loss(history), out / "loss.png")
    save_figure(prediction_figure(model, data, test_loader, device=torch_device), out / "predictions.png")
    return metrics


def prediction_figure(model: NeuralNetwork, data: Data, test_loader, *, device: torch.device):
    """The first 32 test images with predictions; mistakes in red."""
    probabilities, labels = predict(model, test_loader, device=device)
    count = 32
    return plot_predictions(
        data.test.images[:count], labels[:count], probabilities[:count].argmax(dim=1), data.class_names
    )


def save_figure(figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def evaluate_checkpoint(
    *,
    checkpoint: str | os.PathLike,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    source: str | None = None,
    device: str = "auto",
) -> float:
    """Test accuracy (a fraction) of a saved model on the test split of the data it was trained on."""
    torch_device = pick_device(device)
    state = load_checkpoint(checkpoint)
    trained_on = state.get("dataset", "mnist")
    dataset = dataset or trained_on
    get_spec(dataset)
    if dataset != trained_on:
        raise ConfigError(f"{checkpoint} was trained on {trained_on}, not {dataset}: drop --dataset or match it")
    model = model_from_checkpoint(checkpoint, state).to(torch_device)
    data = load_data(dataset=dataset, source=source, data_dir=data_dir)
    _, test_loader = make_loaders(data, device=torch_device)
    _, accuracy = evaluate(model, test_loader, device=torch_device)
    print(f"Test Accuracy: {100 * accuracy:.2f}%")
    return accuracy
