"""`mnist-tutorial evaluate`: print the test accuracy of a saved model."""

import argparse

from ..dataset_specs import DATASETS
from ..run.evaluate import evaluate_checkpoint
from .common import add_data_flags


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="print the test accuracy of a saved model")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--dataset", choices=list(DATASETS), default=None, help="default: the checkpoint's")
    add_data_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    evaluate_checkpoint(
        checkpoint=args.checkpoint, dataset=args.dataset, data_dir=args.data_dir, source=args.source, device=args.device
    )
    return 0
