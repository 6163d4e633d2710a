"""The `mnist-tutorial` command: flags in, the library called, every failure one line on stderr.

The subcommands live in commands.py. It loads the course's runs, doctor and matplotlib (about a second), so it is
imported inside main(), where a Ctrl-C still ends in the one line; torch loads with the package, before main().
"""

import argparse
import contextlib
import signal
import sys
import textwrap
import threading
from collections.abc import Iterator

from .. import leave_on_ctrl_c
from ..errors import TrainingDivergedError, TutorialError, WorkerDiedError, in_words
from ..settings import SETTINGS

PROG = "mnist-tutorial"
# Library argument -> flag, the one place the two vocabularies meet: a message's `num_epochs=3` reads --epochs 3.
FLAGS = {**{setting.name: setting.flag for setting in SETTINGS}, "checkpoint": "--checkpoint"}
FLAGS |= {"students_password": "--password", "teacher_password": "--teacher-password", "port": "--port"}
FLAGS |= {"practice": "--practice", "students": "--students", "idle_minutes": "--idle-minutes"}


class WholeFlags(argparse.HelpFormatter):
    """Help wrapped between words only: a flag such as --batch-size never breaks at its hyphen."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line on stderr (exit status 2), not a usage dump."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, formatter_class=WholeFlags, **kwargs)

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    with leaving_at_once():
        from .commands import COMMANDS
    parser = OneLineParser(prog=PROG, description="Train and evaluate the lesson's MNIST network.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; bad input prints one line on stderr and returns 2 (a diverged run or a dead process: 1)."""
    args = build_parser().parse_args(argv)
    if in_main_thread() and signal.getsignal(signal.SIGINT) is leave_on_ctrl_c:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on Ctrl-C stops a run cleanly
    # SIGTERM (a timeout, docker stop, Slurm) stops a run as Ctrl-C does: cleanly, with the resume hint.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if in_main_thread() else None
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return say("interrupted", status=130)
    except Exception as error:
        if interrupted_within(error):  # a library may wrap the Ctrl-C that stops it (torch.onnx.export does)
            return say("interrupted", status=130)
        if not isinstance(error, (TutorialError, OSError)):  # OSError: a disk or permission problem met mid-run
            raise
        failed_run = isinstance(error, (TrainingDivergedError, WorkerDiedError))
        return say(f"error: {in_words(' '.join(str(error).split()), FLAGS)}", status=1 if failed_run else 2)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def say(message: str, *, status: int) -> int:
    """Print `mnist-tutorial: message` as one line on stderr; returns `status`."""
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


def interrupted_within(error: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is among the exceptions that led to `error` (its causes and contexts)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def leaving_at_once() -> Iterator[None]:
    """Within the block (an import), Ctrl-C or SIGTERM end the process at once, in the one line, exit status 130.

    A KeyboardInterrupt inside an import leaves modules half made, and the library may even swallow it; nothing
    has been written yet, so nothing is lost by leaving.
    """
    if not in_main_thread():  # only the main thread may set signal handlers
        yield
        return
    previous = {number: signal.signal(number, leave_on_ctrl_c) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
