"""mnist_tutorial: the code behind the notebooks, one small module per step of the lesson.

`import mnist_tutorial` loads the lesson alone. The whole runs the command line offers (`train_and_save`,
`evaluate_checkpoint`) load run/, parallel/ and matplotlib, so they are imported on first use.
"""

import importlib
import os
import signal
import sys
from pathlib import Path
from typing import Any


def leave_on_ctrl_c(signum: int, frame: object) -> None:
    """A signal handler while the command starts: its one line on stderr, then exit status 130 at once."""
    os.write(2, b"mnist-tutorial: interrupted\n")
    os._exit(130)  # nothing is written yet; unwinding a half-made import could only add a traceback


# Started as the command, torch loads (about 3 s) before cli.main() can run: a Ctrl-C there ends in the command's
# one line, not a traceback. A Ctrl-C its starter chose to ignore (a script's `command &`) stays ignored.
as_command = Path(sys.argv[0]).stem == "mnist-tutorial" or sys.orig_argv[1:3] == ["-m", "mnist_tutorial"]
if as_command and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
    signal.signal(signal.SIGINT, leave_on_ctrl_c)

from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .data import (
    Data,
    ImageDataset,
    Split,
    TensorLoader,
    lesson_transform,
    load_data,
    make_loaders,
    make_test_loader,
    normalize,
)
from .datasets.sources import resolve_source
from .errors import (
    CheckpointError,
    ConfigError,
    DataError,
    OutputError,
    TrainingDivergedError,
    TutorialError,
    WorkerDiedError,
)
from .evaluate import confusion_matrix, evaluate, most_confident_mistakes, per_class_accuracy, predict
from .history import History
from .model import NeuralNetwork, count_parameters
from .train import cpu_threads, fit, make_optimizer, pick_device, seed_everything, train_one_epoch

# fmt: off
__all__ = [
    "CheckpointError", "ConfigError", "Data", "DataError", "History", "ImageDataset", "NeuralNetwork", "OutputError",
    "Split", "TensorLoader", "TrainingDivergedError", "TutorialError", "WorkerDiedError", "confusion_matrix",
    "count_parameters", "cpu_threads", "evaluate", "evaluate_checkpoint", "fit", "lesson_transform",
    "load_checkpoint", "load_data", "load_model", "make_loaders", "make_optimizer", "make_test_loader",
    "most_confident_mistakes", "normalize", "per_class_accuracy", "pick_device", "predict", "resolve_source",
    "save_checkpoint", "seed_everything", "train_and_save", "train_one_epoch",
]
# fmt: on
ON_FIRST_USE = {"evaluate_checkpoint": "run", "train_and_save": "run"}  # name -> the folder it is imported from


def __getattr__(name: str) -> Any:
    """The names of ON_FIRST_USE, imported from their folder when first asked for (PEP 562)."""
    if name not in ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{ON_FIRST_USE[name]}"), name)
    globals()[name] = value  # asked once: later lookups find it without coming back here
    return value
