"""A run's output folder: made ready before training, model.pt saved every epoch, then filled as a set."""

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from ..checkpoint import load_checkpoint, save_checkpoint
from ..data import Data
from ..errors import CheckpointError, OutputError
from ..evaluate import predict
from ..files import kind_of, write_bytes_atomic, write_failure
from ..history import History
from ..model import NeuralNetwork
from ..plots import alt_text, plot_loss, plot_predictions, save_figure
from .config import RunConfig

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
        blocked = next(((name, kind_of(out / name)) for name in OUTPUTS if kind_of(out / name)), None)
    except OSError as error:
        if isinstance(error, OutputError):
            raise
        raise OutputError(f"cannot write to `out={out}` ({error.strerror}): choose a writable folder") from None
    if blocked:
        name, kind = blocked  # the run writes only regular files there: a planted link or FIFO is not replaced
        raise OutputError(f"`out={out}` holds {kind} named {name}: move it away or choose another `out`")


def write_outputs(out: Path, metrics: dict[str, Any], figures: dict[str, Figure]) -> None:
    """Write metrics.json and the figures (file name -> Figure, each PNG with its alt text inside), atomically."""
    path = out / "metrics.json"
    try:
        write_bytes_atomic(path, (json.dumps(metrics, indent=2) + "\n").encode())
        for name, figure in figures.items():
            path = out / name
            save_figure(figure, path)
    except OutputError:  # a link or FIFO planted there since prepare_out looked, refused in its own words
        raise
    except OSError as error:
        raise OutputError(f"cannot write {path}: {write_failure(error)}") from None


class CheckpointSaver:
    """A fit() callback that rewrites model.pt after every epoch (its first save clears the previous run's outputs).

    loader: the training loader whose shuffle state is saved with it (None: a data-parallel run's shards).
    """

    def __init__(self, config: RunConfig, *, model: NeuralNetwork, optimizer: torch.optim.Optimizer, loader) -> None:
        self.config, self.model, self.optimizer, self.loader = config, model, optimizer, loader
        self.epochs: int | None = None
        self.attempted = False

    def __call__(self, history: History) -> None:
        for name in OUTPUTS[1:] if not self.attempted else ():  # once model.pt is replaced they describe another
            (self.config.out / name).unlink(missing_ok=True)
        self.attempted = True
        save_checkpoint(
            self.config.out / "model.pt",
            model=self.model,
            dataset=self.config.dataset,
            history=history.to_dict(),
            optimizer=self.optimizer,
            shuffle_state=self.loader.generator.get_state() if self.loader is not None else None,
            settings=self.config.recorded(),
        )
        self.epochs = history.epochs

    def saved_epochs(self, history: History) -> int | None:
        """Epochs in model.pt after an interruption (which may strike after a save's rename, before it returns)."""
        if not self.attempted:
            return None
        try:
            stored = load_checkpoint(self.config.out / "model.pt")["history"]["train_loss"]
        except (CheckpointError, KeyError, TypeError):
            return self.epochs
        return len(stored) if stored and stored == history.train_loss[: len(stored)] else self.epochs


def finish(
    saver: CheckpointSaver, history: History, *, data: Data, test_loader, epochs_before: int, started: float
) -> dict[str, Any]:
    """The end of a finished run: the accuracy line, then metrics.json and the figures beside model.pt."""
    if history.epochs == epochs_before:  # resumed a run that had already reached num_epochs
        saver(history)
    print(f"Test Accuracy: {100 * history.test_accuracy[-1]:.2f}%")
    device = next(saver.model.parameters()).device
    recorded = {**saver.config.recorded(), "seed": saver.config.seed, "device": str(device)}
    if saver.config.nproc != 1:
        recorded["nproc"] = saver.config.nproc
    metrics = {
        "dataset": data.source.dataset,
        "source": data.source.kind,
        "n_train": len(data.train),
        "n_test": len(data.test),
        "epochs": history.epochs,
        **recorded,
        "test_accuracy": history.test_accuracy[-1],
        "seconds": time.perf_counter() - started,
        "train_loss": history.train_loss,
        "test_loss": history.test_loss,
        "test_accuracy_per_epoch": history.test_accuracy,
        "epoch_seconds": history.seconds,
    }
    probabilities, labels = predict(saver.model, test_loader, device=device)
    shown = probabilities[:PREDICTIONS_SHOWN].argmax(dim=1)  # the first test images, mistakes in red
    figures = {
        "loss.png": plot_loss(history),
        "predictions.png": plot_predictions(data.test.images[: len(shown)], labels[: len(shown)], shown,
                                            data.class_names),
    }  # fmt: skip
    # Each figure's sentence, for a reader who cannot see the PNGs (the PNGs hold it too, as their Description).
    metrics["figures"] = {name: alt_text(figure) for name, figure in figures.items()}
    write_outputs(saver.config.out, metrics, figures)
    return metrics
