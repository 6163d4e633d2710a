"""How a self-check answers: one line, "Correct" or "Not yet" with a hint; never an exception."""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., bool])


def verdict(ok: bool, *, correct: str, hint: str) -> bool:
    """Print the verdict on one answer and return whether it was right."""
    print(f"Correct: {correct}" if ok else f"Not yet: {hint}")
    return ok


def never_raises(check: F) -> F:
    """Turn any error inside a check (an answer of the wrong type, say) into a hint instead of a traceback."""

    @wraps(check)
    def guarded(*args: Any, **kwargs: Any) -> bool:
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
