"""How a self-check answers: one line, "Correct" or "Not yet" with a hint; never an exception.

Also the readings of a learner's answer that several checks share: a whole number, a number, a shape.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., "Verdict"])


class Verdict:
    """Whether an answer was right: true or false like a bool, but silent as a cell's last value.

    The printed line is the answer a learner reads; a `True` echoed under it would only be noise.
    """

    def __init__(self, ok: bool) -> None:
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:
        pass


def verdict(ok: bool, *, correct: str, hint: str) -> Verdict:
    """Print the verdict on one answer and return whether it was right."""
    print(f"Correct: {correct}" if ok else f"Not yet: {hint}")
    return Verdict(ok)


def never_raises(check: F) -> F:
    """Turn any error inside a check (an answer of the wrong type, say) into a hint instead of a traceback."""

    @wraps(check)
    def guarded(*args: Any, **kwargs: Any) -> Verdict:
        try:
            return check(*args, **kwargs)
        except Exception as error:  # a learner's answer can be anything; the check must still answer calmly
            return verdict(
                False,
                correct="",
                hint=f"that answer could not be checked ({type(error).__name__}: {error}); "
                "look at what the exercise asks for and try again",
            )

    return guarded  # type: ignore[return-value]


def whole_number(answer: object) -> int | None:
    """The answer as an int if it is a whole number (int, integral float, one-element tensor), else None."""
    if isinstance(answer, bool | str) or answer is None:
        return None
    try:
        value = float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        return None
    return int(value) if value.is_integer() else None


def as_number(answer: object) -> float | None:
    """The answer as a float (int, float, one-element tensor), else None."""
    if isinstance(answer, bool | str) or answer is None:
        return None
    try:
        return float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        return None


def as_shape(answer: object) -> tuple[int, ...] | None:
    """The answer as a tuple of whole numbers (tuple, list or torch.Size), else None."""
    if not isinstance(answer, tuple | list | torch.Size):
        return None
    numbers = [whole_number(size) for size in answer]
    return None if None in numbers else tuple(numbers)  # type: ignore[arg-type]


def unusable(answer: object, wanted: str) -> str:
    """The hint for an answer of the wrong kind: still None, or something else than `wanted`."""
    if answer is None:
        return f"replace None with your answer: {wanted}"
    return f"answer with {wanted} (you gave {answer!r})"
