"""`mnist-tutorial train`: the flags map one-to-one onto train_and_save's keyword arguments."""

import argparse
from pathlib import Path

from .. import defaults
from ..dataset_specs import DATASETS
from ..run.distributed import in_torchrun, train_and_save_parallel
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
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train data-parallel on N processes of this machine (torch.distributed: gloo on the CPU, nccl on CUDA, "
        "one GPU each); the global batch stays --batch-size and each process takes 1/N of it, so N must divide it "
        "(default: 1). Started by torchrun, the run joins torchrun's processes instead",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="on CUDA with the fast loader, replay each training step from a CUDA graph (see benchmarks/README.md)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = dict(
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
    if args.nproc != 1 or in_torchrun():
        metrics = train_and_save_parallel(nproc=args.nproc, **settings, cuda_graphs=args.cuda_graphs)
    else:
        metrics = train_and_save(**settings, cuda_graphs=args.cuda_graphs)
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
