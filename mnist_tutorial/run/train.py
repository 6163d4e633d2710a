"""A whole training run: check, prepare and lock the output folder, train (or resume), save the four outputs."""

import os
import time
from pathlib import Path
from typing import Any

import torch

from .. import defaults
from ..checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from ..cuda_graphs import GraphedTraining
from ..data import Data, load_data, make_loaders
from ..errors import CheckpointError, ConfigError
from ..history import History
from ..model import NeuralNetwork
from ..settings import check_loader, check_settings
from ..train import fit, make_optimizer, pick_device, seed_everything
from .evaluate import check_classes
from .lock import OutputLock
from .outputs import clear_previous, make_metrics, prediction_figure, prepare_out, write_outputs
from .resume import check_resumable, restore, settle, stored_settings


def train_and_save(
    *,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    source: str | None = None,
    num_epochs: int = defaults.NUM_EPOCHS,
    batch_size: int | None = None,
    lr: float | None = None,
    momentum: float | None = None,
    seed: int = defaults.SEED,
    device: str | None = None,
    out: str | os.PathLike = "runs/latest",
    loader: str | None = None,
    resume: str | os.PathLike | None = None,
    progress: bool | None = None,
    cuda_graphs: bool = False,
) -> dict[str, Any]:
    """Train the lesson's network and write model.pt, metrics.json, loss.png and predictions.png to `out`.

    Settings left as None take the lesson's values, or, with `resume`, the checkpoint's (a different one is
    refused). model.pt is rewritten after every epoch, so an interrupted run can continue with `resume`, ending
    with the same weights as an uninterrupted run (same seed and settings, on the CPU). Until the first epoch
    is saved, `out` keeps the previous run's files as they were. Returns the metrics written; an interrupted run
    returns {"interrupted": True, "epochs": epochs in model.pt (None if this run saved none)}.
    `cuda_graphs` replays each step from a CUDA graph (cuda_graphs.py): on CUDA with the fast loader only.
    """
    out = Path(out)
    requested = {"dataset": dataset, "source": source, "batch_size": batch_size, "loader": loader, "lr": lr}
    settings, resumed, torch_device = check_run(
        {**requested, "momentum": momentum}, num_epochs=num_epochs, seed=seed, device=device, resume=resume
    )
    check_cuda_graphs(cuda_graphs, torch_device, settings["loader"])
    prepare_out(out)
    with OutputLock(out):
        train_epoch = GraphedTraining() if cuda_graphs else None
        return _train(out, settings, resumed, resume, data_dir, num_epochs, seed, torch_device, progress, train_epoch)


def check_run(
    requested: dict[str, Any], *, num_epochs: int, seed: int, device: str | None, resume: str | os.PathLike | None
) -> tuple[dict[str, Any], dict[str, Any] | None, torch.device]:
    """Everything refused before any work: returns the settled settings, the checkpoint to resume, the device."""
    resumed = load_checkpoint(resume) if resume else None
    settings = settle(requested, stored_settings(resumed) if resumed else None, resume)
    check_settings(num_epochs=num_epochs, batch_size=settings["batch_size"], lr=settings["lr"], seed=seed,
                   momentum=settings["momentum"])  # fmt: skip
    check_loader(settings["loader"])
    torch_device = pick_device(device)
    if resumed:
        check_resumable(resume, resumed, num_epochs=num_epochs)
    return settings, resumed, torch_device


def start_model(resume, resumed, settings: dict[str, Any], data: Data, device: torch.device) -> NeuralNetwork:
    """The network to train, fresh or from the checkpoint, after checking that the checkpoint fits this data."""
    model = model_from_checkpoint(resume, resumed) if resumed else NeuralNetwork()
    if resumed:
        check_classes(resume, model, settings["dataset"])
        check_same_source(resume, settings["source"], data.source.kind)
    settings["source"] = data.source.kind
    return model.to(device)


def check_cuda_graphs(wanted: bool, device: torch.device, loader: str) -> None:
    """CUDA graphs replay a step on a CUDA device, from the fast loader's tensors, which stay put on the GPU."""
    if wanted and (device.type != "cuda" or loader != "fast"):
        raise ConfigError("`cuda_graphs` needs `device=cuda` and the fast loader: leave `cuda_graphs` out here")


def _train(out, settings, resumed, resume, data_dir, num_epochs, seed, device, progress, train_epoch=None) -> dict:
    seed_everything(seed)
    data = load_data(dataset=settings["dataset"], source=settings["source"], data_dir=data_dir)
    model = start_model(resume, resumed, settings, data, device)
    optimizer = make_optimizer(model, lr=settings["lr"], momentum=settings["momentum"])
    train_loader, test_loader = make_loaders(
        data, batch_size=settings["batch_size"], fast=settings["loader"] == "fast", device=device, seed=seed
    )
    history = restore(resume, resumed, optimizer, train_loader) if resumed else History()
    saver = CheckpointSaver(out, model=model, optimizer=optimizer, loader=train_loader, settings=settings)
    epochs_before = history.epochs
    started = time.perf_counter()
    history = fit(model, train_loader, test_loader, num_epochs=num_epochs, optimizer=optimizer, device=device,
                  history=history, progress=progress, callbacks=[saver], train_epoch=train_epoch)  # fmt: skip
    if history.interrupted:
        return {"interrupted": True, "epochs": saver.saved_epochs(history)}
    recorded = {**settings, "seed": seed, "device": str(device)}
    return finish(out, saver, history, epochs_before, (model, data, test_loader), recorded, started=started)


def finish(out: Path, saver, history: History, epochs_before: int, trained, recorded, *, started: float) -> dict:
    """The end of a finished run: the accuracy line, then metrics.json and the figures beside model.pt."""
    model, data, test_loader = trained
    if history.epochs == epochs_before:  # resumed a run that had already reached num_epochs
        saver(history)
    print(f"Test Accuracy: {100 * history.test_accuracy[-1]:.2f}%")
    metrics = make_metrics(data, history, recorded, seconds=time.perf_counter() - started)
    device = next(model.parameters()).device
    write_outputs(out, metrics, history, prediction_figure(model, data, test_loader, device=device))
    return metrics


def check_same_source(path: str | os.PathLike, stored: str | None, found: str) -> None:
    """Refuse to resume on other data than the checkpoint was trained on (e.g. `source="auto"` found the sample)."""
    if stored in ("sample", "full") and found != stored:
        raise ConfigError(
            f"{path} was trained on the {stored} data, but this run found the {found} data: pass `source={stored}`"
        )


class CheckpointSaver:
    """A fit() callback that rewrites model.pt after every epoch and remembers how many epochs it holds.

    Its first save replaces the previous run's outputs: from then on, this run has a model to show.
    """

    def __init__(self, out: Path, *, model: NeuralNetwork, optimizer: torch.optim.Optimizer, loader, settings) -> None:
        self.out, self.model, self.optimizer, self.loader, self.settings = out, model, optimizer, loader, settings
        self.epochs: int | None = None
        self.attempted = False

    def __call__(self, history: History) -> None:
        if not self.attempted:
            clear_previous(self.out)
        self.attempted = True
        save_checkpoint(
            self.out / "model.pt",
            model=self.model,
            dataset=self.settings["dataset"],
            history=history.to_dict(),
            optimizer=self.optimizer,
            shuffle_state=self.loader.generator.get_state() if self.loader is not None else None,
            settings=self.settings,
        )
        self.epochs = history.epochs

    def saved_epochs(self, history: History) -> int | None:
        """Epochs in model.pt after an interruption (which may strike after a save's rename, before it returns)."""
        if not self.attempted:
            return None
        try:
            stored = load_checkpoint(self.out / "model.pt")["history"]["train_loss"]
        except (CheckpointError, KeyError, TypeError):
            return self.epochs
        return len(stored) if stored and stored == history.train_loss[: len(stored)] else self.epochs
