"""The lesson's training on N processes with torch.distributed: each trains on its shard, gradients averaged.

DistributedDataParallel (DDP) keeps one copy of the network per process. Every process runs the lesson's
step on its own part of each batch; during `loss.backward()` DDP averages the gradients of all processes
with an all-reduce, so every copy takes the same optimizer step and the copies stay identical.

The rules, in one place:
- backend: gloo on the CPU, nccl on CUDA (one GPU per process); other devices are refused.
- batches: the global batch stays the lesson's 64 and each of N processes takes 64 // N of it. An N that
  does not divide the batch size is refused rather than silently changing the global batch.
- shards: exactly DistributedSampler's (shuffle with seed + epoch, pad by repeating the first images so
  that every process gets as many, drop_last=False), because the order comes from DistributedSampler itself.
- only rank 0 prints and writes; the others train silently.
"""

import contextlib
import functools
import io
import math
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from ..data import Data, TensorLoader, make_test_loader
from ..defaults import BATCH_SIZE, LR, MOMENTUM, SEED
from ..errors import ConfigError
from ..history import History
from ..model import NeuralNetwork
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
    """Each process's share of the global batch; refuses a `world_size` that does not divide it.

    `most`: the most processes this machine can run (its CPUs or GPUs), the largest `nproc` the refusal suggests.
    """
    if world_size < 1:
        raise ConfigError(f"`nproc={world_size}` is not a positive whole number: pass 1 or more")
    if batch_size % world_size:
        most = min(batch_size, most or batch_size)
        divisors = ", ".join(str(n) for n in range(1, most + 1) if batch_size % n == 0)
        raise ConfigError(
            f"`nproc={world_size}` does not divide `batch_size={batch_size}`, so the processes cannot split each "
            f"batch evenly: pass an `nproc` that divides it ({divisors})"
        )
    return batch_size // world_size


class ShardedLoader(TensorLoader):
    """One process's batches of a data-parallel run: a TensorLoader over DistributedSampler's shard.

    images: (N, 28, 28) uint8; labels: (N,). Yields (inputs (b, 1, 28, 28) float32, labels (b,)) on `device`.
    Each pass uses the next epoch's shuffle (`epoch` counts passes, from 0, as `set_epoch` does), so a run
    resumed after k epochs sets `epoch = k` and continues with the same shards it would have had.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        rank: int,
        world_size: int,
        seed: int,
        device: str | torch.device = "cpu",
        epoch: int = 0,
    ) -> None:
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
def process_group(
    rank: int, world_size: int, *, device: str | torch.device, store_port: int | None = None
) -> Iterator[torch.device]:
    """Join the process group for the duration of the block; yields this process's device (cuda:rank on GPUs).

    store_port: where `launch` has the processes meet; None under torchrun, whose environment says where.
    """
    backend = backend_for(device)
    local = torch.device(device)
    if local.type == "cuda":
        # torchrun says which GPU of this machine is ours; processes spawned here number them from 0.
        local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
        torch.cuda.set_device(local)
    if store_port is None:
        dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world_size, timeout=TIMEOUT)
    else:
        store = join_meeting(store_port, world_size)
        dist.init_process_group(backend, store=store, rank=rank, world_size=world_size, timeout=TIMEOUT)
    try:
        yield local
    finally:
        dist.destroy_process_group()


def fit_data_parallel(model: torch.nn.Module, train_loader, test_loader, **fit_args: Any) -> History:
    """fit() on this process, with `model` in DDP; call inside `process_group`. Only rank 0 prints.

    The epoch's training loss in the history is the mean over all processes (one all-reduce per epoch);
    the running-loss lines are rank 0's share of each batch. Callbacks run on every process after that mean.
    """
    device = next(model.parameters()).device
    replicated = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    fit_args["callbacks"] = [mean_over_processes, *fit_args.get("callbacks", ())]
    with quiet_unless_rank0():
        if dist.get_rank() != 0:
            fit_args["progress"] = False
        return fit(replicated, train_loader, test_loader, **fit_args)


def mean_over_processes(history: History) -> None:
    """Replace the last epoch's training loss by its mean over all processes (each has as many batches)."""
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    loss = torch.tensor([history.train_loss[-1]], dtype=torch.float64, device=device)
    dist.all_reduce(loss)
    history.train_loss[-1] = loss.item() / dist.get_world_size()


@contextlib.contextmanager
def quiet_unless_rank0() -> Iterator[None]:
    """Swallow this process's printing unless it is rank 0 (or not in a process group)."""
    if not dist.is_initialized() or dist.get_rank() == 0:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def same_parameters(model: torch.nn.Module) -> float:
    """The largest difference between any two processes' copies of any parameter (0.0: all identical)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    high, low = flat.clone(), flat.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    return (high - low).max().item()


def train_data_parallel(
    data: Data,
    *,
    nproc: int,
    num_epochs: int = 1,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    momentum: float = MOMENTUM,
    seed: int = SEED,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """Train the lesson's network on `nproc` processes, silently; returns what each rank reports.

    The global batch `batch_size` is split across the processes. Each report holds the rank's history
    (train_loss, test_accuracy, seconds per epoch...), its batch size and batches per epoch, `spread`
    (same_parameters after training) and, from rank 0, the weights as arrays.
    """
    per_rank_batch(batch_size, nproc)  # refuse before starting any process
    backend_for(device)
    settings = dict(num_epochs=num_epochs, batch_size=batch_size, lr=lr, momentum=momentum, seed=seed, device=device)
    return launch(functools.partial(train_worker, data=data, **settings), nproc)


def train_worker(rank: int, world_size: int, store_port: int, *, data: Data, **settings: Any) -> dict:
    """One process of `train_data_parallel` (settings: its keyword arguments)."""
    batch_size = per_rank_batch(settings["batch_size"], world_size)
    with (
        process_group(rank, world_size, device=settings["device"], store_port=store_port) as device,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        seed_everything(settings["seed"])
        model = NeuralNetwork().to(device)
        optimizer = make_optimizer(model, lr=settings["lr"], momentum=settings["momentum"])
        train = ShardedLoader(
            data.train.images,
            data.train.labels,
            batch_size=batch_size,
            rank=rank,
            world_size=world_size,
            seed=settings["seed"],
            device=device,
        )
        test = make_test_loader(data, device=device)
        num_epochs = settings["num_epochs"]
        history = fit_data_parallel(
            model, train, test, optimizer=optimizer, num_epochs=num_epochs, device=device, progress=False
        )
        spread = same_parameters(model)
    weights = {name: t.detach().cpu().numpy() for name, t in model.state_dict().items()} if rank == 0 else None
    report = {"rank": rank, "batches": len(train), "batch_size": batch_size, "spread": spread, "weights": weights}
    return {**report, **history.to_dict()}
