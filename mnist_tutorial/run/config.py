"""One run's configuration: what `mnist-tutorial train`'s flags and train_and_save's arguments describe."""

import dataclasses
import os
from pathlib import Path
from typing import Any

from .. import defaults
from ..checkpoint import load_checkpoint
from ..errors import CheckpointError, ConfigError
from ..files import path_argument
from ..settings import KEPT_ON_RESUME, SETTINGS, Setting, check_settings, is_number
from ..train import pick_device


def convert_paths(config: Any) -> None:
    """RunConfig's __post_init__: each path setting as a Path, refused in one line if it is none (`out` must be one)."""
    for setting in SETTINGS:
        value = getattr(config, setting.name)
        if setting.type is Path and (value is not None or setting.default is not None):
            object.__setattr__(config, setting.name, path_argument(setting.name, value))


def recorded_settings(config: Any) -> dict[str, Any]:
    """The settings a checkpoint stores, which a resumed run follows."""
    return {setting.name: getattr(config, setting.name) for setting in KEPT_ON_RESUME}


# One field per row of settings.SETTINGS, which says what each means.
RunConfig = dataclasses.make_dataclass(
    "RunConfig",
    [(s.name, s.type | None, dataclasses.field(default=s.unset)) for s in SETTINGS],
    frozen=True,
    namespace={
        "__doc__": "A training run. A setting left None takes the lesson's value, or with `resume` the checkpoint's.",
        "__module__": __name__,  # where pickle finds it, to hand a run to the processes of `nproc`
        "__post_init__": convert_paths,
        "recorded": recorded_settings,
    },
)


def settle(config: RunConfig) -> tuple[RunConfig, dict[str, Any] | None]:
    """Everything refused before any work: the config with every setting filled in, and the checkpoint to resume."""
    state = load_checkpoint(config.resume) if config.resume else None
    recorded, trained = checkpoint_settings(state) if state else ({}, {})
    filled = {s.name: pick(s, getattr(config, s.name), recorded, trained, config.resume) for s in KEPT_ON_RESUME}
    config = dataclasses.replace(config, **filled, device=pick_device(config.device).type)
    check_settings(dataclasses.asdict(config))
    check_cpus(config.nproc, config.device)
    # as Python's own int and float: NumPy's np.int64(64) is welcome, but torch wants int
    config = dataclasses.replace(
        config, **{s.name: s.type(getattr(config, s.name)) for s in SETTINGS if s.type in (int, float)}
    )
    if state:
        check_resumable(config.resume, state, num_epochs=config.num_epochs)
    return config, state


def check_cpus(nproc: int, device: str) -> None:
    """Refuse more processes than CPUs on the CPU: each needs a core of its own (and about 1 GB of memory)."""
    cpus = os.cpu_count() or 1
    if device == "cpu" and nproc > cpus:
        raise ConfigError(
            f"`nproc={nproc}` asks for more processes than this machine's {cpus} CPUs, and each needs a core of "
            f"its own (and about 1 GB of memory): pass `nproc={cpus}` or fewer"
        )


def pick(setting: Setting, value: Any, recorded: dict[str, Any], trained: dict[str, Any], path: Path | None) -> Any:
    """One setting: as requested, else as the checkpoint trained, else the lesson's; a change of a record is refused
    (a resumed run must go on as it began, or its second half would be another experiment)."""
    name = setting.name
    before = recorded.get(name)
    if value is not None and before is not None and value != before:
        raise ConfigError(
            f"`{name}={value}` differs from `{name}={before}`, which {path} was trained with: leave it out to "
            f"continue with {before}, or train afresh without `resume`"
        )
    trained_with = trained.get(name)
    return value if value is not None else trained_with if trained_with is not None else setting.default


def checkpoint_settings(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a checkpoint records of its settings (which a resumed run must keep), and what it trained with.

    The optimizer's state says which lr and momentum trained: a record it contradicts (a notebook's) binds nobody.
    """
    kept = {setting.name for setting in KEPT_ON_RESUME}
    sizes = {name: size for name, size in state["sizes"].items() if name in kept}
    recorded = {"dataset": state.get("dataset", defaults.DATASET), **state.get("settings", {}), **sizes}
    trained = {**recorded, **optimizer_settings(state)}
    return {name: value for name, value in recorded.items() if trained[name] == value}, trained


def optimizer_settings(state: dict[str, Any]) -> dict[str, float]:
    """The lr and momentum in a checkpoint's optimizer state (its first parameter group), where it holds them."""
    group = state["optimizer_state"]["param_groups"][0] if state.get("optimizer_state") else {}  # checked on load
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
