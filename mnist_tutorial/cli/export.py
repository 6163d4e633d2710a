"""`mnist-tutorial export`: the trained network as ONNX, with a web page that runs it offline."""

import argparse

from ..export import export_model


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="write the network as ONNX and a page that runs it in a browser")
    parser.add_argument("--checkpoint", required=True, help="the model.pt that training wrote")
    parser.add_argument("--out", required=True, help="folder for model.onnx, metadata.json and index.html")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    exported = export_model(checkpoint=args.checkpoint, out=args.out)
    size_kb = exported.onnx.stat().st_size / 1024
    print(f"Wrote {exported.onnx} ({size_kb:.0f} KB) and {exported.metadata}")
    print(f"Draw a digit for it: open {exported.page} in a browser (it works offline)")
    return 0
