"""Saving and loading trained models: atomic writes, safe loads, and checks with clear messages."""

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from .defaults import NORMALIZE_MEAN, NORMALIZE_STD
from .errors import CheckpointError
from .files import atomic_path
from .model import NeuralNetwork

FORMAT = "mnist-tutorial/1"
RETRAIN = "delete it and train again with `mnist-tutorial train`"
UNREADABLE = "is not a readable checkpoint (truncated, or not a PyTorch file)"


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: NeuralNetwork,
    dataset: str,
    history: dict[str, list[float]],
    optimizer: torch.optim.Optimizer | None = None,
    shuffle_state: torch.Tensor | None = None,
) -> None:
    """Write everything needed to rebuild, check and resume the run, atomically (fsync, then rename).

    Until the rename, any earlier checkpoint at `path` stays whole, whatever happens to this process.
    """
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
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except (OSError, RuntimeError) as error:  # torch.save reports a full disk as a RuntimeError
        detail = getattr(error, "strerror", None) or str(error).strip().splitlines()[-1]
        raise CheckpointError(
            f"cannot write checkpoint {path} ({detail}): free some disk space or choose another --out"
        ) from None


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with weights_only=True (no code runs) and check that it is one of ours.

    A bare state_dict of the lesson's network (torch.save(model.state_dict(), path)) is accepted too.
    """
    path = Path(path)
    state = _load_weights_only(path)
    if isinstance(state, dict) and "fc1.weight" in state:
        state = {"format": FORMAT, "sizes": sizes_from_state(path, state), "model_state": state}
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a mnist-tutorial checkpoint: pass the model.pt that "
            "`mnist-tutorial train` wrote, or a state_dict saved with torch.save(model.state_dict(), path)"
        )
    return state


def _load_weights_only(path: Path) -> Any:
    """torch.load(path, weights_only=True), with every way it can fail turned into a CheckpointError."""
    if path.is_dir():
        if (path / "model.pt").is_file():
            raise CheckpointError(f"checkpoint {path} is a folder, not a file: pass {path / 'model.pt'}")
        raise CheckpointError(f"checkpoint {path} is a folder, not a file: pass the model.pt that training wrote")
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist: check the path, or train one with `mnist-tutorial train`"
        )
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "unsupported global" not in str(error).lower():
            raise CheckpointError(f"{path} {UNREADABLE}: {RETRAIN}") from None
        raise CheckpointError(
            f"{path} holds Python objects besides weights, which are not loaded for safety (weights_only=True): "
            "save model.state_dict() rather than the model, or train again with `mnist-tutorial train`"
        ) from None
    except PermissionError:
        raise CheckpointError(f"cannot read checkpoint {path} (permission denied): fix its permissions") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, IndexError, KeyError, TypeError):
        raise CheckpointError(f"{path} {UNREADABLE}: {RETRAIN}") from None


def sizes_from_state(path: Path, model_state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Layer sizes read off the weight shapes of a bare state_dict."""
    try:
        shapes = {name: tuple(model_state[f"{name}.weight"].shape) for name in ("fc1", "fc2", "fc3")}
    except (KeyError, AttributeError):
        raise CheckpointError(
            f"{path} is a state_dict, but not of the lesson's network (fc1, fc2, fc3): pass one saved from "
            "mnist_tutorial.NeuralNetwork"
        ) from None
    return {"hidden1": shapes["fc1"][0], "hidden2": shapes["fc2"][0], "num_classes": shapes["fc3"][0]}


def model_from_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> NeuralNetwork:
    """Rebuild the network the checkpoint describes and load its weights, or say why they do not fit."""
    try:
        model = NeuralNetwork(**state["sizes"])
        model.load_state_dict(state["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        detail = str(error).strip().splitlines()[-1].strip().rstrip(".")
        raise CheckpointError(
            f"{path} holds weights of another shape than the lesson's network ({detail}): {RETRAIN}"
        ) from None
    return model


def load_model(path: str | os.PathLike) -> NeuralNetwork:
    """The trained NeuralNetwork stored at `path`, on the CPU, in eval mode."""
    model = model_from_checkpoint(path, load_checkpoint(path))
    return model.eval()
