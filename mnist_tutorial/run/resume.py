"""A whole run's steps around fit, on one process or each of several: start afresh or where a checkpoint left
off, save model.pt every epoch, and end with the outputs, or with the epochs saved when interrupted."""

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import model_from_checkpoint
from ..data import Data
from ..errors import CheckpointError, ConfigError
from ..history import History
from ..model import NeuralNetwork
from ..parallel.ddp import ShardedRun
from .config import RunConfig
from .evaluation import check_classes
from .outputs import CheckpointSaver, finish


def check_same_source(path: Path, stored: str | None, found: str) -> None:
    """Refuse to resume on other data than the checkpoint was trained on (e.g. `source="auto"` found the sample)."""
    if stored in ("sample", "full") and found != stored:
        raise ConfigError(
            f"{path} was trained on the {stored} data, but this run found the {found} data: pass `source={stored}`"
        )


class WholeRun(ShardedRun):
    """The hooks of ShardedRun (parallel/ddp.py) for a settled run (`state`: the checkpoint it resumes, or None).

    loader: the single-process run's training loader, whose shuffle state is restored and saved (None: shards).
    """

    def __init__(self, config: RunConfig, state: dict[str, Any] | None, loader=None) -> None:
        shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(ShardedRun) if hasattr(config, f.name)}
        super().__init__(**shared, silent=False)
        self.config, self.state, self.loader = config, state, loader

    def start(self, data: Data) -> NeuralNetwork:
        """The network to train: fresh at the run's sizes, or the checkpoint's once it is shown to fit this data."""
        config, self.config = self.config, dataclasses.replace(self.config, source=data.source.kind)  # as recorded
        if self.state is None:
            return NeuralNetwork(hidden1=config.hidden1, hidden2=config.hidden2)
        model = model_from_checkpoint(config.resume, self.state)
        check_classes(config.resume, model, config.dataset)
        check_same_source(config.resume, config.source, data.source.kind)
        return model

    def resume(self, optimizer: torch.optim.Optimizer) -> History:
        """The checkpoint's history, its optimizer (at the run's lr and momentum) and shuffling put back; or none."""
        path, state = self.config.resume, self.state
        if state is None:
            return History()
        try:
            history = History.from_dict(state["history"])
            if state.get("optimizer_state"):
                optimizer.load_state_dict(state["optimizer_state"])  # load_checkpoint checked its shapes
            for group in optimizer.param_groups:
                group.update(lr=self.lr, momentum=self.momentum)
            if self.loader is not None and state.get("shuffle_state") is not None:
                self.loader.generator.set_state(state["shuffle_state"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"{path} holds a training state that does not fit this run ({error}): train without `resume`"
            ) from None
        print(f"Resuming from {path} after epoch {history.epochs}")
        return history

    def callbacks(self, rank: int, model: NeuralNetwork, optimizer: torch.optim.Optimizer) -> list:
        self.saver = CheckpointSaver(self.config, model=model, optimizer=optimizer, loader=self.loader)
        return [self.save] if rank == 0 else []

    def save(self, history: History) -> None:
        """fit's callback: model.pt, and after an interrupted save the history cut back to what model.pt holds
        (so that fit's "Interrupted: ... N complete epoch(s)" and the run's count agree)."""
        try:
            self.saver(history)
        except KeyboardInterrupt:
            kept = self.saver.saved_epochs(history) or 0
            for values in (history.train_loss, history.test_loss, history.test_accuracy, history.seconds):
                del values[kept:]
            raise

    def report(self, rank: int, model: NeuralNetwork, history: History, *, train_loader, **done: Any) -> Any:
        """Rank 0: the metrics of a finished run (`done`: finish's keywords), or the epochs an interrupted one saved."""
        if rank != 0:
            return None
        return self.stopped(history) if history.interrupted else finish(self.saver, history, **done)

    def stopped(self, history: History) -> dict[str, Any]:
        """What an interrupted run returns: how many epochs model.pt holds (None: this run saved none)."""
        return {"interrupted": True, "epochs": self.saver.saved_epochs(history)}
