"""`mnist-tutorial train`: the flags map one-to-one onto train_and_save's keyword arguments."""

import argparse
from pathlib import Path

from .. import defaults
from ..dataset_specs import DATASETS
from ..run.train import train_and_save
from .common import add_data_flags

RESUME_RULE = (
    "continue from a saved model.pt; settings you do not pass (--dataset, --source, --batch-size, --loader, --lr, "
    "--momentum) follow the checkpoint, and one you pass that differs from it is refused"
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="train the network and write model.pt, metrics.json and plots")
    # Defaults of None mean "the lesson's value, or the checkpoint's with --resume" (train_and_save decides).
    parser.add_argument("--dataset", choices=list(DATASETS), default=None, help="default: mnist")
    add_data_flags(parser)
    parser.add_argument("--epochs", type=int, default=defaults.NUM_EPOCHS)
    parser.add_argument("--batch-size", type=int, default=None, help=f"default: {defaults.BATCH_SIZE}")
    parser.add_argument("--lr", type=float, default=None, help=f"default: {defaults.LR}")
    parser.add_argument("--momentum", type=float, default=None, help=f"default: {defaults.MOMENTUM}")
    parser.add_argument("--seed", type=int, default=defaults.SEED)
    parser.add_argument("--out", default="runs/latest", help="folder for the outputs (default: runs/latest)")
    parser.add_argument(
        "--loader",
        choices=["fast", "lesson"],
        default=None,
        help="fast (default): tensors kept in memory; lesson: torchvision transforms + DataLoader (same numbers)",
    )
    parser.add_argument("--resume", default=None, metavar="CHECKPOINT", help=RESUME_RULE)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
        loader=args.loader,
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
        print(f"Stopped before the first epoch ended: {args.out} is as it was before this run")
    return 130
