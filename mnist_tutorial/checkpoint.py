"""Saving and loading trained models: atomic writes, safe loads, and checks with clear messages."""

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .defaults import NORMALIZE_MEAN, NORMALIZE_STD
from .errors import CheckpointError
from .files import atomic_path
from .model import NeuralNetwork

FORMAT = "mnist-tutorial/1"


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: NeuralNetwork,
    dataset: str,
    history: dict[str, list[float]],
    optimizer: torch.optim.Optimizer | None = None,
    shuffle_state: torch.Tensor | None = None,
) -> None:
    """Write everything needed to rebuild, check and resume the run, atomically (fsync, then rename)."""
    state = {
        "format": FORMAT,
        "sizes": model.sizes,
        "model_state": {name: t.detach().cpu() for name, t in model.state_dict().items()},
        "dataset": dataset,
        "normalization": {"mean": NORMALIZE_MEAN, "std": NORMALIZE_STD},
        "epoch": len(history["train_loss"]),
        "history": history,
        "optimizer_state": optimizer.state_dict() if optimizer else None,
        "shuffle_state": shuffle_state,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with weights_only=True (no code runs) and check that it is one of ours.

    A bare state_dict of the lesson's network (torch.save(model.state_dict(), path)) is accepted too.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist: train one first with `mnist-tutorial train --out DIR`"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError):
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated, or not a PyTorch file): delete it and train again"
        ) from None
    if isinstance(state, dict) and "fc1.weight" in state:
        state = {"format": FORMAT, "sizes": sizes_from_state(path, state), "model_state": state}
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a mnist-tutorial checkpoint: train one first")
    return state


def sizes_from_state(path: Path, model_state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Layer sizes read off the weight shapes of a bare state_dict."""
    try:
        shapes = {name: tuple(model_state[f"{name}.weight"].shape) for name in ("fc1", "fc2", "fc3")}
    except (KeyError, AttributeError):
        raise CheckpointError(f"{path} is not a state_dict of the lesson's network (fc1, fc2, fc3)") from None
    return {"hidden1": shapes["fc1"][0], "hidden2": shapes["fc2"][0], "num_classes": shapes["fc3"][0]}


def model_from_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> NeuralNetwork:
    """Rebuild the network the checkpoint describes and load its weights, or say why they do not fit."""
    try:
        model = NeuralNetwork(**state["sizes"])
        model.load_state_dict(state["model_state"])
    except (KeyError, TypeError, RuntimeError) as error:
        detail = str(error).strip().splitlines()[-1].strip()
        raise CheckpointError(
            f"{path} holds a network of another shape than it declares ({detail}): delete it and train again"
        ) from None
    return model


def load_model(path: str | os.PathLike) -> NeuralNetwork:
    """The trained NeuralNetwork stored at `path`, on the CPU, in eval mode."""
    model = model_from_checkpoint(path, load_checkpoint(path))
    return model.eval()
