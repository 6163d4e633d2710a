"""`mnist-tutorial train --nproc N`: the same run as train_and_save, data-parallel on N processes.

The parent checks the settings, prepares and locks the output folder, then starts N processes
(torch.multiprocessing, "spawn") that meet over TCP on this machine. Each trains the lesson's network on
its shard (distributed.py); rank 0 prints and writes the same four outputs as a single-process run.
Started by `torchrun` instead (RANK, WORLD_SIZE, MASTER_ADDR in the environment: several GPUs, several
machines), the process joins that group and does the same, without spawning anything.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .. import defaults
from ..checkpoint import load_checkpoint
from ..data import Data, load_data, make_test_loader
from ..distributed import (
    ShardedLoader,
    backend_for,
    fit_data_parallel,
    launch,
    per_rank_batch,
    process_group,
    quiet_unless_rank0,
)
from ..errors import ConfigError
from ..history import History
from ..train import make_optimizer, seed_everything
from .lock import OutputLock
from .outputs import prepare_out
from .resume import restore
from .train import CheckpointSaver, check_run, finish, start_model


@dataclass(frozen=True)
class Job:
    """Everything a process needs to do its part of the run (sent to each spawned process)."""

    out: Path
    settings: dict[str, Any]
    resume: str | None
    data_dir: str | None
    num_epochs: int
    seed: int
    device: str
    progress: bool | None


def in_torchrun() -> bool:
    """True when this process was started by torchrun (or another launcher that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def train_and_save_parallel(
    *,
    nproc: int,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    source: str | None = None,
    num_epochs: int = defaults.NUM_EPOCHS,
    batch_size: int | None = None,
    lr: float | None = None,
    momentum: float | None = None,
    seed: int = defaults.SEED,
    device: str | None = None,
    out: str | os.PathLike = "runs/latest",
    loader: str | None = None,
    resume: str | os.PathLike | None = None,
    progress: bool | None = None,
    cuda_graphs: bool = False,
) -> dict[str, Any]:
    """train_and_save on `nproc` processes (global batch `batch_size`, each process batch_size // nproc).

    Under torchrun, `nproc` is ignored: the group is the one torchrun started. Returns rank 0's metrics
    (other ranks under torchrun: {}); an interrupted run returns {"interrupted": True, "epochs": ...}.
    """
    out = Path(out)
    requested = {"dataset": dataset, "source": source, "batch_size": batch_size, "loader": loader, "lr": lr}
    settings, _, torch_device = check_run(
        {**requested, "momentum": momentum}, num_epochs=num_epochs, seed=seed, device=device, resume=resume
    )
    if cuda_graphs:
        raise ConfigError("`cuda_graphs` replays one process's steps: leave out `cuda_graphs` or `nproc`")
    if settings["loader"] != "fast":
        raise ConfigError("`loader=lesson` cannot be split across processes: leave `loader` out (fast) for `nproc`")
    world_size = int(os.environ["WORLD_SIZE"]) if in_torchrun() else nproc
    per_rank_batch(settings["batch_size"], world_size)
    check_devices(torch_device, world_size)
    job = Job(out, settings, str(resume) if resume else None, str(data_dir) if data_dir else None, num_epochs, seed,
              torch_device.type, progress)  # fmt: skip
    if in_torchrun():
        rank = int(os.environ["RANK"])
        if rank == 0:
            prepare_out(out)
        return train_rank(rank, world_size, None, job) or {}
    prepare_out(out)
    started = time.time()
    with OutputLock(out):
        try:
            return launch(train_rank, nproc, job)[0]
        except KeyboardInterrupt:
            return {"interrupted": True, "epochs": epochs_saved_since(out / "model.pt", started)}


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


def train_rank(rank: int, world_size: int, store_port: int | None, job: Job) -> dict[str, Any] | None:
    """One process of the run: train on its shard; rank 0 also saves every epoch and writes the outputs."""
    with process_group(rank, world_size, device=job.device, store_port=store_port) as device, quiet_unless_rank0():
        seed_everything(job.seed)
        resumed = load_checkpoint(job.resume) if job.resume else None
        data = load_data_once_per_machine(job, rank)
        settings = dict(job.settings)
        model = start_model(job.resume, resumed, settings, data, device)
        optimizer = make_optimizer(model, lr=settings["lr"], momentum=settings["momentum"])
        train_loader = ShardedLoader(
            data.train.images, data.train.labels, batch_size=per_rank_batch(settings["batch_size"], world_size),
            rank=rank, world_size=world_size, seed=job.seed, device=device,
        )  # fmt: skip
        test_loader = make_test_loader(data, device=device)
        # The shards follow the epoch number, not a generator: a single-process checkpoint's shuffle state is moot.
        history = restore(job.resume, {**resumed, "shuffle_state": None}, optimizer, None) if resumed else History()
        train_loader.epoch = history.epochs
        saver = CheckpointSaver(job.out, model=model, optimizer=optimizer, loader=None, settings=settings)
        epochs_before, started = history.epochs, time.perf_counter()
        history = fit_data_parallel(model, train_loader, test_loader, num_epochs=job.num_epochs, optimizer=optimizer,
                                    device=device, history=history, progress=job.progress,
                                    callbacks=[saver] if rank == 0 else [])  # fmt: skip
        result = None
        if rank == 0 and history.interrupted:  # under torchrun; processes spawned here leave Ctrl-C to the parent
            result = {"interrupted": True, "epochs": saver.saved_epochs(history)}
        elif rank == 0:
            recorded = {**settings, "seed": job.seed, "device": str(device), "nproc": world_size}
            result = finish(job.out, saver, history, epochs_before, (model, data, test_loader), recorded,
                            started=started)  # fmt: skip
        dist.barrier()  # leave together: a process torn down while rank 0 still writes can abort in gloo's threads
        return result


def load_data_once_per_machine(job: Job, rank: int) -> Data:
    """The run's data; the first process of each machine alone may download it, the others wait, then read it."""
    first = int(os.environ.get("LOCAL_RANK", rank)) == 0

    def load(download: bool) -> Data:
        return load_data(dataset=job.settings["dataset"], source=job.settings["source"], data_dir=job.data_dir,
                         download=download)  # fmt: skip

    data = load(download=True) if first else None
    dist.barrier()  # N processes downloading into one folder at once would overwrite each other's files
    return data or load(download=False)
