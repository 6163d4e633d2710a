"""Checking a run's settings before any work is done: pure range checks, touching nothing on disk."""

import math
import numbers

from . import defaults
from .errors import ConfigError


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


def check_settings(
    *,
    num_epochs: int = defaults.NUM_EPOCHS,
    batch_size: int = defaults.BATCH_SIZE,
    lr: float = defaults.LR,
    momentum: float = defaults.MOMENTUM,
    seed: int = defaults.SEED,
    hidden_sizes: tuple[int, int] = defaults.HIDDEN_SIZES,
) -> None:
    """Refuse impossible settings, naming the first bad one and a value that works."""
    check_count("num_epochs", num_epochs)
    check_count("batch_size", batch_size)
    if not (is_number(lr) and lr > 0):
        raise ConfigError(f"`lr={number(lr)}` is not a positive number: pass one such as the lesson's {defaults.LR:g}")
    if not (is_number(momentum) and 0 <= momentum < 1):
        raise ConfigError(
            f"`momentum={number(momentum)}` is outside [0, 1): pass one such as the lesson's {defaults.MOMENTUM:g}"
        )
    if not (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and 0 <= seed < 2**32):
        raise ConfigError(f"`seed={seed}` is outside 0 to {2**32 - 1}: pass one in that range, such as 0")
    for index, (size, lesson) in enumerate(zip(hidden_sizes, defaults.HIDDEN_SIZES, strict=True), start=1):
        if not (is_count(size) and size <= defaults.MAX_HIDDEN):
            raise ConfigError(
                f"`hidden{index}={size}` is outside 1 to {defaults.MAX_HIDDEN}: pass one such as the lesson's {lesson}"
            )
