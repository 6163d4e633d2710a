"""The lesson's training on N processes with torch.distributed (notebook 07 and `train --nproc` alike).

DistributedDataParallel keeps a copy of the network per process and averages their gradients in `backward()`,
so the copies stay identical. gloo on the CPU, nccl on CUDA; the global batch is split evenly, never changed.
"""

import contextlib
import dataclasses
import gc
import io
import math
import os
import time
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from ..data import Data, TensorLoader, make_test_loader
from ..defaults import BATCH_SIZE, LR, MOMENTUM, SEED
from ..errors import ConfigError
from ..history import History
from ..model import NeuralNetwork
from ..settings import check_count
from ..train import fit, make_optimizer, seed_everything
from .launch import TIMEOUT, join_meeting, launch

BACKENDS = {"cpu": "gloo", "cuda": "nccl"}


def backend_for(device: str | torch.device) -> str:
    """The torch.distributed backend for `device`: gloo on the CPU, nccl on CUDA."""
    kind = torch.device(device).type
    if kind not in BACKENDS:
        raise ConfigError(f"`device={kind}` cannot train data-parallel: use `device=cpu` or `device=cuda`")
    return BACKENDS[kind]


def per_rank_batch(batch_size: int, world_size: int, *, most: int | None = None) -> int:
    """Each process's share of the global batch; refuses a `world_size` that does not divide it (suggesting
    divisors up to `most`, the processes this machine can run)."""
    check_count("nproc", world_size)
    if batch_size % world_size:
        divisors = ", ".join(str(n) for n in range(1, min(batch_size, most or batch_size) + 1) if batch_size % n == 0)
        raise ConfigError(
            f"`nproc={world_size}` does not divide `batch_size={batch_size}`, so the processes cannot split each "
            f"batch evenly: pass an `nproc` that divides it ({divisors})"
        )
    return batch_size // world_size


class ShardedLoader(TensorLoader):
    """A TensorLoader over DistributedSampler's shard (seed + epoch; `epoch` counts passes from 0, as set_epoch).

    images: (N, 28, 28) uint8; labels: (N,). Yields (inputs (b, 1, 28, 28) float32, labels (b,)) on `device`.
    """

    def __init__(self, images, labels, *, batch_size, rank, world_size, seed, device="cpu", epoch=0) -> None:
        super().__init__(images, labels, batch_size=batch_size, shuffle=True, device=device)
        self.epoch = epoch
        # DistributedSampler only needs the dataset's length: the order is its own, not a copy of its rules.
        self.sampler = DistributedSampler(range(len(labels)), num_replicas=world_size, rank=rank, seed=seed)

    def __len__(self) -> int:
        return math.ceil(self.sampler.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        return self._gather(torch.tensor(list(self.sampler), device=self.labels.device))


@contextlib.contextmanager
def process_group(rank: int, world_size: int, *, device: str, store_port: int | None) -> Iterator[torch.device]:
    """Join the process group for the block; yields this process's device (its own GPU on CUDA).

    store_port: where `launch` has the processes meet; None under torchrun, whose environment says where."""
    backend, local = backend_for(device), torch.device(device)
    if local.type == "cuda":
        # torchrun says which GPU of this machine is ours; processes spawned here number them from 0.
        local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
        torch.cuda.set_device(local)
    meeting = {"init_method": "env://"} if store_port is None else {"store": join_meeting(store_port, world_size)}
    dist.init_process_group(backend, rank=rank, world_size=world_size, timeout=TIMEOUT, **meeting)
    try:
        yield local
    finally:
        # A DDP wrapper sits in a reference cycle that holds the group: left to the exit, gloo's threads are
        # torn down unjoined and the process aborts ("terminate called without an active exception").
        gc.collect()
        dist.destroy_process_group()


def mean_over_processes(history: History) -> None:
    """Replace the last epoch's training loss by its mean over all processes (each has as many batches)."""
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    loss = torch.tensor([history.train_loss[-1]], dtype=torch.float64, device=device)
    dist.all_reduce(loss)
    history.train_loss[-1] = loss.item() / dist.get_world_size()


def same_parameters(model: nn.Module) -> float:
    """The largest difference between any two processes' copies of any parameter (0.0: all identical)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    high, low = flat.clone(), flat.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    return (high - low).max().item()


@dataclasses.dataclass
class ShardedRun:
    """What each process trains: the lesson's network on its shard of `data`. The hooks are 07's; the run layer's
    (run/training.py) lock, load, resume, save and write. Only rank 0 prints, unless `silent`."""

    data: Data | None = None
    num_epochs: int = 1
    batch_size: int = BATCH_SIZE
    lr: float = LR
    momentum: float = MOMENTUM
    seed: int = SEED
    device: str = "cpu"
    progress: bool | None = False
    silent: bool = True

    def guard(self, rank: int) -> contextlib.AbstractContextManager:  # held around training, once the group met
        return contextlib.nullcontext()

    def load(self, rank: int) -> Data:
        return self.data

    def start(self, data: Data) -> nn.Module:
        return NeuralNetwork()

    def resume(self, optimizer: torch.optim.Optimizer) -> History:  # the history to continue
        return History()

    def callbacks(self, rank: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> list:
        return []

    def report(self, rank: int, model: nn.Module, history: History, *, train_loader, **done: Any) -> Any:
        """What a process returns: its history, batches, the ranks' `spread` and (rank 0) the weights as arrays."""
        weights = {name: t.detach().cpu().numpy() for name, t in model.state_dict().items()} if rank == 0 else None
        spread = same_parameters(model)
        return {"rank": rank, "batches": len(train_loader), "batch_size": train_loader.batch_size, "spread": spread,
                "weights": weights, **history.to_dict()}  # fmt: skip

    def stopped(self, history: History) -> Any:
        raise KeyboardInterrupt


def train_shard(rank: int, world_size: int, store_port: int | None, run: ShardedRun) -> Any:
    """One process of a data-parallel run (`launch`'s worker, or a torchrun process): train, then `run.report`."""
    with (
        process_group(rank, world_size, device=run.device, store_port=store_port) as device,
        contextlib.redirect_stdout(io.StringIO()) if run.silent or rank != 0 else contextlib.nullcontext(),
        run.guard(rank),
    ):
        seed_everything(run.seed)
        data = run.load(rank)
        model = run.start(data).to(device)
        optimizer = make_optimizer(model, lr=run.lr, momentum=run.momentum)
        history = run.resume(optimizer)
        train_loader = ShardedLoader(data.train.images, data.train.labels, rank=rank, world_size=world_size,
                                     batch_size=per_rank_batch(run.batch_size, world_size), seed=run.seed,
                                     device=device, epoch=history.epochs)  # fmt: skip
        test_loader = make_test_loader(data, device=device)
        replicated = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        callbacks = [mean_over_processes, *run.callbacks(rank, model, optimizer)]
        epochs_before, started = history.epochs, time.perf_counter()
        try:
            fit(replicated, train_loader, test_loader, num_epochs=run.num_epochs, optimizer=optimizer, device=device,
                history=history, progress=run.progress if rank == 0 else False, callbacks=callbacks)  # fmt: skip
            result = run.report(rank, model, history, data=data, train_loader=train_loader, test_loader=test_loader,
                                epochs_before=epochs_before, started=started)  # fmt: skip
        except KeyboardInterrupt:  # under torchrun (processes launched here ignore Ctrl-C): rank 0 says what it saved
            if rank != 0:
                raise
            result = run.stopped(history)
        del replicated
        dist.barrier()  # leave together: a process torn down while rank 0 still writes can abort in gloo's threads
        return result


def train_data_parallel(data: Data, *, nproc: int, **settings: Any) -> list[dict[str, Any]]:
    """Train the lesson's network on `nproc` processes, silently; each rank's report (settings: ShardedRun's)."""
    run = ShardedRun(data=data, **settings)
    per_rank_batch(run.batch_size, nproc)  # refused before any process starts
    backend_for(run.device)
    return launch(train_shard, nproc, run)
