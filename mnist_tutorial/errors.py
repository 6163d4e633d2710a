"""The package's exceptions, and their messages in a reader's words.

A message names what was wrong and how to fix it in the library's terms, arguments in backticks (`data_dir`,
`source="sample"`); each face (the command line, the playground form) renders them through its own mapping (in_words).
"""

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import TypeVar


class TutorialError(Exception):
    """Base class: anything the CLI reports as one line on stderr, with exit status 2 (a failed run: 1)."""


class ConfigError(TutorialError, ValueError):
    """A setting out of range or unavailable on this machine."""


class DataError(TutorialError, OSError):
    """A data file that is missing, unreadable, truncated or malformed, or a download that failed."""


class CheckpointError(TutorialError, OSError):
    """A checkpoint that is missing, unreadable, or of another shape."""


class OutputError(TutorialError, OSError):
    """An output folder or file that cannot be written, or that another run is writing."""


class TrainingDivergedError(TutorialError, ArithmeticError):
    """The loss became NaN or infinite, or grew far beyond an untrained network's."""


class WorkerDiedError(TutorialError, ChildProcessError):
    """A process of a data-parallel run ended without finishing (killed, or crashed outside the course's code)."""


Function = TypeVar("Function", bound=Callable)


def keywords_only(function: Function) -> Function:
    """Refuse positional arguments to an entry point that takes keywords only, naming the keywords to use."""
    signature = inspect.signature(function)
    needed = (name for name, p in signature.parameters.items() if p.default is p.empty)
    spelled = ", ".join(f"{name}=..." for name in needed) or "name=value, ..."

    @functools.wraps(function)
    def checked(*args, **kwargs):
        if args:
            raise ConfigError(
                f"{function.__name__}() takes its arguments by name, got {len(args)} without one: "
                f"call {function.__name__}({spelled})"
            )
        try:
            signature.bind(**kwargs)  # a keyword it does not take: Python's own TypeError, as the call would raise
        except TypeError as error:
            raise TypeError(f"{function.__name__}() {error}") from None
        return function(**kwargs)

    return checked  # type: ignore[return-value]


ARGUMENT = re.compile(r"`(\w+)(?:=([^`]*))?`")


def in_words(message: str, words: Mapping[str, str]) -> str:
    """`message` with each `name` or `name=value` that `words` knows rendered in its words ("name" -> "--flag").

    With the CLI's words `num_epochs=0` becomes "--epochs 0" and `source="sample"` "--source sample".
    """

    def render(match: re.Match) -> str:
        name, value = match.groups()
        if name not in words:
            return match.group(0)
        return words[name] if value is None else words[name] + " " + value.strip("\"'")

    return ARGUMENT.sub(render, message)
