"""The subcommands: each `add_*` declares its flags, and its `run_*` calls the library with them."""

import argparse
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..datasets.specs import DATASETS
from ..defaults import IDLE_MINUTES
from ..doctor import doctor
from ..run import RunConfig, evaluate_checkpoint, train
from ..settings import KEPT_ON_RESUME, SETTINGS, Setting
from . import leaving_at_once

DATA_FLAGS = ("data_dir", "source", "device")  # the settings `evaluate` shares with `train`


def add_flags(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """A flag for each setting (or each of `names`) as settings.SETTINGS declares it, read into args.<its name>."""
    for setting in SETTINGS:
        if names is None or setting.name in names:
            # A default of None means "the lesson's value, or the checkpoint's with --resume" (run.config.settle).
            parser.add_argument(
                setting.flag, dest=setting.name, default=setting.unset, help=help_text(setting), **reading(setting)
            )


def reading(setting: Setting) -> dict[str, Any]:
    """How argparse reads a flag: --x/--no-x where leaving it out means auto, a switch where it means off, a value."""
    if setting.type is bool:
        return {"action": argparse.BooleanOptionalAction if setting.default is None else "store_true"}
    number = setting.type if setting.type in (int, float) else str
    named = None if setting.choices else setting.flag[2:].upper().replace("-", "_")  # --epochs EPOCHS, as typed
    return {"type": number, "choices": setting.choices, "metavar": setting.metavar or named}


def help_text(setting: Setting) -> str:
    """A setting's help in the command line's words, with its default where it has one to show."""
    text = setting.help.format(kept=", ".join(kept.flag for kept in KEPT_ON_RESUME))
    return text if setting.default is None or setting.type is bool else f"{text} (default: {setting.default})"


def add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="train the network and write model.pt, metrics.json and plots")
    add_flags(parser)
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    config = RunConfig(**{setting.name: getattr(args, setting.name) for setting in SETTINGS})
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
    add_flags(parser, DATA_FLAGS)
    parser.set_defaults(run=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    evaluate_checkpoint(checkpoint=args.checkpoint, dataset=args.dataset, **{n: getattr(args, n) for n in DATA_FLAGS})
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
    add_flags(parser, ["data_dir"])
    report = (
        "also write the JSON report to DIR/NAME.json (a USB stick or shared folder); NAME is --name, or else this "
        "computer's name and a suffix of its own, so cloned machines never overwrite each other's reports"
    )
    parser.add_argument("--report-dir", default=None, metavar="DIR", help=report)
    parser.add_argument("--name", default=None, help="the report's name in --report-dir, such as the student's")
    run = (
        "also run one lesson end to end in a fresh kernel on the sample, with no network, and say how long it took: "
        "the one check a workshop laptop needs (default NOTEBOOK: 03_training.ipynb here, or in notebooks/)"
    )
    parser.add_argument("--run-notebook", nargs="?", const=True, default=False, metavar="NOTEBOOK", help=run)
    summary = "check nothing: print the room's table from the reports in DIR, one row per laptop, then the counts"
    parser.add_argument("--summary", default=None, metavar="DIR", help=summary)
    parser.set_defaults(run=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    if args.summary is not None:
        from ..doctor.summary import summary

        return 0 if summary(args.summary) else 1
    checks = {"data_dir": args.data_dir, "run_notebook": args.run_notebook, "report_dir": args.report_dir}
    return 0 if doctor(as_json=args.json, name=args.name, **checks) else 1


def add_room(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("room", help="start a JupyterHub for a workshop on this machine (docs/room.md)")
    add = parser.add_argument
    add("--practice", default="build/student", metavar="DIR", help="the practice copies `make student` wrote")
    add("--folder", default="build/room", metavar="DIR", help="where the room keeps its configuration and log")
    add("--password", dest="students_password", metavar="PASSWORD", help="the room's password (8+ characters)")
    add("--teacher-password", metavar="PASSWORD", help="the teacher's password (32+ characters; or made up)")
    add("--public", action="store_true", help="open the room to the room's network, not this machine only")
    add("--port", type=int, default=8000, help="the port students open (default: 8000)")
    add("--students", type=int, metavar="N", help="the most students at once (default: what the memory holds)")
    add("--idle-minutes", type=float, default=IDLE_MINUTES, help=f"stop servers unused this long ({IDLE_MINUTES})")
    add("--clean", action="store_true", help="remove every student account a room created, and their folders")
    parser.set_defaults(run=run_room)


def run_room(args: argparse.Namespace) -> int:
    from ..room import clean, start

    if args.clean:
        removed = clean()
        print(
            f"Removed {len(removed)} student accounts and their folders."
            if removed
            else "No student account to remove."
        )
        return 0
    room = start(
        folder=Path(args.folder),
        practice=Path(args.practice),
        students_password=args.students_password,
        teacher_password=args.teacher_password,
        public=args.public,
        port=args.port,
        students=args.students,
        idle_minutes=args.idle_minutes,
    )
    print(room.announcement(), flush=True)
    with room:  # stopped either way: its memory cgroups go even when JupyterHub ends by itself
        try:
            room.process.wait()
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (main turns it into one): how a teacher closes the room
            room.stop()
            print("The room is closed.")
            return 0
    print(f"JupyterHub stopped by itself: see {room.folder / 'jupyterhub.log'}", file=sys.stderr)
    return 1


COMMANDS = (add_train, add_evaluate, add_export, add_doctor, add_room)
