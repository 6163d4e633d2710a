"""Saving and loading trained models: atomic writes, bounded safe loads, and a one-line reason for every bad file."""

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
NORMALIZATION = {"mean": NORMALIZE_MEAN, "std": NORMALIZE_STD}
# The prefixes wrappers add to state_dict names: DataParallel and DDP's `module.`, torch.compile's `_orig_mod.`.
WRAPPER_PREFIXES = re.compile(r"\A(?:module\.|_orig_mod\.)+")
WRAPPERS = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
# What a loaded checkpoint may hold, far beyond what the course writes (it nests 4 deep: optimizer_state, state, 0,
# momentum_buffer; and at most 4 x MAX_HISTORY numbers), far below any memory limit. A shared value counts each time.
MAX_HISTORY = 100_000  # epochs
MAX_DEPTH = 16
MAX_VALUES = 1_000_000
MAX_TEXT = 200  # characters in a dataset name or a setting
LEGACY_MAGIC = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)[2:-1]  # opens torch.save's older format
SHORT = reprlib.Repr()
SHORT.maxstring = SHORT.maxother = 40
short = SHORT.repr  # a value's repr cut to a few dozen characters, however large or deep: for messages


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
    """Write what rebuilding, checking and resuming the run need, atomically: an earlier file stays whole until then.

    `settings` records how the run was made (source, batch_size, loader, lr, momentum): a resume refuses others.
    """
    path, network, history = path_argument("path", path), network_argument(model), history_argument(history)
    state = {
        "format": FORMAT,
        "sizes": network.sizes,
        "model_state": {name: t.detach().cpu() for name, t in network.state_dict().items()},
        "dataset": dataset,
        "normalization": NORMALIZATION,
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
    """Read a checkpoint with weights_only=True (no code runs) and check that the course wrote it.

    Accepted too: a bare state_dict of the lesson's network (torch.save(model.state_dict(), path)), and 03's
    torch.save of {"model": ..., "optimizer": ..., "epoch": ..., "settings": ..., "verdict": ...}.
    """
    path = path_argument("path", path)
    state = read_weights_only(path)
    check_bounds(path, state)
    if isinstance(state, dict) and any(isinstance(name, str) and name.endswith("fc1.weight") for name in state):
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
    for check in (check_records, check_sizes, check_optimizer):
        check(path, state)
    return state


def read_weights_only(path: Path) -> Any:
    """torch.load(path, weights_only=True) onto the CPU, with every way it can fail turned into a CheckpointError."""
    if path.is_dir():
        fix = path / "model.pt" if (path / "model.pt").is_file() else "the model.pt that training wrote"
        raise CheckpointError(f"checkpoint {path} is a folder, not a file: pass {fix}")
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist: check the path, or train a model first")
    if not path.is_file():
        kind = kind_of(path.resolve())
        raise CheckpointError(f"checkpoint {path} is {kind}, not a file: pass the model.pt training wrote")
    try:
        check_archive(path)
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except PermissionError:
        raise CheckpointError(f"cannot read checkpoint {path} (permission denied): fix its permissions") from None
    except Exception as error:  # damaged bytes make torch.load raise many kinds (struct.error, AssertionError, ...)
        if isinstance(error, pickle.UnpicklingError) and "unsupported global" in str(error).lower():
            raise CheckpointError(
                f"{path} holds Python objects besides weights, which are not loaded for safety (weights_only=True): "
                "save model.state_dict() rather than the model, or train again"
            ) from None
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated, or not a PyTorch file): {RETRAIN}"
        ) from None


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


def check_archive(path: Path) -> None:
    """Refuse a file that torch.save did not write, and one that would unpack to more than its size on disk."""
    with open(path, "rb") as file:
        head = file.read(4096)
    if head[:1] == b"\x80" and LEGACY_MAGIC in head[:32]:
        return  # torch.save's older format: torch.load says what is wrong with it, if anything
    # torch.save writes a zip whose first entry is `<folder>/data.pkl`; its name starts at byte 30 of the zip
    first = head[30 : 30 + int.from_bytes(head[26:28], "little")]
    if not head.startswith(b"PK\x03\x04") or not (first == b"data.pkl" or first.endswith(b"/data.pkl")):
        # not the course's file: say so, and never advise deleting it
        what = "a zip, but not torch.save's" if head[:2] == b"PK" else "not a PyTorch file" if head else "an empty file"
        raise CheckpointError(f"{path} is not a checkpoint of this course ({what}): pass the model.pt training wrote")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile:
        return  # a torch.save archive cut short: torch.load says so
    # torch.save never compresses: a compressed entry is crafted, to unpack to far more than the file's size
    compressed = any(entry.compress_type != zipfile.ZIP_STORED for entry in entries)
    if compressed or sum(entry.file_size for entry in entries) > path.stat().st_size:
        raise CheckpointError(
            f"{path} holds compressed entries, which torch.save never writes (a crafted file?): {RETRAIN}"
        )


def values_within(value: Any, budget: int, depth: int = 1) -> int:
    """`budget` less every value in `value`, a shared one counted each time it recurs; negative past it or MAX_DEPTH."""
    budget -= 1
    if isinstance(value, dict):
        size, inside = 2 * len(value), itertools.chain(value.keys(), value.values())
    elif isinstance(value, (list, tuple, set, frozenset)):
        size, inside = len(value), value
    else:
        return budget
    if size > budget or depth >= MAX_DEPTH:  # checked before going in, so the recursion stays MAX_DEPTH deep
        return -1
    for item in inside:
        budget = values_within(item, budget, depth + 1)
        if budget < 0:
            break
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


def without_wrappers(model_state: dict[str, Any]) -> dict[str, Any]:
    """A state_dict with the prefixes that wrappers add removed (DataParallel's, DDP's, torch.compile's)."""
    return {WRAPPER_PREFIXES.sub("", name) if isinstance(name, str) else name: t for name, t in model_state.items()}


def sizes_from_state(path: Path, weights: dict[str, Any]) -> dict[str, int]:
    """Layer sizes read off the weights of a bare state_dict: each layer's outputs are its weight's rows."""
    try:
        rows = [len(weights[f"{layer}.weight"]) for layer in ("fc1", "fc2", "fc3")]
    except (KeyError, TypeError):
        raise CheckpointError(
            f"{path} is a state_dict, but not of the lesson's network (fc1, fc2, fc3): pass one saved from "
            "mnist_tutorial.NeuralNetwork"
        ) from None
    return dict(zip(("hidden1", "hidden2", "num_classes"), rows, strict=True))


def expected_shapes(sizes: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape in the network of these sizes, in model.parameters() order (built on "meta": no memory)."""
    with torch.device("meta"):
        return {name: tuple(tensor.shape) for name, tensor in NeuralNetwork(**sizes).state_dict().items()}


def whole_tensor(value: Any, shape: tuple[int, ...]) -> bool:
    """Whether a loaded value is a float tensor of `shape` backed by all its values (not a stride-0 view of a few)."""
    fits = isinstance(value, torch.Tensor) and value.layout == torch.strided and value.is_floating_point()
    return fits and tuple(value.shape) == shape and value.untyped_storage().nbytes() >= value.nbytes


def check_sizes(path: Path, state: dict[str, Any]) -> None:
    """Check the stored layer sizes against the course's cap and against the stored tensors."""
    sizes, weights = state.get("sizes"), state.get("model_state")
    try:
        fits = len(sizes) == 3 and all(type(n) is int and 1 <= n <= MAX_HIDDEN for n in sizes.values())
        expected = expected_shapes(sizes) if fits else {}
        fits = fits and weights.keys() == expected.keys()
        fits = fits and all(whole_tensor(weights[name], shape) for name, shape in expected.items())
    except (TypeError, AttributeError):
        fits = False
    if not fits:
        raise CheckpointError(
            f"{path} holds weights of another shape than the lesson's network (its stored sizes {short(sizes)} do "
            f"not match its tensors, or exceed {MAX_HIDDEN}): {RETRAIN}"
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
        fits = fits and all(buffers.get(i) is None or whole_tensor(buffers[i], shape) for i, shape in enumerate(shapes))
        fits = fits and all(plain(v) and type(v) is not str for g in groups for k, v in g.items() if k != "params")
    except (TypeError, KeyError, AttributeError, RuntimeError):
        fits = False
    if not fits:
        raise CheckpointError(
            f"{path} holds an optimizer state that does not fit its network (a momentum buffer of another shape, or "
            f"a stride-0 view), which the course never writes: {RETRAIN}"
        )


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


def plain(value: Any) -> bool:
    """A setting as the course writes them: a short string, a number, a bool or None."""
    return len(value) <= MAX_TEXT if type(value) is str else type(value) in (int, float, bool, type(None))


def check_records(path: Path, state: dict[str, Any]) -> None:
    """The normalisation is the course's, the epoch a whole number, the dataset a name, the settings a flat mapping
    of plain values and the history equal-length lists of numbers: anything else is refused."""
    stored, fault = state.get("normalization"), state.get("history") is not None and history_fault(state["history"])
    if stored is not None and stored != NORMALIZATION:  # the network's predictions here would be off
        raise CheckpointError(
            f"{path} was trained on inputs normalised with {short(stored)}, not the course's {NORMALIZATION}: its "
            "predictions here would be wrong; train it again with the course's normalisation"
        )
    if fault:
        raise CheckpointError(
            f"{path} holds a training history that {fault}, which the course never writes (a crafted file?): {RETRAIN}"
        )
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


def model_from_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> NeuralNetwork:
    """Rebuild the network that a loaded checkpoint describes, with its weights."""
    model = NeuralNetwork(**state["sizes"])
    model.load_state_dict(state["model_state"])  # load_checkpoint checked every name and shape
    return model


def load_model(path: str | os.PathLike) -> NeuralNetwork:
    """The trained NeuralNetwork stored at `path`, on the CPU, in eval mode."""
    return model_from_checkpoint(path, load_checkpoint(path)).eval()
