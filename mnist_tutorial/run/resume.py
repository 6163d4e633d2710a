"""Starting a run: a fresh network, or the checkpoint's network, optimizer and shuffling where it left them."""

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


def start_model(config: RunConfig, state: dict[str, Any] | None, data: Data) -> NeuralNetwork:
    """The network to train, fresh or from the checkpoint, after checking that the checkpoint fits this data."""
    if state is None:
        return NeuralNetwork()
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


def restore(path: Path, state: dict[str, Any], optimizer: torch.optim.Optimizer, loader) -> History:
    """Put the optimizer and the shuffling back where the checkpoint left them; returns its history.

    loader: the training loader whose generator the checkpoint's shuffle state continues, or None (data-parallel
    runs shard by epoch number, so a single-process checkpoint's shuffle state is moot there).
    """
    try:
        history = History.from_dict(state["history"])
        if state.get("optimizer_state"):
            optimizer.load_state_dict(state["optimizer_state"])
            check_momentum(optimizer)
        if loader is not None and state.get("shuffle_state") is not None:
            loader.generator.set_state(state["shuffle_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"{path} holds a training state that does not fit this run ({error}): train without `resume`"
        ) from None
    print(f"Resuming from {path} after epoch {history.epochs}")
    return history
