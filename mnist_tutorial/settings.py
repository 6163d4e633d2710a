"""A run's settings, each declared once (SETTINGS), and their checks: RunConfig, train_and_save's keywords, the
command line's flags and the playground's form all read SETTINGS; each default lives in defaults.py."""

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import defaults
from .datasets.sources import SOURCES
from .datasets.specs import DATASETS
from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")


def is_count(value: object) -> bool:
    """True for a whole number of at least 1: a Python or NumPy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def check_count(name: str, value: object) -> None:
    """Refuse `name=value` unless it is a whole number of at least 1 (the one such check in the course)."""
    if not is_count(value):
        raise ConfigError(f"`{name}={value!r}` is not a positive whole number: pass 1 or more")


def is_number(value: object) -> bool:
    """True for a real number, Python's or NumPy's, that is finite (and not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def number(value: object) -> str:
    """A number as messages show it (1e+04, 0.001), anything else as Python writes it."""
    return format(float(value), "g") if is_number(value) else repr(value)


@dataclass(frozen=True)
class Setting:
    """One row of the table: what each face needs to offer, check and name a setting."""

    name: str  # the library's: train_and_save's keyword, RunConfig's field, the name messages use
    type: type  # int, float, str, bool or Path; any setting may also be None
    default: Any  # from defaults.py; None: decided when the run starts (the environment's, or auto)
    help: str  # for --help; {kept} stands for the flags of the settings a resumed run keeps
    flag: str  # the command line's
    label: str | None = None  # the playground form's field, in its words; None: not in the form
    check: Callable[["Setting", Any], None] | None = None  # raises ConfigError naming the setting
    follows_checkpoint: bool = False  # a resumed run keeps the checkpoint's value, and refuses another
    choices: tuple[str, ...] | None = None
    metavar: str | None = None

    @property
    def unset(self) -> Any:
        """The value that stands for "not passed": None where a resumed run takes the checkpoint's, else the default."""
        return None if self.follows_checkpoint else self.default


def within(test: Callable[[Any], bool], problem: str, fix: str = "pass one such as the lesson's {}") -> Callable:
    """A check for SETTINGS: refuse a value that fails `test`, saying `problem` and `fix` ({}: the default)."""

    def check(setting: Setting, value: Any) -> None:
        if not test(value):
            shown = number(value) if setting.type is float or not isinstance(value, numbers.Integral) else value
            raise ConfigError(f"`{setting.name}={shown}` {problem}: {fix.format(number(setting.default))}")

    return check


def is_seed(value: object) -> bool:
    """A whole number that NumPy takes as a seed: 0 to 2**32 - 1."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value < 2**32


positive_count = within(is_count, "is not a positive whole number", "pass 1 or more")
positive = within(lambda value: is_number(value) and value > 0, "is not a positive number")
fraction = within(lambda value: is_number(value) and 0 <= value < 1, "is outside [0, 1)")
seed_range = within(is_seed, f"is outside 0 to {2**32 - 1}", "pass one in that range, such as {}")
layer_size = within(
    lambda value: is_count(value) and value <= defaults.MAX_HIDDEN, f"is outside 1 to {defaults.MAX_HIDDEN}"
)


LAYER = f"units in the {{}} hidden layer, 1 to {defaults.MAX_HIDDEN}"
NPROC = (
    "train data-parallel on N processes of this machine (torch.distributed: gloo on the CPU, nccl on CUDA, one GPU "
    "each); the global batch stays the batch size and each process takes 1/N of it, so N must divide it. Started by "
    "torchrun, the run joins torchrun's processes instead"
)
RESUME = (
    "continue from a saved model.pt; settings you do not pass ({kept}) follow the checkpoint, and one you pass that "
    "differs from what it records is refused"
)

# Every setting of a run, in the order --help and the form show them.
# fmt: off
SETTINGS = (
    Setting("dataset", str, defaults.DATASET, "the dataset to train on", "--dataset", choices=tuple(DATASETS),
            follows_checkpoint=True),
    Setting("source", str, None, f"auto: full data if present, else download, else the sample (default: "
            f"${defaults.SOURCE_ENV} or auto)", "--source", choices=SOURCES, follows_checkpoint=True),
    Setting("data_dir", Path, None, "where downloads land (default: the data/ folder)", "--data-dir"),
    Setting("device", str, None, f"auto: cuda, then mps, then cpu (default: ${defaults.DEVICE_ENV} or auto)",
            "--device", choices=DEVICES),
    Setting("lr", float, defaults.LR, "the learning rate", "--lr", label="learning rate", check=positive,
            follows_checkpoint=True),
    Setting("momentum", float, defaults.MOMENTUM, "SGD's momentum", "--momentum", label="momentum", check=fraction,
            follows_checkpoint=True),
    Setting("num_epochs", int, defaults.NUM_EPOCHS, "epochs to train, those of a resumed checkpoint included",
            "--epochs", label="epochs", check=positive_count),
    Setting("batch_size", int, defaults.BATCH_SIZE, "images per training step", "--batch-size",
            check=positive_count, follows_checkpoint=True),
    Setting("hidden1", int, defaults.HIDDEN_SIZES[0], LAYER.format("first"), "--hidden1",
            label="hidden layer 1 size", check=layer_size, follows_checkpoint=True),
    Setting("hidden2", int, defaults.HIDDEN_SIZES[1], LAYER.format("second"), "--hidden2",
            label="hidden layer 2 size", check=layer_size, follows_checkpoint=True),
    Setting("seed", int, defaults.SEED, "seeds the first weights and the shuffling", "--seed", check=seed_range),
    Setting("loader", str, defaults.LOADER, "fast: tensors kept in memory; lesson: torchvision transforms + "
            "DataLoader (same numbers)", "--loader", choices=("fast", "lesson"), follows_checkpoint=True),
    Setting("out", Path, defaults.RUN_DIR, "folder for the outputs", "--out"),
    Setting("resume", Path, None, RESUME, "--resume", metavar="CHECKPOINT"),
    Setting("progress", bool, None, "progress bars", "--progress"),
    Setting("nproc", int, defaults.NPROC, NPROC, "--nproc", check=positive_count, metavar="N"),
)
# fmt: on
KEPT_ON_RESUME = tuple(setting for setting in SETTINGS if setting.follows_checkpoint)


def check_settings(values: Mapping[str, Any]) -> None:
    """Refuse impossible settings (name -> value, any of SETTINGS), naming the first bad one and a value that works."""
    for setting in SETTINGS:
        value = values.get(setting.name)
        if setting.name not in values or (value is None and setting.default is None):
            continue  # None where the default is None: decided when the run starts
        if setting.choices and value not in setting.choices:
            raise ConfigError(f"unknown `{setting.name}={value!r}`: choose one of {', '.join(setting.choices)}")
        if setting.check:
            setting.check(setting, value)
