"""The four subcommands: each `add_*` declares its flags, and its `run_*` calls the library with them."""

import argparse

from .. import defaults
from ..datasets.sources import SOURCES
from ..datasets.specs import DATASETS
from ..doctor import doctor
from ..run import RunConfig, evaluate_checkpoint, train
from ..train import DEVICES
from . import leaving_at_once

RESUME_RULE = (
    "continue from a saved model.pt; settings you do not pass (--dataset, --source, --batch-size, --loader, --lr, "
    "--momentum) follow the checkpoint, and one you pass that differs from what it records is refused"
)


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


def add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="train the network and write model.pt, metrics.json and plots")
    # Defaults of None mean "the lesson's value, or the checkpoint's with --resume" (run.config.settle decides).
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
        help="on CUDA with the fast loader, replay each training step from a CUDA graph (tested bit for bit against "
        "eager on the CPU's code path; not yet run on a GPU: see benchmarks/README.md)",
    )
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    config = RunConfig(
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
        nproc=args.nproc,
        cuda_graphs=args.cuda_graphs,
    )
    try:
        metrics = train(config)
    except KeyboardInterrupt:
        if config.resume:  # stopped before training began: the checkpoint it resumes is as it was
            print(f"Stopped before an epoch ended: continue with --resume {config.resume}")
        raise
    if not metrics.get("interrupted"):
        return 0
    checkpoint = config.out / "model.pt"
    if metrics["epochs"]:
        print(f"Stopped: {checkpoint} holds {metrics['epochs']} epoch(s); continue with --resume {checkpoint}")
    elif args.resume:
        print(f"Stopped before an epoch ended: continue with --resume {args.resume}")
    else:
        print(f"Stopped before the first epoch ended: {args.out} is as it was before this run")
    return 130


def add_evaluate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="print the test accuracy of a saved model")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--dataset", choices=list(DATASETS), default=None, help="default: the checkpoint's")
    add_data_flags(parser)
    parser.set_defaults(run=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    evaluate_checkpoint(
        checkpoint=args.checkpoint, dataset=args.dataset, data_dir=args.data_dir, source=args.source, device=args.device
    )
    return 0


def add_export(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="write the network as ONNX and a page that runs it in a browser")
    parser.add_argument("--checkpoint", required=True, help="the model.pt that training wrote")
    parser.add_argument("--out", required=True, help="folder for model.onnx, metadata.json and index.html")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    with leaving_at_once():  # here: onnx takes most of a second to import, and only export needs it
        from ..deploy.export import export_model

    exported = export_model(checkpoint=args.checkpoint, out=args.out)
    size_kb = exported.onnx.stat().st_size / 1024
    print(f"Wrote {exported.onnx} ({size_kb:.0f} KB) and {exported.metadata}")
    print(f"Draw a digit for it: open {exported.page} in a browser (it works offline)")
    return 0


def add_doctor(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("doctor", help="check that the course will work here (never downloads)")
    parser.add_argument("--json", action="store_true", help="print one JSON report (for a teacher to collect)")
    parser.add_argument("--data-dir", default=None, help="where downloads land (default: the data/ folder)")
    parser.add_argument(
        "--report-dir",
        default=None,
        metavar="DIR",
        help="also write the JSON report to DIR/<this computer's name>.json (a USB stick or shared folder)",
    )
    parser.add_argument(
        "--run-notebook",
        nargs="?",
        const=True,
        default=False,
        metavar="NOTEBOOK",
        help="also run one lesson end to end in a fresh kernel on the sample, with no network, and say how long it "
        "took: the one check a workshop laptop needs (default NOTEBOOK: 03_training.ipynb here, or in notebooks/)",
    )
    parser.set_defaults(run=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    passed = doctor(
        as_json=args.json, data_dir=args.data_dir, run_notebook=args.run_notebook, report_dir=args.report_dir
    )
    return 0 if passed else 1


COMMANDS = (add_train, add_evaluate, add_export, add_doctor)
