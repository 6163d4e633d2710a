"""parallel/ and run/training: data-parallel training over gloo on the CPU, and the `--nproc` run.

Each launch starts fresh processes that import torch (seconds each), so the rules are checked without processes.
"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import psutil
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
from mnist_tutorial.run.lock import OutputLock
from mnist_tutorial.run.outputs import OUTPUTS
from mnist_tutorial.run.training import train_and_save
from mnist_tutorial.train import fit, make_optimizer, seed_everything


def test_the_backend_per_device_and_the_global_batch_split_evenly_or_refused():
    assert backend_for("cpu") == "gloo" and backend_for("cuda") == "nccl"
    with pytest.raises(ConfigError, match="`device=mps` cannot train data-parallel"):
        backend_for("mps")
    assert [per_rank_batch(64, n) for n in (1, 2, 4, 64)] == [64, 32, 16, 1]
    with pytest.raises(ConfigError, match=r"`nproc=3` does not divide `batch_size=64`.*\(1, 2, 4, 8, 16, 32, 64\)"):
        per_rank_batch(64, 3)
    with pytest.raises(ConfigError, match=r"`nproc=0` is not a positive whole number"):
        per_rank_batch(64, 0)


def listening(processes: list[psutil.Process]) -> set[str]:
    """The local addresses (host:port) these processes listen on over TCP (those gone meanwhile: none)."""
    found = set()
    for process in processes:
        with contextlib.suppress(psutil.Error):
            found |= {f"{c.laddr.ip}:{c.laddr.port}" for c in process.net_connections("tcp") if c.status == "LISTEN"}
    return found


class ListeningWatch(threading.Thread):
    """Every 0.1 s, notes where this process and its children listen, until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[str] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.seen |= listening([psutil.Process(), *psutil.Process().children(recursive=True)])


def test_the_meeting_point_listens_before_any_process_starts_on_loopback_only():
    # A port only picked, not held, until rank 0 binds it can be taken in between (by another program, or as the
    # source port of a process's own early connection); the launcher's store holds it from the start.
    store = meeting_point(2)
    with socket.socket() as other, pytest.raises(OSError):
        other.bind((HOST, store.port))
    join_meeting(store.port, nproc=2).set("greeting", "hello")
    assert store.get("greeting") == b"hello"
    addresses = [address for address in listening([psutil.Process()]) if address.endswith(f":{store.port}")]
    assert addresses == [f"127.0.0.1:{store.port}"], addresses


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
    # 200 images: batches of 64, 64, 64 and 8 in one process; 32, 32, 32 and 4 on each of two ranks, which take
    # every other image of the same shuffled order: DDP's average of their gradients is the 64-batch's. Not bit
    # for bit: the all-reduce adds the ranks' sums in another order (measured: at most 4e-8 after 8 steps).
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
    resumed = train_and_save(nproc=2, source="sample", num_epochs=2, device="cpu", out=out, resume=out / "model.pt")
    assert resumed["epochs"] == 2 and resumed["train_loss"][0] == metrics["train_loss"][0]
    assert "Resuming from" in capfd.readouterr().out


def ranks_started(launcher: int | None = None) -> list[int]:
    """The pids of the processes torch.multiprocessing spawned (not its resource tracker) from `launcher`, or us."""
    pids = []
    for child in psutil.Process(launcher).children():
        with contextlib.suppress(psutil.Error):
            if "spawn_main" in " ".join(child.cmdline()):
                pids.append(child.pid)
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


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def within(seconds: float, done: Callable[[], bool]) -> bool:
    """Poll `done` every 0.1 s until it holds or `seconds` have passed (a hang deadline, never a timing)."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def course(*args: object) -> list[str]:
    """`python -m mnist_tutorial args` as a command, for a process of its own."""
    return [sys.executable, "-m", "mnist_tutorial", *map(str, args)]


SAMPLE_RUN = ("train", "--source", "sample", "--device", "cpu", "--no-progress")


@pytest.mark.slow
def test_ranks_die_with_a_killed_launcher_and_free_its_out(tmp_path, capsys):
    # A notebook kernel restarted during 07, or `kill -9` of the command: no rank may train on with no lock held.
    out = tmp_path / "out"
    launcher = subprocess.Popen(course(*SAMPLE_RUN, "--nproc", "2", "--epochs", "1000", "--out", out),
                                stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        assert within(300, lambda: (out / "model.pt").exists() or launcher.poll() is not None)
        ranks = ranks_started(launcher.pid)
        assert len(ranks) == 2 and all(map(alive, ranks)), ranks  # both train: rank 0 has saved an epoch
        launcher.kill()
        launcher.wait()
        assert within(60, lambda: not any(map(alive, ranks))), "the ranks outlived their launcher"
        assert main([*SAMPLE_RUN, "--epochs", "1", "--out", str(out)]) == 0  # the folder is free again, and stays ours
        assert load_checkpoint(out / "model.pt")["epoch"] == 1
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signal.SIGKILL)  # orphans, had there been any, keep the launcher's group


def torchrun_env(store_port: int, rank: int, world_size: int) -> dict[str, str]:
    """The environment torchrun gives rank `rank`, its agent's store (here, the test's) at `store_port`."""
    ranks = {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": world_size, "LOCAL_WORLD_SIZE": world_size}
    agent = {"MASTER_ADDR": HOST, "MASTER_PORT": store_port, "TORCHELASTIC_USE_AGENT_STORE": True}
    return {
        **os.environ,
        "GLOO_SOCKET_IFNAME": "lo",
        **{name: str(value) for name, value in {**ranks, **agent}.items()},
    }


@pytest.mark.slow
def test_under_torchrun_rank_0_holds_the_lock_while_it_trains(tmp_path, capsys):
    out = tmp_path / "out"
    store = meeting_point(1)  # what torchrun's agent holds (TORCHELASTIC_USE_AGENT_STORE): on loopback only
    rank0 = subprocess.Popen(course(*SAMPLE_RUN, "--epochs", "1000", "--out", out), env=torchrun_env(store.port, 0, 1),
                             stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        assert within(300, lambda: (out / "model.pt").exists() or rank0.poll() is not None)
        assert rank0.poll() is None
        assert main([*SAMPLE_RUN, "--epochs", "1", "--out", str(out)]) == 2  # a second run on its `out`: refused
        held = rf"--out {re.escape(str(out))} is in use by another run \(process {rank0.pid}, started [-0-9: ]+\)"
        err = capsys.readouterr().err
        assert re.fullmatch(f"mnist-tutorial: error: {held}: wait for it to end, or choose another --out\n", err), err
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(rank0.pid, signal.SIGKILL)
        rank0.wait()


@pytest.mark.slow
def test_under_torchrun_a_held_out_stops_every_rank_in_one_line(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    store = meeting_point(2)
    with OutputLock(out), contextlib.ExitStack() as stack:
        ranks = [
            stack.enter_context(subprocess.Popen(course(*SAMPLE_RUN, "--epochs", "1", "--out", out),
                                                 env=torchrun_env(store.port, rank, 2), stderr=subprocess.PIPE,
                                                 stdout=subprocess.DEVNULL, text=True, start_new_session=True))
            for rank in range(2)
        ]  # fmt: skip
        try:
            errors = [rank.communicate(timeout=120)[1] for rank in ranks]  # not rank 1 waiting for rank 0 for ever
        finally:
            for rank in ranks:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(rank.pid, signal.SIGKILL)
    assert [rank.returncode for rank in ranks] == [2, 2], errors
    for err in errors:
        assert err.startswith(f"mnist-tutorial: error: --out {out} is in use by another run (process {os.getpid()}, ")
        assert len(err.splitlines()) == 1, err
    assert os.listdir(out) == []


@pytest.mark.slow
def test_a_rank_whose_launcher_ended_before_the_tie_leaves_at_once():
    # A spawned rank imports torch for seconds before it can tie itself to its launcher: it checks it still has one.
    code = "from mnist_tutorial.parallel.launch import tie_to; tie_to(1); print('carried on')"  # 1: not our parent
    result = run_with_deadline([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")


# Where the kernel cannot be asked to end a process with its parent (macOS, Windows), a thread watches the parent.
WATCHED = textwrap.dedent(
    """
    import os, subprocess, sys, time
    GRANDCHILD = (
        "import os, time\\n"
        "from mnist_tutorial.parallel import launch\\n"
        "launch.death_signal = lambda: False  # as where no death signal can be asked for\\n"
        "launch.tie_to(os.getppid())\\n"
        "print('tied', os.getpid(), flush=True)\\n"
        "time.sleep(300)\\n"
    )
    subprocess.Popen([sys.executable, "-c", GRANDCHILD])
    time.sleep(300)
    """
)


@pytest.mark.slow
def test_where_there_is_no_death_signal_a_watchdog_ends_the_rank():
    parent = subprocess.Popen([sys.executable, "-c", WATCHED], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)  # fmt: skip
    try:
        line = parent.stdout.readline()  # the grandchild shares its parent's stdout
        assert line.startswith("tied "), line
        rank = int(line.split()[1])
        parent.kill()
        parent.wait()
        assert within(60, lambda: not alive(rank)), "the watched process outlived its parent"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
