"""`mnist-tutorial train --nproc N`: the same run as train_and_save, data-parallel on N processes.

The parent checks the settings, prepares and locks the output folder, then starts N processes that meet over
TCP on this machine (parallel/launch.py). Each trains on its shard (parallel/ddp.py); rank 0 prints and writes
the same four outputs as a single-process run. Started by `torchrun` instead (RANK and WORLD_SIZE in the
environment: several GPUs, several machines), the process joins that group and does the same, and rank 0 holds
the lock. Either way the processes end with whoever started them: none trains on with nobody holding its lock.
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
from ..data import Data, load_data
from ..errors import ConfigError, OutputError
from ..parallel.ddp import backend_for, per_rank_batch, train_shard
from ..parallel.launch import launch
from ..parallel.lifeline import tie_to
from .config import RunConfig
from .lock import OutputLock
from .outputs import prepare_out
from .resume import WholeRun


def in_torchrun() -> bool:
    """True when this process was started by torchrun (or another launcher that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def train_data_parallel(config: RunConfig, state: dict[str, Any] | None) -> dict[str, Any]:
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
