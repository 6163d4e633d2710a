"""A whole training run: check, prepare and lock the output folder, train (or resume), save the four outputs."""

import inspect
import time
from typing import Any

from ..data import load_data, make_loaders
from ..errors import keywords_only
from ..settings import SETTINGS
from ..train import fit, make_optimizer, seed_everything
from .config import RunConfig, settle
from .data_parallel import in_torchrun, train_data_parallel
from .lock import OutputLock
from .outputs import prepare_out
from .resume import WholeRun


def train_and_save(**settings: Any) -> dict[str, Any]:
    """Train the lesson's network and write model.pt, metrics.json, loss.png and predictions.png to `out`.

    The keywords are settings.SETTINGS, in its order. Left as None, a setting takes the lesson's value, or with
    `resume` the checkpoint's. model.pt is rewritten every epoch, so an interrupted run can go on with `resume` to
    the weights of an uninterrupted one. Returns the metrics written; an interrupted run {"interrupted": True,
    "epochs": epochs in model.pt or None}.
    """
    return train(RunConfig(**settings))


# Its keywords, read from the table (help() and editors show them): one per setting, with the setting's default.
train_and_save.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=s.unset, annotation=s.type | None)
     for s in SETTINGS],
    return_annotation=dict[str, Any],
)  # fmt: skip
train_and_save = keywords_only(train_and_save)


def train(config: RunConfig) -> dict[str, Any]:
    """The run `config` describes, on one process or data-parallel (see train_and_save)."""
    config, state = settle(config)
    if config.nproc != 1 or in_torchrun():
        return train_data_parallel(config, state)
    prepare_out(config.out)
    with OutputLock(config.out):
        return train_one_process(config, state)


def train_one_process(config: RunConfig, state: dict[str, Any] | None) -> dict[str, Any]:
    """Train on this process; model.pt after every epoch, the other outputs at the end."""
    run = WholeRun(config, state)
    seed_everything(config.seed)
    data = load_data(dataset=config.dataset, source=config.source, data_dir=config.data_dir)
    model = run.start(data).to(config.device)
    optimizer = make_optimizer(model, lr=config.lr, momentum=config.momentum)
    fast = config.loader == "fast"
    run.loader, test_loader = make_loaders(data, batch_size=config.batch_size, fast=fast, device=config.device,
                                           seed=config.seed)  # fmt: skip
    history, callbacks = run.resume(optimizer), run.callbacks(0, model, optimizer)
    epochs_before, started = history.epochs, time.perf_counter()
    try:
        fit(model, run.loader, test_loader, num_epochs=config.num_epochs, optimizer=optimizer, device=config.device,
            history=history, progress=config.progress, callbacks=callbacks)  # fmt: skip
        return run.report(0, model, history, data=data, train_loader=run.loader, test_loader=test_loader,
                          epochs_before=epochs_before, started=started)  # fmt: skip
    except KeyboardInterrupt:  # past fit's own handling: while it closed its bars, or once the accuracy was printed
        return run.stopped(history)
