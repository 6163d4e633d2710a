"""One run's configuration: what `mnist-tutorial train`'s flags and train_and_save's arguments describe."""

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import defaults
from ..checkpoint import load_checkpoint
from ..errors import CheckpointError, ConfigError
from ..files import path_argument
from ..settings import check_count, check_settings, is_number
from ..train import pick_device

LOADERS = ("fast", "lesson")


@dataclass(frozen=True)
class RunConfig:
    """A training run. A setting left as None takes the lesson's value, or with `resume` the checkpoint's."""

    dataset: str | None = None
    source: str | None = None  # None: $MNIST_TUTORIAL_SOURCE, else auto (datasets.sources decides)
    data_dir: Path | None = None
    num_epochs: int = defaults.NUM_EPOCHS
    batch_size: int | None = None
    lr: float | None = None
    momentum: float | None = None
    seed: int = defaults.SEED
    device: str | None = None
    loader: str | None = None
    out: Path = Path("runs/latest")
    resume: Path | None = None
    nproc: int = 1
    cuda_graphs: bool = False
    progress: bool | None = None

    def __post_init__(self) -> None:
        for name in ("out", "resume", "data_dir"):
            value = getattr(self, name)
            if value is not None or name == "out":
                object.__setattr__(self, name, path_argument(name, value))

    def recorded(self) -> dict[str, Any]:
        """The settings a checkpoint stores, which a resumed run follows."""
        return {name: getattr(self, name) for name in FOLLOWS_CHECKPOINT}


# What a checkpoint records; a resumed run keeps each unless told otherwise (and is refused another value).
FOLLOWS_CHECKPOINT = ("dataset", "source", "batch_size", "loader", "lr", "momentum")
LESSON = RunConfig(
    dataset="mnist", batch_size=defaults.BATCH_SIZE, loader="fast", lr=defaults.LR, momentum=defaults.MOMENTUM
)


def settle(config: RunConfig) -> tuple[RunConfig, dict[str, Any] | None]:
    """Everything refused before any work: the config with every setting filled in, and the checkpoint to resume."""
    state = load_checkpoint(config.resume) if config.resume else None
    recorded, trained = checkpoint_settings(state) if state else ({}, {})
    filled = {name: pick(name, getattr(config, name), recorded, trained, config.resume) for name in FOLLOWS_CHECKPOINT}
    config = dataclasses.replace(config, **filled, device=pick_device(config.device).type)
    check_settings(
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        momentum=config.momentum,
        seed=config.seed,
    )
    if config.loader not in LOADERS:
        raise ConfigError(f"unknown `loader={config.loader!r}`: choose one of {', '.join(LOADERS)}")
    check_count("nproc", config.nproc)
    check_cpus(config.nproc, config.device)
    config = as_python_numbers(config)
    if state:
        check_resumable(config.resume, state, num_epochs=config.num_epochs)
    return config, state


def as_python_numbers(config: RunConfig) -> RunConfig:
    """The checked settings as Python's own int and float (NumPy's np.int64(64) is welcome, but torch wants int)."""
    counts = {name: int(getattr(config, name)) for name in ("num_epochs", "batch_size", "seed", "nproc")}
    return dataclasses.replace(config, **counts, lr=float(config.lr), momentum=float(config.momentum))


def check_cpus(nproc: int, device: str) -> None:
    """Refuse more processes than CPUs on the CPU: each needs a core of its own (and about 1 GB of memory)."""
    cpus = os.cpu_count() or 1
    if device == "cpu" and nproc > cpus:
        raise ConfigError(
            f"`nproc={nproc}` asks for more processes than this machine's {cpus} CPUs, and each needs a core of "
            f"its own (and about 1 GB of memory): pass `nproc={cpus}` or fewer"
        )


def pick(name: str, value: Any, recorded: dict[str, Any], trained: dict[str, Any], path: Path | None) -> Any:
    """One setting: as requested, else as the checkpoint trained, else the lesson's; a change of a record is refused.

    A resumed run must go on as it began, or its second half would be another experiment.
    """
    before = recorded.get(name)
    if value is not None and before is not None and value != before:
        raise ConfigError(
            f"`{name}={value}` differs from `{name}={before}`, which {path} was trained with: leave it out to "
            f"continue with {before}, or train afresh without `resume`"
        )
    trained_with = trained.get(name)
    return value if value is not None else trained_with if trained_with is not None else getattr(LESSON, name)


def checkpoint_settings(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a checkpoint records of its settings (which a resumed run must keep), and what it trained with.

    Its optimizer state says which lr and momentum trained: a notebook may record the lesson's lr beside an
    optimizer made with another, and a record that the optimizer contradicts binds nobody. Older checkpoints
    record only the dataset.
    """
    recorded = {"dataset": state.get("dataset", "mnist"), **state.get("settings", {})}
    trained = {**recorded, **optimizer_settings(state)}
    return {name: value for name, value in recorded.items() if trained[name] == value}, trained


def optimizer_settings(state: dict[str, Any]) -> dict[str, float]:
    """The lr and momentum in a checkpoint's optimizer state (its first parameter group), where it holds them."""
    try:
        group = state["optimizer_state"]["param_groups"][0]
    except (KeyError, IndexError, TypeError):
        return {}
    if not isinstance(group, dict):
        return {}
    return {name: float(group[name]) for name in ("lr", "momentum") if is_number(group.get(name))}


def check_resumable(path: Path, state: dict[str, Any], *, num_epochs: int) -> None:
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
