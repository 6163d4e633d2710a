"""A run's output folder: made ready before training, and filled as a set (model.pt, metrics, two figures)."""

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from ..data import Data
from ..errors import OutputError
from ..evaluate import predict
from ..files import write_bytes_atomic, write_failure
from ..history import History
from ..model import NeuralNetwork
from ..plots import plot_loss, plot_predictions, save_figure

OUTPUTS = ("model.pt", "metrics.json", "loss.png", "predictions.png")
PREDICTIONS_SHOWN = 32


def prepare_out(out: Path) -> None:
    """Create the output folder if needed and prove the outputs can be written there."""
    try:
        if out.exists() and not out.is_dir():
            raise OutputError(f"`out={out}` is a file, not a folder: choose a folder for the outputs")
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
        blocked = next((name for name in OUTPUTS if (out / name).is_dir()), None)
    except OSError as error:
        if isinstance(error, OutputError):
            raise
        raise OutputError(f"cannot write to `out={out}` ({error.strerror}): choose a writable folder") from None
    if blocked:
        raise OutputError(f"`out={out}` holds a folder named {blocked}: move it away or choose another `out`")


def clear_previous(out: Path) -> None:
    """Remove an earlier run's metrics and figures: once model.pt is replaced, they would describe another model."""
    for name in OUTPUTS[1:]:
        (out / name).unlink(missing_ok=True)


def make_metrics(data: Data, history: History, settings: dict[str, Any], *, seconds: float) -> dict[str, Any]:
    """Everything metrics.json records about a finished run."""
    return {
        "dataset": data.source.dataset,
        "source": data.source.kind,
        "n_train": len(data.train),
        "n_test": len(data.test),
        "epochs": history.epochs,
        **settings,
        "test_accuracy": history.test_accuracy[-1],
        "seconds": seconds,
        "train_loss": history.train_loss,
        "test_loss": history.test_loss,
        "test_accuracy_per_epoch": history.test_accuracy,
        "epoch_seconds": history.seconds,
    }


def prediction_figure(model: NeuralNetwork, data: Data, test_loader, *, device: torch.device) -> Figure:
    """The first test images with predictions; mistakes in red."""
    probabilities, labels = predict(model, test_loader, device=device)
    count = PREDICTIONS_SHOWN
    predictions = probabilities[:count].argmax(dim=1)
    return plot_predictions(data.test.images[:count], labels[:count], predictions, data.class_names)


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
        raise OutputError(f"cannot write {path}: {write_failure(error)}") from None
