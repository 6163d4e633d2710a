"""Flags that several subcommands share."""

import argparse

from .. import defaults
from ..sources import SOURCES
from ..train import DEVICES


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    """--data-dir, --source and --device, as `train` and `evaluate` take them."""
    parser.add_argument("--data-dir", default=None, help="where downloads land (default: the data/ folder)")
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
