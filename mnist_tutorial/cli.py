"""The `mnist-tutorial` command: parses arguments and calls the library; bad input is one line, exit 2."""

import argparse
import sys
from pathlib import Path

from . import defaults
from .errors import TrainingDivergedError, TutorialError
from .experiment import evaluate_checkpoint, train_and_save
from .sources import DATASETS, SOURCES
from .train import DEVICES

PROG = "mnist-tutorial"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line on stderr (exit status 2), not a usage dump."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help=f"where data lives (default: {defaults.DATA_DIR})")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default=None,
        help=f"auto: full data if present, else download, else the sample (default: ${defaults.SOURCE_ENV} or auto)",
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default=None,
        help=f"auto: cuda, then mps, then cpu (default: ${defaults.DEVICE_ENV} or auto)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Train and evaluate the lesson's MNIST network.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train the network and write model.pt, metrics.json and plots")
    train.add_argument("--dataset", choices=list(DATASETS), default="mnist")
    add_data_flags(train)
    train.add_argument("--epochs", type=int, default=defaults.NUM_EPOCHS)
    train.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    train.add_argument("--lr", type=float, default=defaults.LR)
    train.add_argument("--momentum", type=float, default=defaults.MOMENTUM)
    train.add_argument("--seed", type=int, default=defaults.SEED)
    train.add_argument("--out", default="runs/latest", help="folder for the outputs (default: runs/latest)")
    train.add_argument(
        "--loader",
        choices=["fast", "lesson"],
        default="fast",
        help="fast: tensors kept in memory; lesson: torchvision transforms + DataLoader (same numbers, slower)",
    )
    train.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue from a saved model.pt")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bars")

    evaluate = commands.add_parser("evaluate", help="print the test accuracy of a saved model")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--dataset", choices=list(DATASETS), default=None, help="default: the checkpoint's")
    add_data_flags(evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; bad input prints one line on stderr and returns 2 (a diverged run: 1)."""
    args = build_parser().parse_args(argv)
    try:
        return train(args) if args.command == "train" else evaluate(args)
    except TrainingDivergedError as error:
        return fail(error, status=1)
    except (TutorialError, OSError) as error:  # OSError: a disk or permission problem met mid-run
        return fail(error, status=2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def fail(error: BaseException, *, status: int) -> int:
    """Print the error as one line on stderr and return `status`."""
    message = " ".join(str(error).split())
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def train(args: argparse.Namespace) -> int:
    """`mnist-tutorial train`: the flags map one-to-one onto train_and_save's keyword arguments."""
    metrics = train_and_save(
        dataset=args.dataset,
        data_dir=args.data_dir,
        source=args.source,
        num_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        momentum=args.momentum,
        seed=args.seed,
        device=args.device,
        out=args.out,
        fast=args.loader == "fast",
        resume=args.resume,
        progress=args.progress,
    )
    if not metrics.get("interrupted"):
        return 0
    checkpoint = Path(args.out) / "model.pt"
    if metrics["epochs"]:
        print(f"Stopped: {checkpoint} holds {metrics['epochs']} epoch(s); continue with --resume {checkpoint}")
    elif args.resume:
        print(f"Stopped before an epoch ended: continue with --resume {args.resume}")
    else:
        print("Stopped before the first epoch ended: nothing was saved")
    return 130


def evaluate(args: argparse.Namespace) -> int:
    """`mnist-tutorial evaluate`: print the test accuracy of a saved model."""
    evaluate_checkpoint(
        checkpoint=args.checkpoint, dataset=args.dataset, data_dir=args.data_dir, source=args.source, device=args.device
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
