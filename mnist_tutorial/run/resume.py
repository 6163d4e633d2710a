"""Resuming a run: the settings follow the checkpoint unless given, and a different one is refused."""

import os
from typing import Any

import torch

from .. import defaults
from ..errors import CheckpointError, ConfigError
from ..history import History

# What a run is made with, and the lesson's value where neither the caller nor a checkpoint says.
LESSON_SETTINGS = {
    "dataset": "mnist",
    "source": None,  # None: $MNIST_TUTORIAL_SOURCE, else auto (sources.resolve_source decides)
    "batch_size": defaults.BATCH_SIZE,
    "loader": "fast",
    "lr": defaults.LR,
    "momentum": defaults.MOMENTUM,
}


def stored_settings(state: dict[str, Any]) -> dict[str, Any]:
    """The settings a checkpoint was trained with (older checkpoints record only the dataset)."""
    return {"dataset": state.get("dataset", "mnist"), **state.get("settings", {})}


def settle(requested: dict[str, Any], stored: dict[str, Any] | None, path: str | os.PathLike | None) -> dict[str, Any]:
    """The settings to run with: each as requested, else the checkpoint's, else the lesson's.

    A requested value that differs from the checkpoint's is refused, naming both: a resumed run must go on
    as it began, or its second half would be another experiment.
    """
    settled = {}
    for name, lesson in LESSON_SETTINGS.items():
        value, before = requested.get(name), (stored or {}).get(name)
        if value is not None and before is not None and value != before:
            raise ConfigError(
                f"`{name}={value}` differs from `{name}={before}`, which {path} was trained with: leave it out to "
                f"continue with {before}, or train afresh without `resume`"
            )
        settled[name] = value if value is not None else before if before is not None else lesson
    return settled


def check_resumable(path: str | os.PathLike, state: dict[str, Any], *, num_epochs: int) -> None:
    """Refuse a checkpoint that cannot continue this run: weights only, or already past `num_epochs`."""
    if "history" not in state:
        raise CheckpointError(
            f"{path} holds weights only, without the training state needed to resume: train without `resume`"
        )
    if state["epoch"] > num_epochs:
        raise ConfigError(
            f"{path} has already trained {state['epoch']} epochs, more than `num_epochs={num_epochs}`: "
            f"pass `num_epochs={state['epoch']}` or more"
        )


def restore(path: str | os.PathLike, state: dict[str, Any], optimizer: torch.optim.Optimizer, loader) -> History:
    """Put the optimizer and the shuffling back where the checkpoint left them; returns its history."""
    try:
        history = History.from_dict(state["history"])
        if state.get("optimizer_state"):
            optimizer.load_state_dict(state["optimizer_state"])
        if state.get("shuffle_state") is not None:
            loader.generator.set_state(state["shuffle_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"{path} holds a training state that does not fit this run ({error}): train without `resume`"
        ) from None
    print(f"Resuming from {path} after epoch {history.epochs}")
    return history
