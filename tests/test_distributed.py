"""distributed and run/distributed: data-parallel training over gloo on the CPU, and the `--nproc` run.

Each launch starts fresh processes that import torch (a few seconds each on 2 cores), so the two tests that
launch train small data for few steps, and the rules are checked without processes.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import torch
from helpers import run_with_deadline, tiny_data

from mnist_tutorial.checkpoint import load_checkpoint, load_model
from mnist_tutorial.cli import main
from mnist_tutorial.data import make_test_loader
from mnist_tutorial.errors import ConfigError
from mnist_tutorial.model import NeuralNetwork
from mnist_tutorial.parallel.ddp import ShardedLoader, backend_for, per_rank_batch, train_data_parallel
from mnist_tutorial.parallel.launch import HOST, join_meeting, meeting_point
from mnist_tutorial.run.outputs import OUTPUTS
from mnist_tutorial.run.training import train_and_save
from mnist_tutorial.train import fit, make_optimizer, seed_everything


def test_backend_per_device():
    assert backend_for("cpu") == "gloo" and backend_for("cuda") == "nccl"
    with pytest.raises(ConfigError, match="`device=mps` cannot train data-parallel"):
        backend_for("mps")


def test_the_global_batch_is_split_evenly_or_refused():
    assert [per_rank_batch(64, n) for n in (1, 2, 4, 64)] == [64, 32, 16, 1]
    with pytest.raises(ConfigError, match=r"`nproc=3` does not divide `batch_size=64`.*\(1, 2, 4, 8, 16, 32, 64\)"):
        per_rank_batch(64, 3)


def test_the_meeting_point_listens_before_any_process_starts():
    # A port that is only picked, not held, until rank 0 binds it can be taken in between (by another program,
    # or as the source port of a process's own early connection); the launcher's store holds it from the start.
    store = meeting_point(2)
    with socket.socket() as other, pytest.raises(OSError):
        other.bind((HOST, store.port))
    join_meeting(store.port, nproc=2).set("greeting", "hello")
    assert store.get("greeting") == b"hello"


def listening(pids: set[int]) -> list[str]:
    """The local addresses (host:port) of the TCP sockets that these processes listen on, from ss."""
    ss = run_with_deadline(["ss", "-Hltnp"], capture_output=True, text=True, check=True, timeout=10)
    return [line.split()[3] for line in ss.stdout.splitlines() if any(f"pid={pid}," in line for pid in pids)]


def this_process_and_its_children() -> set[int]:
    children = set()
    for status in os.scandir("/proc"):
        if status.name.isdigit():
            try:
                fields = Path(f"/proc/{status.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                children.add(int(status.name))
    return {os.getpid(), *children}


class ListeningWatch(threading.Thread):
    """Every 0.1 s, notes where this process and its children listen, until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[str] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.seen.update(listening(this_process_and_its_children()))


@pytest.mark.skipif(not shutil.which("ss"), reason="needs ss (iproute2) to list listening sockets")
def test_the_meeting_point_listens_on_loopback_only():
    store = meeting_point(2)
    addresses = listening({os.getpid()})
    assert f"127.0.0.1:{store.port}" in addresses, addresses
    assert not [address for address in addresses if address.endswith(f":{store.port}") and "127.0.0.1" not in address]


def shard_orders(n_images: int, world_size: int, epoch: int) -> list[list[int]]:
    """Which images each rank's loader yields in a pass (labels are made equal to the image indices)."""
    images = torch.zeros(n_images, 28, 28, dtype=torch.uint8)
    orders = []
    for rank in range(world_size):
        loader = ShardedLoader(images, torch.arange(n_images), batch_size=4, rank=rank, world_size=world_size,
                               seed=7, epoch=epoch)  # fmt: skip
        orders.append(torch.cat([labels for _, labels in loader]).tolist())
    return orders


def test_shards_follow_distributed_samplers_rules():
    # Computed independently of DistributedSampler: randperm seeded with seed + epoch, padded by repeating its
    # start to a multiple of the number of ranks, then every world_size-th index from position `rank`.
    permutation = torch.randperm(10, generator=torch.Generator().manual_seed(7 + 2)).tolist()
    padded = permutation + permutation[:2]
    assert shard_orders(10, 3, epoch=2) == [padded[0::3], padded[1::3], padded[2::3]]
    first, second = shard_orders(10, 1, epoch=0), shard_orders(10, 1, epoch=1)
    assert sorted(first[0]) == list(range(10)) and first != second  # each epoch reshuffles


def reference_weights(data, *, epochs: int) -> dict[str, torch.Tensor]:
    """One process, whole batches of 64, in the order two ranks of 32 would split them (no process group)."""
    seed_everything(0)
    model = NeuralNetwork()
    loader = ShardedLoader(data.train.images, data.train.labels, batch_size=64, rank=0, world_size=1, seed=0)
    fit(model, loader, make_test_loader(data), num_epochs=epochs, optimizer=make_optimizer(model), progress=False)
    return model.state_dict()


@pytest.mark.slow
def test_two_ranks_of_32_end_as_one_process_of_64():
    # 200 images: per epoch, batches of 64, 64, 64 and 8 in one process; 32, 32, 32 and 4 on each of two ranks.
    # DistributedSampler gives rank r every other image of the same shuffled order (rank 0 the even positions),
    # so each pair of rank batches holds exactly the images of one 64-batch, and DDP's average of the two
    # ranks' gradients is the 64-batch's gradient. Not bit for bit: the all-reduce adds the ranks' gradients
    # (each a sum over 32 images) in another order than one process sums 64, and float addition is not
    # associative, so the last bits differ (measured: at most 4e-8 after 8 steps). Hence the tolerance.
    data = tiny_data(200, 40)
    ranks = train_data_parallel(data, nproc=2, num_epochs=2, batch_size=64)
    expected = reference_weights(data, epochs=2)
    assert [r["batch_size"] for r in ranks] == [32, 32] and [r["batches"] for r in ranks] == [4, 4]
    assert ranks[0]["spread"] == ranks[1]["spread"] == 0.0  # the ranks' copies are identical
    for name, weights in ranks[0]["weights"].items():
        torch.testing.assert_close(torch.from_numpy(weights), expected[name], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_nproc_2_writes_the_outputs_of_a_single_process_run(tmp_path, capfd):
    out = tmp_path / "run"
    watch = ListeningWatch()
    if shutil.which("ss"):
        watch.start()
    try:
        metrics = train_and_save(nproc=2, source="sample", num_epochs=1, device="cpu", out=out)
    finally:
        watch.done.set()
    # the meeting point and gloo's own sockets: reachable over loopback only, never from the room's network
    assert all(address.startswith("127.0.0.1:") for address in watch.seen), watch.seen
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(OUTPUTS)
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["nproc"] == 2 and metrics["batch_size"] == 64 and metrics["epochs"] == 1
    assert 0.3 < metrics["test_accuracy"] <= 1  # 1 epoch on the sample: about 50%
    printed = capfd.readouterr().out  # the processes print to the file descriptor, not sys.stdout
    assert printed.count("Test Accuracy:") == 1  # rank 0 only
    assert isinstance(load_model(out / "model.pt"), NeuralNetwork)
    assert load_checkpoint(out / "model.pt")["epoch"] == 1
    resumed = train_and_save(source="sample", num_epochs=2, device="cpu", out=out, resume=out / "model.pt")
    assert resumed["epochs"] == 2 and resumed["train_loss"][0] == metrics["train_loss"][0]


def ranks_started() -> list[int]:
    """The pids of this process's children that torch.multiprocessing spawned (not its resource tracker)."""
    pids = []
    for pid in this_process_and_its_children() - {os.getpid()}:
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
    return sorted(pids)


@pytest.mark.slow
def test_a_killed_rank_ends_the_run_in_one_line_naming_it_and_its_signal(tmp_path, capsys):
    def kill_one_rank():
        deadline = time.monotonic() + 60
        while len(ranks_started()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        os.kill(ranks_started()[-1], signal.SIGKILL)

    killer = threading.Thread(target=kill_one_rank, daemon=True)
    killer.start()
    args = ["train", "--nproc", "2", "--source", "sample", "--epochs", "30", "--device", "cpu", "--out", tmp_path]
    assert main([str(arg) for arg in args]) == 1
    killer.join()
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"mnist-tutorial: error: process rank [01] of 2 was killed by SIGKILL before the run finished "
        r"\(out of memory\? killed by hand\?\), and the others were stopped: free some memory or pass a smaller "
        r"--nproc, and train again\n",
        err,
    ), err
    assert ranks_started() == []  # the other rank was stopped too


@pytest.mark.slow
def test_an_error_in_a_process_is_raised_here_in_its_own_words():
    with pytest.raises(ConfigError, match=r"`num_epochs=0` is not a positive whole number"):
        train_data_parallel(tiny_data(64, 16), nproc=1, num_epochs=0)  # fit refuses it inside the process


def test_refused_before_any_process_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    with pytest.raises(ConfigError, match=r"`nproc=3` does not divide .* divides it \(1, 2, 4\)$"):
        train_and_save(nproc=3, source="sample", device="cpu", out=tmp_path)  # suggests no more than 4 CPUs run
    with pytest.raises(ConfigError) as refused:
        train_and_save(nproc=64, source="sample", device="cpu", out=tmp_path)
    assert str(refused.value) == (
        "`nproc=64` asks for more processes than this machine's 4 CPUs, and each needs a core of its own (and "
        "about 1 GB of memory): pass `nproc=4` or fewer"
    )
    with pytest.raises(ConfigError, match="`loader=lesson` cannot be split"):
        train_and_save(nproc=2, source="sample", device="cpu", loader="lesson", out=tmp_path)
