"""`mnist-tutorial train --nproc N`: the same run as train_and_save, data-parallel on N processes.

The parent checks the settings, prepares and locks the output folder, then starts N processes
(torch.multiprocessing, "spawn") that meet over TCP on this machine. Each trains the lesson's network on
its shard (parallel/ddp.py); rank 0 prints and writes the same four outputs as a single-process run.
Started by `torchrun` instead (RANK, WORLD_SIZE, MASTER_ADDR in the environment: several GPUs, several
machines), the process joins that group and does the same, without spawning anything; rank 0 then holds the lock.
Either way the processes end with whoever started them: none trains on with nobody holding its lock.
"""

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from ..checkpoint import load_checkpoint
from ..data import Data, load_data, make_test_loader
from ..errors import ConfigError, OutputError
from ..history import History
from ..parallel.ddp import (
    ShardedLoader,
    backend_for,
    fit_data_parallel,
    per_rank_batch,
    process_group,
    quiet_unless_rank0,
)
from ..parallel.launch import launch
from ..parallel.lifeline import tie_to
from ..train import make_optimizer, seed_everything
from .config import RunConfig
from .lock import OutputLock
from .outputs import CheckpointSaver, finish, prepare_out
from .resume import restore, saving, start_model, stopped


def in_torchrun() -> bool:
    """True when this process was started by torchrun (or another launcher that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def train_data_parallel(config: RunConfig, state: dict[str, Any] | None) -> dict[str, Any]:
    """A settled run (run.config.settle) on `config.nproc` processes, each with batch_size // nproc.

    Under torchrun, `nproc` is ignored: the group is the one torchrun started. Returns rank 0's metrics
    (other ranks under torchrun: {}); an interrupted run returns {"interrupted": True, "epochs": ...}.
    """
    if config.cuda_graphs:
        raise ConfigError("`cuda_graphs` replays one process's steps: leave out `cuda_graphs` or `nproc`")
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
        return train_rank(rank, config.nproc, None, config) or {}
    prepare_out(config.out)
    started = time.time()
    with OutputLock(config.out):
        try:
            return launch(train_rank, config.nproc, config)[0]
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


def train_rank(rank: int, world_size: int, store_port: int | None, config: RunConfig) -> dict[str, Any] | None:
    """One process of the run: train on its shard; rank 0 also saves every epoch and writes the outputs.

    Under torchrun (`store_port` None) rank 0 holds the output lock; a run started by `launch` is locked by it.
    """
    with (
        process_group(rank, world_size, device=config.device, store_port=store_port) as device,
        quiet_unless_rank0(),
        locked_by_rank0(config.out, rank) if store_port is None else contextlib.nullcontext(),
    ):
        seed_everything(config.seed)
        state = load_checkpoint(config.resume) if config.resume else None
        data = load_data_once_per_machine(config, rank)
        model = start_model(config, state, data).to(device)
        config = dataclasses.replace(config, source=data.source.kind)
        optimizer = make_optimizer(model, lr=config.lr, momentum=config.momentum)
        train_loader = ShardedLoader(
            data.train.images,
            data.train.labels,
            batch_size=per_rank_batch(config.batch_size, world_size),
            rank=rank,
            world_size=world_size,
            seed=config.seed,
            device=device,
        )
        test_loader = make_test_loader(data, device=device)
        history = History()
        if state:
            history = restore(config.resume, state, optimizer, None, lr=config.lr, momentum=config.momentum)
        train_loader.epoch = history.epochs  # the shards follow the epoch number
        saver = CheckpointSaver(config, model=model, optimizer=optimizer, loader=None)
        epochs_before, started = history.epochs, time.perf_counter()
        try:
            history = fit_data_parallel(
                model,
                train_loader,
                test_loader,
                num_epochs=config.num_epochs,
                optimizer=optimizer,
                device=device,
                history=history,
                progress=config.progress,
                callbacks=[saving(saver)] if rank == 0 else [],
            )
            result = outcome(
                rank, saver, history, data=data, test_loader=test_loader, epochs_before=epochs_before, started=started
            )
        except KeyboardInterrupt:  # under torchrun, past fit's own handling (processes spawned here ignore Ctrl-C)
            if rank != 0:
                raise
            result = stopped(saver, history)  # rank 0 wrote model.pt: say what it holds
        dist.barrier()  # leave together: a process torn down while rank 0 still writes can abort in gloo's threads
        return result


def outcome(rank: int, saver: CheckpointSaver, history: History, **finished: Any) -> dict[str, Any] | None:
    """What a process returns: rank 0 the metrics of a finished run or the epochs an interrupted one saved; others None.

    finished: finish()'s keyword arguments.
    """
    if rank != 0:
        return None
    if history.interrupted:
        return stopped(saver, history)
    return finish(saver, history, **finished)


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


def load_data_once_per_machine(config: RunConfig, rank: int) -> Data:
    """The run's data; the first process of each machine alone may download it, the others wait, then read it."""
    first = int(os.environ.get("LOCAL_RANK", rank)) == 0

    def load(download: bool) -> Data:
        return load_data(dataset=config.dataset, source=config.source, data_dir=config.data_dir, download=download)

    data = load(download=True) if first else None
    dist.barrier()  # N processes downloading into one folder at once would overwrite each other's files
    return data or load(download=False)
