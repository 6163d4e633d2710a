"""The `mnist-tutorial` command: parses arguments and calls the library; bad input is one line, exit 2.

The subcommands live in commands.py, each an `add_*(commands)` and a `run_*(args) -> int`. This module owns
the one translation of library messages into command-line words (`num_epochs=3` becomes `--epochs 3`), and
what Ctrl-C does: one line, exit status 130, wherever it strikes. commands.py (which loads the course's runs,
doctor and matplotlib: about a second) is imported only inside main(), so that a Ctrl-C while it loads gets that
line too; torch itself loads with the package, before any code of the command line can run.
"""

import argparse
import contextlib
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Iterator
from types import FrameType

from .. import leave_on_ctrl_c
from ..errors import TrainingDivergedError, TutorialError, WorkerDiedError, in_words
from ..settings import SETTINGS

PROG = "mnist-tutorial"

# Library argument -> command-line flag: the only place the two vocabularies meet. A run's settings bring their
# own (settings.SETTINGS); evaluate and export also take the checkpoint.
FLAGS = {**{setting.name: setting.flag for setting in SETTINGS}, "checkpoint": "--checkpoint"}


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
    previous = signal.signal(signal.SIGTERM, stop_like_ctrl_c) if in_main_thread() else None
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return interrupted()
    except Exception as error:
        if interrupted_within(error):  # a library that wraps whatever stops it wraps Ctrl-C too (torch.onnx.export)
            return interrupted()
        if isinstance(error, (TrainingDivergedError, WorkerDiedError)):
            return fail(error, status=1)
        if isinstance(error, (TutorialError, OSError)):  # OSError: a disk or permission problem met mid-run
            return fail(error, status=2)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def interrupted() -> int:
    """Say in one line that Ctrl-C (or SIGTERM) stopped the command; returns its exit status, 130."""
    print(f"{PROG}: interrupted", file=sys.stderr)
    return 130


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
    """Within the block, Ctrl-C or SIGTERM end the process at once, in the one line, with exit status 130.

    For imports: a KeyboardInterrupt raised inside one leaves its modules half made, and the library being
    imported may even swallow it and carry on. Nothing has been written yet, so nothing is lost by leaving.
    """
    if not in_main_thread():
        yield
        return
    previous = {number: signal.signal(number, leave) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


def leave(signum: int, frame: FrameType | None) -> None:
    """A signal handler: the interrupted line on stderr, then exit 130 without unwinding anything."""
    os.write(2, f"{PROG}: interrupted\n".encode())
    os._exit(130)


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def stop_like_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (timeout, docker stop, systemd, Slurm) stops a run as Ctrl-C does: cleanly, with the resume hint."""
    raise KeyboardInterrupt


def fail(error: BaseException, *, status: int) -> int:
    """Print the error as one line on stderr, in the command line's words, and return `status`."""
    message = in_words(" ".join(str(error).split()), FLAGS)
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
