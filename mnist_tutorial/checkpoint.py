"""Saving and loading trained models: atomic writes, safe loads, and checks with clear messages."""

import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from .defaults import MAX_HIDDEN, NORMALIZE_MEAN, NORMALIZE_STD
from .errors import CheckpointError
from .files import kind_of, path_argument, remove_stale_temporaries, write_bytes_atomic, write_failure
from .model import NeuralNetwork

FORMAT = "mnist-tutorial/1"
RETRAIN = "delete it and train again"
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Stored layer sizes above the course's own largest are refused before any network is built.
MAX_STORED_SIZE = MAX_HIDDEN
MAX_HISTORY = 100_000  # epochs of history a checkpoint may hold: far beyond any run, far below any memory limit
UNREADABLE = "is not a readable checkpoint (truncated, or not a PyTorch file)"


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: NeuralNetwork,
    dataset: str,
    history: dict[str, list[float]],
    optimizer: torch.optim.Optimizer | None = None,
    shuffle_state: torch.Tensor | None = None,
    settings: dict[str, Any] | None = None,
) -> None:
    """Write everything needed to rebuild, check and resume the run, atomically (fsync, then rename).

    `settings` records how the run was made (source, batch_size, loader, lr, momentum), so that resuming can
    refuse different ones. Until the rename, any earlier checkpoint at `path` stays whole, whatever happens to
    this process; temporary files an interrupted save left behind are removed first.
    """
    state = {
        "format": FORMAT,
        "sizes": model.sizes,
        "model_state": {name: t.detach().cpu() for name, t in model.state_dict().items()},
        "dataset": dataset,
        "normalization": {"mean": NORMALIZE_MEAN, "std": NORMALIZE_STD},
        "settings": dict(settings or {}),
        "epoch": len(history["train_loss"]),
        "history": history,
        "optimizer_state": optimizer.state_dict() if optimizer else None,
        "shuffle_state": shuffle_state,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)  # in memory first: a failed write then reports the OS's reason, not torch's
    remove_stale_temporaries(path)
    try:
        write_bytes_atomic(path, buffer.getvalue())
    except OSError as error:
        raise CheckpointError(f"cannot write checkpoint {path}: {write_failure(error)}") from None


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with weights_only=True (no code runs) and check that it is one of ours.

    A bare state_dict of the lesson's network (torch.save(model.state_dict(), path)) is accepted too.
    """
    path = path_argument("path", path)
    state = _load_weights_only(path)
    if isinstance(state, dict) and any(name.endswith("fc1.weight") for name in state if isinstance(name, str)):
        weights = without_wrappers(state)
        state = {"format": FORMAT, "sizes": sizes_from_state(path, weights), "model_state": weights}
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a mnist-tutorial checkpoint: pass a model.pt that the course "
            "wrote, or a state_dict saved with torch.save(model.state_dict(), path)"
        )
    state["model_state"] = without_wrappers(state.get("model_state") or {})
    check_normalization(path, state)
    check_sizes(path, state)
    check_history(path, state.get("history"))
    check_training_state(path, state)
    return state


PLAIN = (str, int, float, bool, type(None))


def check_training_state(path: Path, state: dict[str, Any]) -> None:
    """The epoch is a whole number and the settings a flat mapping of plain values, as save_checkpoint writes them."""
    epoch, settings = state.get("epoch", 0), state.get("settings", {})
    fits = type(epoch) is int and 0 <= epoch <= MAX_HISTORY
    fits = fits and isinstance(settings, dict) and all(type(v) in PLAIN for v in settings.values())
    fits = fits and all(isinstance(name, str) for name in settings)
    if not fits:
        raise CheckpointError(
            f"{path} holds an epoch count or settings of a kind the course never writes (epoch {epoch!r:.40}, "
            f"settings {type(settings).__name__}): {RETRAIN}"
        )


def check_history(path: Path, history: Any) -> None:
    """A history is a dict of flat lists of numbers: anything else (nested, shared, endless lists) is refused."""
    if history is None:
        return
    fits = isinstance(history, dict) and all(isinstance(name, str) for name in history)
    fits = fits and all(isinstance(values, list) and len(values) <= MAX_HISTORY for values in history.values())
    fits = fits and all(type(v) in (int, float) for values in history.values() for v in values)
    if not fits:
        raise CheckpointError(
            f"{path} holds a training history that is not lists of numbers, which the course never writes "
            f"(a crafted file?): {RETRAIN}"
        )


def without_wrappers(model_state: dict[str, Any]) -> dict[str, Any]:
    """A state_dict with the prefixes that wrappers add removed: DataParallel and DDP's `module.`,
    torch.compile's `_orig_mod.`, in any nesting."""
    cleaned = {}
    for name, tensor in model_state.items():
        while isinstance(name, str) and name.startswith(WRAPPER_PREFIXES):
            name = name.split(".", 1)[1]
        cleaned[name] = tensor
    return cleaned


def check_normalization(path: Path, state: dict[str, Any]) -> None:
    """Refuse a network trained on inputs normalised differently from the course's (its predictions would be off)."""
    stored = state.get("normalization")
    ours = {"mean": NORMALIZE_MEAN, "std": NORMALIZE_STD}
    if stored is not None and stored != ours:
        raise CheckpointError(
            f"{path} was trained on inputs normalised with {stored}, not the course's {ours}: its predictions "
            "here would be wrong; train it again with the course's normalisation"
        )


def check_sizes(path: Path, state: dict[str, Any]) -> None:
    """Check the stored layer sizes against a sane cap and against the stored tensors, before any network is built."""
    sizes, weights = state.get("sizes"), state["model_state"]
    try:
        hidden1, hidden2, classes = (sizes[key] for key in ("hidden1", "hidden2", "num_classes"))
        expected = {
            "fc1.weight": (hidden1, 784),
            "fc1.bias": (hidden1,),
            "fc2.weight": (hidden2, hidden1),
            "fc2.bias": (hidden2,),
            "fc3.weight": (classes, hidden2),
            "fc3.bias": (classes,),
        }
        fits = all(isinstance(n, int) and 1 <= n <= MAX_STORED_SIZE for n in (hidden1, hidden2, classes))
        fits = fits and weights.keys() == expected.keys()
        fits = fits and all(tuple(weights[name].shape) == shape for name, shape in expected.items())
        fits = fits and all(holds_its_data(weights[name]) for name in expected)
    except (TypeError, KeyError, AttributeError):
        fits = False
    if not fits:
        raise CheckpointError(
            f"{path} holds weights of another shape than the lesson's network (its stored sizes {sizes} do not "
            f"match its tensors, or exceed {MAX_STORED_SIZE}): {RETRAIN}"
        )


def holds_its_data(tensor: Any) -> bool:
    """Whether a loaded tensor is backed by as many values as it shows (not a stride-0 view of a few)."""
    if not isinstance(tensor, torch.Tensor) or tensor.layout != torch.strided:
        return False
    return tensor.untyped_storage().nbytes() >= tensor.numel() * tensor.element_size()


def check_archive(path: Path) -> None:
    """Refuse a zip checkpoint that would unpack to more than its size on disk: torch.save never compresses."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a zip (an old-style torch.save file): torch.load says what it is
    packed = [entry.filename for entry in entries if entry.compress_type != zipfile.ZIP_STORED]
    if packed or sum(entry.file_size for entry in entries) > path.stat().st_size:
        raise CheckpointError(
            f"{path} holds compressed entries, which torch.save never writes (a crafted file?): {RETRAIN}"
        )


def _load_weights_only(path: Path) -> Any:
    """torch.load(path, weights_only=True), with every way it can fail turned into a CheckpointError."""
    if path.is_dir():
        if (path / "model.pt").is_file():
            raise CheckpointError(f"checkpoint {path} is a folder, not a file: pass {path / 'model.pt'}")
        raise CheckpointError(f"checkpoint {path} is a folder, not a file: pass the model.pt that training wrote")
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist: check the path, or train a model first")
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} is {kind_of(path.resolve())}, not a file: pass the model.pt training wrote"
        )
    check_archive(path)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "unsupported global" not in str(error).lower():
            raise CheckpointError(f"{path} {UNREADABLE}: {RETRAIN}") from None
        raise CheckpointError(
            f"{path} holds Python objects besides weights, which are not loaded for safety (weights_only=True): "
            "save model.state_dict() rather than the model, or train again"
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


def describe(state: dict[str, Any]) -> str:
    """How a checkpoint's network was trained, in one line: epochs, layer sizes, data and settings."""
    sizes, settings = state.get("sizes") or {}, state.get("settings") or {}
    parts = [f"{state.get('epoch', 0)} epochs"]
    if "hidden1" in sizes:
        parts.append(f"layers 784-{sizes['hidden1']}-{sizes['hidden2']}-{sizes.get('num_classes', 10)}")
    for name, label in (("lr", "lr"), ("momentum", "momentum"), ("batch_size", "batch size")):
        if isinstance(settings.get(name), int | float):
            parts.append(f"{label} {settings[name]:g}")
    source = {"sample": "the embedded sample", "full": "full data"}.get(settings.get("source"), "")
    parts.append(f"on {state.get('dataset', 'mnist')}" + (f" ({source})" if source else ""))
    return ", ".join(parts)
