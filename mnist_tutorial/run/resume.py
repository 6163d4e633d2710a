"""Starting a run afresh or where a checkpoint left it, and stopping one with the epochs it leaves to resume from."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import model_from_checkpoint
from ..data import Data
from ..errors import CheckpointError, ConfigError
from ..history import History
from ..model import NeuralNetwork
from .config import RunConfig
from .evaluation import check_classes
from .outputs import CheckpointSaver


def start_model(config: RunConfig, state: dict[str, Any] | None, data: Data) -> NeuralNetwork:
    """The network to train: fresh at the run's sizes, or the checkpoint's once it is shown to fit this data."""
    if state is None:
        return NeuralNetwork(hidden1=config.hidden1, hidden2=config.hidden2)
    model = model_from_checkpoint(config.resume, state)
    check_classes(config.resume, model, config.dataset)
    check_same_source(config.resume, config.source, data.source.kind)
    return model


def check_same_source(path: Path, stored: str | None, found: str) -> None:
    """Refuse to resume on other data than the checkpoint was trained on (e.g. `source="auto"` found the sample)."""
    if stored in ("sample", "full") and found != stored:
        raise ConfigError(
            f"{path} was trained on the {stored} data, but this run found the {found} data: pass `source={stored}`"
        )


def check_momentum(optimizer: torch.optim.Optimizer) -> None:
    """Each momentum buffer has its parameter's shape (load_state_dict does not look; the first step would fail)."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            buffer = optimizer.state.get(parameter, {}).get("momentum_buffer")
            if buffer is not None and (not isinstance(buffer, torch.Tensor) or buffer.shape != parameter.shape):
                raise ValueError(f"a momentum buffer does not fit a parameter of shape {tuple(parameter.shape)}")


def restore(
    path: Path, state: dict[str, Any], optimizer: torch.optim.Optimizer, loader, *, lr: float, momentum: float
) -> History:
    """Put the optimizer (at the run's `lr` and `momentum`) and the shuffling back where the checkpoint left them;
    returns its history. loader: the one whose generator continues, or None (data-parallel runs shard by epoch)."""
    try:
        history = History.from_dict(state["history"])
        if state.get("optimizer_state"):
            optimizer.load_state_dict(state["optimizer_state"])
            check_momentum(optimizer)
        for group in optimizer.param_groups:
            group.update(lr=lr, momentum=momentum)
        if loader is not None and state.get("shuffle_state") is not None:
            loader.generator.set_state(state["shuffle_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"{path} holds a training state that does not fit this run ({error}): train without `resume`"
        ) from None
    print(f"Resuming from {path} after epoch {history.epochs}")
    return history


def saving(saver: CheckpointSaver) -> Callable[[History], None]:
    """A run's fit() callback: `saver`, and after an interrupted save the history cut back to what model.pt holds
    (so that fit's "Interrupted: ... N complete epoch(s)" and the run's count agree)."""

    def save(history: History) -> None:
        try:
            saver(history)
        except KeyboardInterrupt:
            kept = saver.saved_epochs(history) or 0
            for values in (history.train_loss, history.test_loss, history.test_accuracy, history.seconds):
                del values[kept:]
            raise

    return save


def stopped(saver: CheckpointSaver, history: History) -> dict[str, Any]:
    """What an interrupted run returns: how many epochs model.pt holds (None: this run saved none)."""
    return {"interrupted": True, "epochs": saver.saved_epochs(history)}
