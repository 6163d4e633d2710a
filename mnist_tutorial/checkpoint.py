"""Saving and loading trained models: atomic writes, safe loads, and checks with clear messages."""

import io
import itertools
import os
import pickle
import re
import reprlib
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from .defaults import MAX_HIDDEN, NORMALIZE_MEAN, NORMALIZE_STD
from .errors import CheckpointError, ConfigError, OutputError
from .files import a_kind, kind_of, path_argument, write_bytes_atomic, write_failure
from .history import History
from .model import NeuralNetwork

FORMAT = "mnist-tutorial/1"
RETRAIN = "delete it and train again"
# The prefixes wrappers add to state_dict names: DataParallel and DDP's `module.`, torch.compile's `_orig_mod.`.
WRAPPER_PREFIXES = re.compile(r"(?:module\.|_orig_mod\.)*")
WRAPPERS = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
# Stored layer sizes above the course's own largest are refused before any network is built.
MAX_STORED_SIZE = MAX_HIDDEN
MAX_HISTORY = 100_000  # epochs of history a checkpoint may hold: far beyond any run, far below any memory limit
# What any check may walk in a loaded checkpoint, a shared value counted each time it recurs: the course nests 4 deep
# (optimizer_state, state, 0, momentum_buffer) and writes at most 4 x MAX_HISTORY values.
MAX_DEPTH = 16
MAX_VALUES = 1_000_000
MAX_TEXT = 200  # characters in a dataset name or a setting
UNREADABLE = "is not a readable checkpoint (truncated, or not a PyTorch file)"
LEGACY_MAGIC = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)[2:-1]  # opens torch.save's older format
PARAMETERS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias")  # as model.parameters()


SHORT = reprlib.Repr()
SHORT.maxstring = SHORT.maxother = 40


def short(value: Any) -> str:
    """`value`'s repr cut to a few dozen characters, however large or deep it is: for messages."""
    return SHORT.repr(value)


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: NeuralNetwork,
    dataset: str,
    history: dict[str, list[float]] | History,
    optimizer: torch.optim.Optimizer | None = None,
    shuffle_state: torch.Tensor | None = None,
    settings: dict[str, Any] | None = None,
) -> None:
    """Write everything needed to rebuild, check and resume the run, atomically (fsync, then rename).

    `settings` records how the run was made (source, batch_size, loader, lr, momentum), so that resuming can
    refuse different ones. Until the rename, any earlier checkpoint at `path` stays whole, whatever happens to
    this process; of several processes saving to one `path`, the last to finish wins.
    """
    path, network, history = path_argument("path", path), network_argument(model), history_argument(history)
    state = {
        "format": FORMAT,
        "sizes": network.sizes,
        "model_state": {name: t.detach().cpu() for name, t in network.state_dict().items()},
        "dataset": dataset,
        "normalization": {"mean": NORMALIZE_MEAN, "std": NORMALIZE_STD},
        "settings": dict(settings or {}),
        "epoch": len(history.get("train_loss", [])),
        "history": history,
        "optimizer_state": optimizer.state_dict() if optimizer else None,
        "shuffle_state": shuffle_state,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)  # in memory first: a failed write then reports the OS's reason, not torch's
    try:
        write_bytes_atomic(path, buffer.getvalue())
    except OutputError:  # a link or FIFO planted at `path`, refused in its own words
        raise
    except OSError as error:
        raise CheckpointError(f"cannot write checkpoint {path}: {write_failure(error)}") from None


def network_argument(model: Any) -> NeuralNetwork:
    """The lesson's network in `model`, out of DataParallel, DDP or torch.compile (in any nesting); else refused."""
    while isinstance(model, WRAPPERS) or isinstance(getattr(model, "_orig_mod", None), torch.nn.Module):
        model = model.module if isinstance(model, WRAPPERS) else model._orig_mod
    if not isinstance(model, NeuralNetwork):
        raise ConfigError(f"`model` is {a_kind(model)}, not the lesson's network: pass a mnist_tutorial.NeuralNetwork")
    return model


def history_argument(history: Any) -> dict[str, list[float]]:
    """`history` as a checkpoint stores it: a History as its dict, or a dict of equal-length lists of numbers."""
    if isinstance(history, History):
        history = history.to_dict()
    fault = history_fault(history)
    if fault:
        raise ConfigError(f"`history` {fault}: pass the History that fit returned, or its to_dict()")
    return history


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint with weights_only=True (no code runs) and check that it is one of ours.

    Accepted too: a bare state_dict of the lesson's network (torch.save(model.state_dict(), path)), and 03's
    torch.save of {"model": ..., "optimizer": ..., "epoch": ..., "settings": ..., "verdict": ...}.
    """
    path = path_argument("path", path)
    state = _load_weights_only(path)
    check_bounds(path, state)
    if isinstance(state, dict) and any(name.endswith("fc1.weight") for name in state if isinstance(name, str)):
        weights = without_wrappers(state)
        state = {"format": FORMAT, "sizes": sizes_from_state(path, weights), "model_state": weights}
    elif isinstance(state, dict) and "format" not in state and isinstance(state.get("model"), dict):
        state = from_lesson_save(path, state)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a mnist-tutorial checkpoint: pass a model.pt that the course "
            "wrote, or a state_dict saved with torch.save(model.state_dict(), path)"
        )
    if isinstance(state.get("model_state"), dict):
        state["model_state"] = without_wrappers(state["model_state"])
    check_normalization(path, state)
    check_sizes(path, state)
    check_history(path, state.get("history"))
    check_training_state(path, state)
    check_optimizer(path, state)
    return state


END = object()


def from_lesson_save(path: Path, saved: dict[str, Any]) -> dict[str, Any]:
    """03's own torch.save (state_dicts under "model" and "optimizer") in the course's form, for the same checks."""
    settings, verdict = saved.get("settings", {}), saved.get("verdict")
    if not isinstance(settings, dict) or not (verdict is None or (type(verdict) is str and len(verdict) <= 1000)):
        raise CheckpointError(f"{path} holds settings or a verdict of a kind 03 never writes: {RETRAIN}")
    weights = without_wrappers(saved["model"])
    return {
        "format": FORMAT,
        "sizes": sizes_from_state(path, weights),
        "model_state": weights,
        "optimizer_state": saved.get("optimizer"),
        "epoch": saved.get("epoch", 0),
        "settings": {name: value for name, value in settings.items() if name != "dataset"},
        "dataset": settings.get("dataset", "mnist"),
        "verdict": verdict,
        # the accuracy 03 measured at the end, where the course's own runs keep one per epoch
        "history": {"test_accuracy": [saved["test_accuracy"]]} if "test_accuracy" in saved else None,
    }


def values_within(value: Any, budget: int) -> int:
    """`budget` less every value in `value`, a shared one counted each time it recurs; negative past it or MAX_DEPTH."""
    stack = [iter((value,))]
    while stack:
        item = next(stack[-1], END)
        if item is END:
            stack.pop()
            continue
        budget -= 1
        if isinstance(item, dict):
            size, inside = 2 * len(item), itertools.chain(item.keys(), item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            size, inside = len(item), iter(item)
        else:
            continue
        if size > budget or len(stack) >= MAX_DEPTH:
            return -1
        stack.append(inside)
    return budget


def check_bounds(path: Path, state: Any) -> None:
    """Refuse structures deeper or larger than the course writes, before any check walks them."""
    budget = MAX_VALUES  # shared by all entries: a crafted file's shared lists must not multiply the work unnoticed
    for key, value in state.items() if isinstance(state, dict) and len(state) < MAX_VALUES else [(None, state)]:
        budget = values_within((key, value), budget)
        if budget >= 0:
            continue
        if key == "history":
            what = f"a training history that is not lists of numbers, or of more than {MAX_VALUES:,} in all"
        else:
            what = f"a {short(key)} entry nested over {MAX_DEPTH} deep or of more than {MAX_VALUES:,} values in all"
        raise CheckpointError(f"{path} holds {what}, which the course never writes (a crafted file?): {RETRAIN}")


def plain(value: Any) -> bool:
    """A setting as the course writes them: a short string, a number, a bool or None."""
    return len(value) <= MAX_TEXT if type(value) is str else type(value) in (int, float, bool, type(None))


def check_training_state(path: Path, state: dict[str, Any]) -> None:
    """The epoch is a whole number, the dataset a name and the settings a flat mapping of plain values."""
    epoch, settings, dataset = state.get("epoch", 0), state.get("settings", {}), state.get("dataset", "mnist")
    fits = type(epoch) is int and 0 <= epoch <= MAX_HISTORY
    fits = fits and isinstance(settings, dict) and all(plain(v) for v in settings.values())
    fits = fits and all(type(name) is str and plain(name) for name in settings)
    if not fits:
        raise CheckpointError(
            f"{path} holds an epoch count or settings of a kind the course never writes (epoch {short(epoch)}, "
            f"settings {type(settings).__name__}): {RETRAIN}"
        )
    if type(dataset) is not str or not plain(dataset):
        raise CheckpointError(f"{path} names its dataset {short(dataset)}, which the course never writes: {RETRAIN}")


def history_fault(history: Any) -> str | None:
    """What is wrong with a training history, if anything: it maps names to equal-length lists of numbers."""
    fits = isinstance(history, dict) and all(isinstance(name, str) for name in history)
    fits = fits and all(isinstance(values, list) and len(values) <= MAX_HISTORY for values in history.values())
    if not fits or not all(type(v) in (int, float) for values in history.values() for v in values):
        return "is not lists of numbers"
    lengths = {name: len(values) for name, values in history.items()}
    if len(set(lengths.values())) > 1:
        return f"has lists of different lengths ({short(lengths)})"
    return None


def check_history(path: Path, history: Any) -> None:
    """A history is a dict of equal-length flat lists of numbers: anything else is refused."""
    fault = history is not None and history_fault(history)
    if fault:
        raise CheckpointError(
            f"{path} holds a training history that {fault}, which the course never writes (a crafted file?): {RETRAIN}"
        )


def without_wrappers(model_state: dict[str, Any]) -> dict[str, Any]:
    """A state_dict with the prefixes that wrappers add removed (DataParallel's, DDP's, torch.compile's)."""
    return {
        name[WRAPPER_PREFIXES.match(name).end() :] if isinstance(name, str) else name: tensor
        for name, tensor in model_state.items()
    }


def check_normalization(path: Path, state: dict[str, Any]) -> None:
    """Refuse a network trained on inputs normalised differently from the course's (its predictions would be off)."""
    stored = state.get("normalization")
    ours = {"mean": NORMALIZE_MEAN, "std": NORMALIZE_STD}
    if stored is not None and stored != ours:
        raise CheckpointError(
            f"{path} was trained on inputs normalised with {short(stored)}, not the course's {ours}: its predictions "
            "here would be wrong; train it again with the course's normalisation"
        )


def expected_shapes(sizes: Any) -> dict[str, tuple[int, ...]]:
    """The shape of each of the lesson network's tensors, in model.parameters() order, for its stored `sizes`."""
    hidden1, hidden2, classes = (sizes[key] for key in ("hidden1", "hidden2", "num_classes"))
    shapes = [(hidden1, 784), (hidden1,), (hidden2, hidden1), (hidden2,), (classes, hidden2), (classes,)]
    return dict(zip(PARAMETERS, shapes, strict=True))


def check_sizes(path: Path, state: dict[str, Any]) -> None:
    """Check the stored layer sizes against a sane cap and against the stored tensors, before any network is built."""
    sizes, weights = state.get("sizes"), state["model_state"]
    try:
        expected = expected_shapes(sizes)
        fits = all(type(n) is int and 1 <= n <= MAX_STORED_SIZE for n in sizes.values()) and len(sizes) == 3
        fits = fits and weights.keys() == expected.keys()
        fits = fits and all(tuple(weights[name].shape) == shape for name, shape in expected.items())
        fits = fits and all(holds_its_data(weights[name]) for name in expected)
    except (TypeError, KeyError, AttributeError):
        fits = False
    if not fits:
        raise CheckpointError(
            f"{path} holds weights of another shape than the lesson's network (its stored sizes {short(sizes)} do "
            f"not match its tensors, or exceed {MAX_STORED_SIZE}): {RETRAIN}"
        )


def check_optimizer(path: Path, state: dict[str, Any]) -> None:
    """Refuse momentum buffers that are not their parameters' shape, or stride-0 views, and non-numeric settings."""
    stored = state.get("optimizer_state")
    if stored is None:
        return
    shapes = list(expected_shapes(state["sizes"]).values())
    try:
        groups = stored["param_groups"]
        indices = [index for group in groups for index in group["params"]]
        buffers = {index: entry.get("momentum_buffer") for index, entry in stored["state"].items()}
        fits = indices == list(range(len(shapes))) and set(buffers) <= set(indices)
        fits = fits and all(fits_momentum(buffers.get(index), shape) for index, shape in enumerate(shapes))
        fits = fits and all(plain(v) and type(v) is not str for g in groups for k, v in g.items() if k != "params")
    except (TypeError, KeyError, AttributeError, RuntimeError):
        fits = False
    if not fits:
        raise CheckpointError(
            f"{path} holds an optimizer state that does not fit its network (a momentum buffer of another shape, or "
            f"a stride-0 view), which the course never writes: {RETRAIN}"
        )


def fits_momentum(buffer: Any, shape: tuple[int, ...]) -> bool:
    """Whether a stored momentum buffer is absent, or a tensor of `shape` backed by all its values."""
    return buffer is None or (holds_its_data(buffer) and tuple(buffer.shape) == shape)


def holds_its_data(tensor: Any) -> bool:
    """Whether a loaded tensor is backed by as many values as it shows (not a stride-0 view of a few)."""
    if not isinstance(tensor, torch.Tensor) or tensor.layout != torch.strided:
        return False
    return tensor.untyped_storage().nbytes() >= tensor.numel() * tensor.element_size()


def torch_zip(head: bytes) -> bool:
    """Whether a file's first bytes are a zip's whose first entry is `<folder>/data.pkl`, as torch.save writes."""
    if not head.startswith(b"PK\x03\x04") or len(head) < 30:
        return False
    name = head[30 : 30 + int.from_bytes(head[26:28], "little")]
    return name == b"data.pkl" or name.endswith(b"/data.pkl")


def check_archive(path: Path) -> None:
    """Refuse a file that is no torch.save file at all, and one that would unpack to more than its size on disk."""
    with open(path, "rb") as file:
        head = file.read(4096)
    if head[:1] == b"\x80" and LEGACY_MAGIC in head[:32]:
        return  # torch.save's older format: torch.load says what is wrong with it, if anything
    if not torch_zip(head):  # not the course's: say so, and never advise deleting it
        what = "a zip, but not torch.save's" if head[:2] == b"PK" else "not a PyTorch file" if head else "an empty file"
        raise CheckpointError(f"{path} is not a checkpoint of this course ({what}): pass the model.pt training wrote")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile:
        return  # a torch.save archive cut short: torch.load says so
    # torch.save never compresses: a compressed entry is crafted, to unpack to far more than the file's size
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
    try:
        check_archive(path)
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
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
