"""The `mnist-tutorial` command: parses arguments and calls the library; bad input is one line, exit 2.

The subcommands live in commands.py, each an `add_*(commands)` and a `run_*(args) -> int`. This module owns
the one translation of library messages into command-line words (`num_epochs=3` becomes `--epochs 3`).
"""

import argparse
import signal
import sys
from types import FrameType

from ..errors import TrainingDivergedError, TutorialError, WorkerDiedError, in_words
from .commands import COMMANDS

PROG = "mnist-tutorial"

# Library argument -> command-line flag: the only place the two vocabularies meet.
FLAGS = {
    "dataset": "--dataset",
    "data_dir": "--data-dir",
    "source": "--source",
    "device": "--device",
    "num_epochs": "--epochs",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "momentum": "--momentum",
    "seed": "--seed",
    "out": "--out",
    "loader": "--loader",
    "resume": "--resume",
    "checkpoint": "--checkpoint",
    "nproc": "--nproc",
    "cuda_graphs": "--cuda-graphs",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line on stderr (exit status 2), not a usage dump."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Train and evaluate the lesson's MNIST network.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; bad input prints one line on stderr and returns 2 (a diverged run or a dead process: 1)."""
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, stop_like_ctrl_c) if in_main_thread() else None
    try:
        return args.run(args)
    except (TrainingDivergedError, WorkerDiedError) as error:
        return fail(error, status=1)
    except (TutorialError, OSError) as error:  # OSError: a disk or permission problem met mid-run
        return fail(error, status=2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def in_main_thread() -> bool:
    import threading

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
