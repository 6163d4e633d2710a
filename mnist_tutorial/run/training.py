"""A whole training run, on one process or data-parallel on N (`nproc`): check, prepare and lock the output folder,
start afresh or where a checkpoint left off, save model.pt every epoch, and end with the four outputs, or with the
epochs saved when interrupted.

With `nproc`, the parent checks the settings, prepares and locks the output folder, then starts N processes that
meet over TCP on this machine (parallel/launch.py). Each trains on its shard (parallel/ddp.py); rank 0 prints and
writes the same four outputs as a single-process run. Started by `torchrun` instead (RANK and WORLD_SIZE in the
environment: several GPUs, several machines), the process joins that group and does the same, and rank 0 holds
the lock. Either way the processes end with whoever started them: none trains on with nobody holding its lock.
"""

import contextlib
import dataclasses
import inspect
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from ..checkpoint import load_checkpoint, model_from_checkpoint
from ..data import Data, load_data, make_loaders
from ..errors import CheckpointError, ConfigError, OutputError, keywords_only
from ..history import METRICS, History
from ..model import NeuralNetwork
from ..parallel.ddp import ShardedRun, backend_for, per_rank_batch, train_shard
from ..parallel.launch import launch, tie_to
from ..settings import SETTINGS
from ..train import fit, make_optimizer, seed_everything
from .config import RunConfig, settle
from .evaluation import check_classes
from .lock import OutputLock
from .outputs import CheckpointSaver, finish, prepare_out


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
        return train_on_processes(config, state)
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


class WholeRun(ShardedRun):
    """The hooks of ShardedRun (parallel/ddp.py) for a settled run (`state`: the checkpoint it resumes, or None).

    loader: the single-process run's training loader, whose shuffle state is restored and saved (None: shards; a
    single-process run sets it once its loaders are made).
    """

    def __init__(self, config: RunConfig, state: dict[str, Any] | None) -> None:
        shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(ShardedRun) if hasattr(config, f.name)}
        super().__init__(**shared, silent=False)
        self.config, self.state, self.loader = config, state, None

    def start(self, data: Data) -> NeuralNetwork:
        """The network to train: fresh at the run's sizes, or the checkpoint's once it is shown to fit this data."""
        config, self.config = self.config, dataclasses.replace(self.config, source=data.source.kind)  # as recorded
        if self.state is None:
            return NeuralNetwork(hidden1=config.hidden1, hidden2=config.hidden2)
        model = model_from_checkpoint(config.resume, self.state)
        check_classes(config.resume, model, config.dataset)  # the data is the checkpoint's: settle kept its source
        return model

    def resume(self, optimizer: torch.optim.Optimizer) -> History:
        """The checkpoint's history, its optimizer (at the run's lr and momentum) and shuffling put back; or none."""
        path, state = self.config.resume, self.state
        if state is None:
            return History()
        try:
            history = History.from_dict(state["history"])
            if state.get("optimizer_state"):
                optimizer.load_state_dict(state["optimizer_state"])  # load_checkpoint checked its shapes
            for group in optimizer.param_groups:
                group.update(lr=self.lr, momentum=self.momentum)
            if self.loader is not None and state.get("shuffle_state") is not None:
                self.loader.generator.set_state(state["shuffle_state"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"{path} holds a training state that does not fit this run ({error}): train without `resume`"
            ) from None
        print(f"Resuming from {path} after epoch {history.epochs}")
        return history

    def callbacks(self, rank: int, model: NeuralNetwork, optimizer: torch.optim.Optimizer) -> list:
        self.saver = CheckpointSaver(self.config, model=model, optimizer=optimizer, loader=self.loader)
        return [self.save] if rank == 0 else []

    def save(self, history: History) -> None:
        """fit's callback: model.pt, and after an interrupted save the history cut back to what model.pt holds
        (so that fit's "Interrupted: ... N complete epoch(s)" and the run's count agree)."""
        try:
            self.saver(history)
        except KeyboardInterrupt:
            kept = self.saver.saved_epochs(history) or 0
            for name in METRICS:
                del getattr(history, name)[kept:]
            raise

    def report(self, rank: int, model: NeuralNetwork, history: History, *, train_loader, **done: Any) -> Any:
        """Rank 0: the metrics of a finished run (`done`: finish's keywords), or the epochs an interrupted one saved."""
        if rank != 0:
            return None
        return self.stopped(history) if history.interrupted else finish(self.saver, history, **done)

    def stopped(self, history: History) -> dict[str, Any]:
        """What an interrupted run returns: how many epochs model.pt holds (None: this run saved none)."""
        return {"interrupted": True, "epochs": self.saver.saved_epochs(history)}


def in_torchrun() -> bool:
    """True when this process was started by torchrun (or another launcher that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def train_on_processes(config: RunConfig, state: dict[str, Any] | None) -> dict[str, Any]:
    """A settled run (run.config.settle) on `config.nproc` processes (under torchrun: torchrun's group).

    Returns rank 0's metrics (other ranks under torchrun: {}); an interrupted run {"interrupted": True, "epochs": n}.
    """
    if config.loader != "fast":
        raise ConfigError("`loader=lesson` cannot be split across processes: leave `loader` out (fast) for `nproc`")
    config = dataclasses.replace(config, nproc=int(os.environ["WORLD_SIZE"]) if in_torchrun() else config.nproc)
    most = None if in_torchrun() else torch.cuda.device_count() if config.device == "cuda" else os.cpu_count()
    per_rank_batch(config.batch_size, config.nproc, most=most)
    check_devices(torch.device(config.device), config.nproc)
    if in_torchrun():
        tie_to(os.getppid())  # torchrun's agent: killed, it takes this process along, and the lock with it
        rank = int(os.environ["RANK"])
        if rank == 0:
            prepare_out(config.out)
        return train_shard(rank, config.nproc, None, RunOnShards(config, state)) or {}
    prepare_out(config.out)
    started = time.time()
    with OutputLock(config.out):
        try:
            return launch(train_shard, config.nproc, RunOnShards(config, state))[0]
        except KeyboardInterrupt:
            return {"interrupted": True, "epochs": epochs_saved_since(config.out / "model.pt", started)}


def check_devices(device: torch.device, world_size: int) -> None:
    """Refuse a device that cannot be shared this way: nccl needs one GPU per process on this machine."""
    backend_for(device)
    gpus = torch.cuda.device_count()
    if device.type == "cuda" and not in_torchrun() and world_size > gpus:
        raise ConfigError(
            f"`nproc={world_size}` needs {world_size} GPUs, and this machine has {gpus}: pass `nproc={gpus}`, "
            "or `device=cpu`"
        )


def epochs_saved_since(path: Path, started: float) -> int | None:
    """How many epochs model.pt holds, if this run wrote it (it may be an earlier run's)."""
    if not path.is_file() or path.stat().st_mtime < started:
        return None
    return load_checkpoint(path)["epoch"]


class RunOnShards(WholeRun):
    """A whole run on each process: the first of each machine loads the data; under torchrun rank 0 holds the lock
    (a run started by `launch` is locked by its parent)."""

    def guard(self, rank: int) -> contextlib.AbstractContextManager:
        return locked_by_rank0(self.config.out, rank) if in_torchrun() else contextlib.nullcontext()

    def load(self, rank: int) -> Data:
        """The run's data; the first process of each machine alone may download it, the others wait, then read it."""
        config = self.config
        first = int(os.environ.get("LOCAL_RANK", rank)) == 0
        data = load_data(dataset=config.dataset, source=config.source, data_dir=config.data_dir) if first else None
        dist.barrier()  # N processes downloading into one folder at once would overwrite each other's files
        return data or load_data(dataset=config.dataset, source=config.source, data_dir=config.data_dir, download=False)


@contextlib.contextmanager
def locked_by_rank0(out: Path, rank: int) -> Iterator[None]:
    """Rank 0 holds the output lock for the block; if another run holds it, every rank stops with its message."""
    with contextlib.ExitStack() as stack:
        refusal: list[str | None] = [None]
        if rank == 0:
            try:
                stack.enter_context(OutputLock(out))
            except OutputError as error:
                refusal = [str(error)]
        dist.broadcast_object_list(refusal, src=0)  # the others would otherwise wait for rank 0 until the timeout
        if refusal[0] is not None:
            raise OutputError(refusal[0])
        yield
