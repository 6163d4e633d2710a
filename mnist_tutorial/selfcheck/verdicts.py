"""How a self-check answers: one line, "Correct" or "Not yet" with a hint; never an exception.

Also the readings of a learner's answer that several checks share: a whole number, a number, a shape.
In the room (issue 29) each result is also recorded in the student's own folder, for the teacher's page.
"""

import contextlib
import json
import os
import stat
from collections.abc import Callable
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import torch

from ..defaults import ROOM_RECORD_ENV

F = TypeVar("F", bound=Callable[..., "Verdict"])
RECORD_LIMIT = 2**20  # bytes: thousands of results; a record this large stops growing rather than fill the disk


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


class YourTurn(NotImplementedError):
    """A step the learner writes in a practice copy: stops Run All there with one line instead of a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines in place of the traceback
        return [f"Your turn: write {self} where this notebook says YOUR CODE HERE, then run on from that cell."]


def verdict(ok: bool, *, correct: str, hint: str) -> Verdict:
    """Print the verdict on one answer and return whether it was right."""
    print(f"Correct: {correct}" if ok else f"Not yet: {hint}")
    return Verdict(ok)


def never_raises(check: F) -> F:
    """Turn any error inside a check (an answer of the wrong type, say) into a hint instead of a traceback.

    Every check passes through here, so here its result is recorded, under the check's name, for the room.
    """

    @wraps(check)
    def guarded(*args: Any, **kwargs: Any) -> Verdict:
        try:
            result = check(*args, **kwargs)
        except YourTurn:  # a step still to write: stop there, in one line
            raise
        except Exception as error:  # a learner's answer can be anything; the check must still answer calmly
            result = verdict(
                False,
                correct="",
                hint=f"that answer could not be checked ({type(error).__name__}: {error}); "
                "look at what the exercise asks for and try again",
            )
        record(check.__name__, bool(result))
        return result

    return guarded  # type: ignore[return-value]


def record(check: str, ok: bool) -> None:
    """Append one JSON line for this result to the file the room named in ROOM_RECORD_ENV; outside the room, nothing.

    The file is the student's own: a link or anything but a plain file there is left alone, a full one is not grown,
    and a failure to write is silent (the learner's cell has already answered).
    """
    path = os.environ.get(ROOM_RECORD_ENV)
    if not path:
        return
    notebook = os.environ.get("JPY_SESSION_NAME")  # the notebook Jupyter started this kernel for
    line = {
        "check": check,
        "ok": ok,
        "notebook": Path(notebook).name if notebook else None,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with contextlib.suppress(OSError, ValueError):
        # O_NONBLOCK: a FIFO planted there must not hang the cell
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
        with os.fdopen(os.open(path, flags, 0o600), "a", encoding="utf-8") as file:
            found = os.fstat(file.fileno())
            if stat.S_ISREG(found.st_mode) and found.st_size < RECORD_LIMIT:
                file.write(json.dumps(line) + "\n")


def whole_number(answer: object) -> int | None:
    """The answer as an int if it is a whole number (int, integral float, one-element tensor), else None."""
    value = as_number(answer)
    return int(value) if value is not None and value.is_integer() else None


def as_number(answer: object) -> float | None:
    """The answer as a float (int, float, NumPy number, one-element tensor, with or without gradients), else None."""
    if isinstance(answer, bool | str) or answer is None:
        return None
    if isinstance(answer, torch.Tensor):
        answer = answer.detach()  # loss rather than loss.item(): the same number, and no warning from PyTorch
    try:
        return float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        return None


def decimals(answer: object) -> int | None:
    """How many decimals a typed number shows (0.13: 2), or None for anything else."""
    text = repr(answer) if isinstance(answer, float | int) and not isinstance(answer, bool) else ""
    return None if not text or "e" in text else len(text.partition(".")[2])


def close_to(value: float, expected: float, *, answer: object, tolerance: float, min_decimals: int = 1) -> bool:
    """Within `tolerance` of `expected`, or `expected` rounded to the decimals typed (at least `min_decimals`)."""
    shown = decimals(answer)
    rounded = shown is not None and shown >= min_decimals and round(expected, shown) == round(value, shown)
    return abs(value - expected) <= tolerance or rounded


def too_rounded(value: float, expected: float, *, answer: object, min_decimals: int) -> bool:
    """True when the answer is `expected` rounded, but to fewer decimals than `min_decimals`."""
    shown = decimals(answer)
    return shown is not None and shown < min_decimals and round(expected, shown) == round(value, shown)


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
