"""`mnist-tutorial doctor`: check that the course will work here; exit status 0 if so, else 1."""

import argparse

from ..doctor import doctor


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("doctor", help="check that the course will work here (never downloads)")
    parser.add_argument("--json", action="store_true", help="print one JSON report (for a teacher to collect)")
    parser.add_argument("--data-dir", default=None, help="where downloads land (default: the data/ folder)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return 0 if doctor(as_json=args.json, data_dir=args.data_dir) else 1
