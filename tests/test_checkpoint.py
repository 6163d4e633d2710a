"""Checkpoints: what they carry, safe loading, one line for every bad file, and no torn writes."""

import contextlib
import copy
import errno
import io
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

import pytest
import torch
from helpers import history_of, same_weights

from mnist_tutorial import NeuralNetwork, checkpoint, load_checkpoint, load_model, make_optimizer, save_checkpoint
from mnist_tutorial.cli import main
from mnist_tutorial.defaults import PROJECT_ROOT
from mnist_tutorial.errors import CheckpointError, ConfigError, OutputError
from mnist_tutorial.files import atomic_path

HISTORY = {"train_loss": [0.9, 0.5], "test_loss": [0.8, 0.6], "test_accuracy": [0.7, 0.8], "seconds": [1.0, 1.1]}
RETRAIN = "delete it and train again"
# What a refusal says after the file's name
OTHER_SHAPE = (
    "holds weights of another shape than the lesson's network (its stored sizes {} do not match its tensors, or "
    f"exceed 4096): {RETRAIN}"
)
MISFIT = (
    "holds an optimizer state that does not fit its network (a momentum buffer of another shape, or a stride-0 view), "
    f"which the course never writes: {RETRAIN}"
)
SETTINGS = "holds an epoch count or settings of a kind the course never writes (epoch {}, settings {}): " + RETRAIN
NOT_OURS = (
    "is a PyTorch file but not a mnist-tutorial checkpoint: pass a model.pt that the course wrote, or a state_dict "
    "saved with torch.save(model.state_dict(), path)"
)
STATE_DICT = (
    "is a state_dict, but not of the lesson's network (fc1, fc2, fc3): pass one saved from mnist_tutorial.NeuralNetwork"
)
SIZES = "{'hidden1': 128, 'hidden2': 64, 'num_classes': 10}"
LONG_NAME = f"names its dataset 'mmmmmmmmmmmmmmmmm...mmmmmmmmmmmmmmmmmm', which the course never writes: {RETRAIN}"
NORMALISED = (
    "was trained on inputs normalised with {'mean': 0.1307, 'std': 0.3081}, not the course's {'mean': 0.5, 'std': "
    "0.5}: its predictions here would be wrong; train it again with the course's normalisation"
)
UNEQUAL = (
    "holds a training history that has lists of different lengths ({'seconds': 1, 'test_accuracy': 2, 'test_loss': 2, "
    f"'train_loss': 2}}), which the course never writes (a crafted file?): {RETRAIN}"
)
OBJECTS = (
    "holds Python objects besides weights, which are not loaded for safety (weights_only=True): save "
    "model.state_dict() rather than the model, or train again"
)


def saved(path, hidden1: int = 128, hidden2: int = 64, history=HISTORY) -> NeuralNetwork:
    """Save a network trained one step (so its optimizer holds momentum buffers) as the course does."""
    torch.manual_seed(0)
    model = NeuralNetwork(hidden1, hidden2)
    optimizer = make_optimizer(model)
    model(torch.rand(4, 784)).sum().backward()
    optimizer.step()
    shuffle = torch.Generator().manual_seed(3).get_state()
    save_checkpoint(path, model=model, dataset="mnist", history=history, optimizer=optimizer, shuffle_state=shuffle)
    return model


@pytest.fixture(scope="module")
def course_state(tmp_path_factory) -> dict:
    """What a checkpoint the course wrote holds, as torch.load reads it back."""
    path = tmp_path_factory.mktemp("course") / "model.pt"
    saved(path)
    return torch.load(path, weights_only=True)


def message(path) -> str:
    """The one-line refusal of load_model(path), which names the file."""
    with pytest.raises(CheckpointError) as caught:
        load_model(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    return str(caught.value)


def test_a_checkpoint_carries_what_rebuilding_checking_and_resuming_need(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    model = saved("~/model.pt", history=history_of(3))  # a History is saved as its dict; `~` is the home folder
    state = load_checkpoint(tmp_path / "model.pt")
    assert state["format"] == "mnist-tutorial/1" and state["normalization"] == {"mean": 0.5, "std": 0.5}
    assert state["sizes"] == {"hidden1": 128, "hidden2": 64, "num_classes": 10}
    assert state["dataset"] == "mnist" and state["epoch"] == 3 and state["history"] == history_of(3).to_dict()
    momentum = state["optimizer_state"]["state"][0]["momentum_buffer"]
    assert state["optimizer_state"]["param_groups"][0]["lr"] == 0.001 and momentum.shape == (128, 784)
    assert torch.equal(state["shuffle_state"], torch.Generator().manual_seed(3).get_state())
    assert all(torch.equal(state["model_state"][k], v) for k, v in model.state_dict().items())


def prefixed(weights: dict, prefix: str, only: str = "") -> dict:
    """`weights` with `prefix` added to each name (that starts with `only`), as a wrapper adds one."""
    return {prefix + name if name.startswith(only) else name: tensor for name, tensor in weights.items()}


def a_checkpoint_with_prefixed_names(model: NeuralNetwork, path) -> None:
    save_checkpoint(path, model=model, dataset="mnist", history=HISTORY)
    state = torch.load(path, weights_only=True)
    torch.save({**state, "model_state": prefixed(state["model_state"], "_orig_mod.module.")}, path)


STORED = {  # each way a network's weights may be stored: as training saves them, bare, or with a wrapper's names
    "checkpoint": lambda model, to: save_checkpoint(to, model=model, dataset="mnist", history=HISTORY),
    "state_dict": lambda model, to: torch.save(model.state_dict(), to),
    "DataParallel's names": lambda model, to: torch.save(prefixed(model.state_dict(), "module."), to),
    "torch.compile's names": lambda model, to: torch.save(prefixed(model.state_dict(), "_orig_mod."), to),
    "a million prefixes": lambda model, to: torch.save(prefixed(model.state_dict(), "module." * 10**6, "fc1.b"), to),
    "checkpoint of wrapped names": a_checkpoint_with_prefixed_names,
}


@pytest.mark.parametrize("stored", STORED)
def test_load_model_gives_the_same_network_on_the_cpu_in_eval_mode(tmp_path, stored):
    torch.manual_seed(1)
    model = NeuralNetwork(32, 16)
    STORED[stored](model, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    assert type(loaded) is NeuralNetwork and not loaded.training and loaded.sizes == model.sizes
    assert {p.device.type for p in loaded.parameters()} == {"cpu"} and same_weights(loaded, model)


RAN = []


class RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (RAN.append, ("code ran",))


def test_a_path_that_is_no_file_is_named_so(tmp_path):
    assert message(tmp_path / "nope.pt") == (
        f"checkpoint {tmp_path}/nope.pt does not exist: check the path, or train a model first"
    )
    assert message(tmp_path) == f"checkpoint {tmp_path} is a folder, not a file: pass the model.pt that training wrote"
    saved(tmp_path / "model.pt")
    assert message(tmp_path) == f"checkpoint {tmp_path} is a folder, not a file: pass {tmp_path}/model.pt"
    assert message("/dev/zero") == "checkpoint /dev/zero is a device, not a file: pass the model.pt training wrote"
    os.mkfifo(tmp_path / "fifo.pt")
    assert message(tmp_path / "fifo.pt") == (
        f"checkpoint {tmp_path}/fifo.pt is a FIFO, not a file: pass the model.pt training wrote"
    )


def a_zip_of_notes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "my notes")
    return buffer.getvalue()


NOT_CHECKPOINTS = {  # the same on every xdist worker
    "empty": (b"", "an empty file"),
    "passwd": (b"root:x:0:0:root:/root:/bin/bash\n", "not a PyTorch file"),
    "noise": (random.Random(0).randbytes(5000), "not a PyTorch file"),
    "pickle": (b"\x80\x04K\x01.", "not a PyTorch file"),
    "zip": (a_zip_of_notes(), "a zip, but not torch.save's"),
}


@pytest.mark.parametrize("case", NOT_CHECKPOINTS)
def test_a_file_that_is_no_checkpoint_at_all_is_named_so_and_left_alone(tmp_path, capsys, case):
    content, what = NOT_CHECKPOINTS[case]
    (tmp_path / "notes").write_bytes(content)
    assert main(["evaluate", "--checkpoint", str(tmp_path / "notes"), "--source", "sample"]) == 2
    assert capsys.readouterr().err == (  # and never advised deleted
        f"mnist-tutorial: error: {tmp_path}/notes is not a checkpoint of this course ({what}): pass the model.pt "
        "training wrote\n"
    )
    assert (tmp_path / "notes").read_bytes() == content


def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path):
    saved(tmp_path / "model.pt", 32, 16)
    data = (tmp_path / "model.pt").read_bytes()
    for fraction in (0.01, 0.3, 0.6, 0.99):
        (tmp_path / "cut.pt").write_bytes(data[: int(len(data) * fraction)])
        assert message(tmp_path / "cut.pt") == (
            f"{tmp_path}/cut.pt is not a readable checkpoint (truncated, or not a PyTorch file): {RETRAIN}"
        )
    torch.save(NeuralNetwork(8, 8).state_dict(), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    older = (tmp_path / "old.pt").read_bytes()  # torch.save's format before 1.6, a pickle stream
    rng = random.Random(0)
    for attempt in range(40):  # bytes changed at random: whatever torch.load raises becomes one line, or it loads
        damaged = bytearray(older if attempt % 2 else data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        (tmp_path / "damaged.pt").write_bytes(damaged)
        try:
            load_model(tmp_path / "damaged.pt")
        except CheckpointError as error:
            assert "\n" not in str(error)


def optimizer_with(saved_state: dict, **changes) -> dict:
    return {**saved_state, "optimizer_state": {**saved_state["optimizer_state"], **changes}}


def momentum(state: dict, index: int, buffer: torch.Tensor) -> dict:
    return optimizer_with(state, state={**state["optimizer_state"]["state"], index: {"momentum_buffer": buffer}})


def weights_with(state: dict, name: str, tensor: torch.Tensor) -> dict:
    return {**state["model_state"], name: tensor}


BAD = {  # a file made from a checkpoint the course wrote -> its refusal, after the file's name
    "epoch as text": (lambda s: {**s, "epoch": "2"}, SETTINGS.format("'2'", "dict")),
    "epoch below 0": (lambda s: {**s, "epoch": -1}, SETTINGS.format(-1, "dict")),
    "settings as text": (lambda s: {**s, "settings": "lr=0.01"}, SETTINGS.format(2, "str")),
    "a setting as a list": (lambda s: {**s, "settings": {"lr": [0.01]}}, SETTINGS.format(2, "dict")),
    "a setting a million long": (lambda s: {**s, "settings": {"source": "s" * 10**6}}, SETTINGS.format(2, "dict")),
    "a dataset name a million long": (lambda s: {**s, "dataset": "m" * 10**6}, LONG_NAME),
    "sizes not its tensors'": (lambda s: {**s, "sizes": {**s["sizes"], "hidden1": 100}},
                               OTHER_SHAPE.format(SIZES.replace("128", "100"))),
    "no weights": (lambda s: {k: v for k, v in s.items() if k != "model_state"}, OTHER_SHAPE.format(SIZES)),
    "whole numbers": (lambda s: {**s, "model_state": weights_with(s, "fc1.bias", torch.zeros(128).long())},
                      OTHER_SHAPE.format(SIZES)),
    "other normalisation": (lambda s: {**s, "normalization": {"mean": 0.1307, "std": 0.3081}}, NORMALISED),
    "history lists of unequal length": (lambda s: {**s, "history": {**HISTORY, "seconds": [1.0]}}, UNEQUAL),
    "stride-0 momentum": (lambda s: momentum(s, 0, torch.zeros(1).expand(128, 784)), MISFIT),
    "momentum of another shape": (lambda s: momentum(s, 0, torch.zeros(3)), MISFIT),
    "momentum of no parameter": (lambda s: momentum(s, 7, torch.zeros(3)), MISFIT),
    "a parameter twice": (lambda s: optimizer_with(s, param_groups=[{"params": [0, 0, 1, 2, 3, 4]}]), MISFIT),
    "lr as text": (lambda s: optimizer_with(s, param_groups=[{"params": [0, 1, 2, 3, 4, 5], "lr": "x"}]), MISFIT),
    "optimizer state as a list": (lambda s: optimizer_with(s, state=[1, 2]), MISFIT),
    "a tensor": (lambda s: torch.zeros(3), NOT_OURS),
    "another network": (lambda s: {"conv1.weight": torch.zeros(3)}, NOT_OURS),
    "a list": (lambda s: [1, 2], NOT_OURS),
    "a whole pickled model": (lambda s: NeuralNetwork(), OBJECTS),
    "code to run when loaded": (lambda s: {"fc1.weight": RunsCodeWhenUnpickled()}, OBJECTS),
    "a state_dict of one layer": (lambda s: {"fc1.weight": torch.zeros(128, 784)}, STATE_DICT),
    "a state_dict of 0-d weights": (lambda s: {f"fc{i}.weight": torch.tensor(1.0) for i in (1, 2, 3)}, STATE_DICT),
    "a state_dict of 785 inputs": (lambda s: weights_with(s, "fc1.weight", torch.zeros(128, 785)),
                                   OTHER_SHAPE.format(SIZES)),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_a_file_the_course_never_writes_is_refused_in_one_line(tmp_path, course_state, case):
    make, refusal = BAD[case]
    torch.save(make(copy.deepcopy(course_state)), tmp_path / "model.pt")
    assert message(tmp_path / "model.pt") == f"{tmp_path}/model.pt {refusal}"
    assert RAN == []  # loading never runs code from the file


def nested(depth: int) -> list:
    value: list = [0.5]
    for _ in range(depth):
        value = [value]
    return value


ENTRY = "a 'normalization' entry nested over 16 deep or of more than 1,000,000 values in all"
CRAFTED = {  # a few kB on disk that, walked or printed naively, take gigabytes or forever
    "shared lists": ({"normalization": [["x" * 1000] * 1000] * 2000}, ENTRY),  # 2 GB once printed
    "3,000 deep": ({"normalization": nested(3000)}, ENTRY),  # beyond Python's recursion limit (1,000)
    "history keys sharing a list": (
        {"history": dict.fromkeys([f"loss {i}" for i in range(2000)], [0.5] * 1000)},
        "a training history that is not lists of numbers, or of more than 1,000,000 in all",
    ),
}


@pytest.mark.timeout(120)  # only catches a walk that never ends: it takes a second
@pytest.mark.parametrize("case", CRAFTED)
def test_a_crafted_structure_is_refused_in_one_line_without_walking_it(tmp_path, course_state, case):
    changes, what = CRAFTED[case]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)  # for pickle, to write it
    try:
        torch.save({**course_state, **changes}, tmp_path / "model.pt")
    finally:
        sys.setrecursionlimit(limit)
    assert (tmp_path / "model.pt").stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        refusal = message(tmp_path / "model.pt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refusal == f"{tmp_path}/model.pt holds {what}, which the course never writes (a crafted file?): {RETRAIN}"
    assert peak < 100_000_000, peak  # the loaded file and no copy of it, never its printout


@pytest.mark.parametrize(
    ("error", "cause"),
    [(OSError(errno.ENOSPC, "No space left on device"), "the disk is full: free some disk space"),
     (OSError(errno.EACCES, "Permission denied"), "permission denied: choose a folder you can write to")],
)  # fmt: skip
def test_a_full_disk_or_a_refusal_keeps_the_checkpoint_and_names_the_cause(tmp_path, monkeypatch, error, cause):
    first = saved(tmp_path / "model.pt")

    def fail_half_way(path, data):
        with atomic_path(path) as tmp:
            tmp.write_bytes(data[:100])  # the disk fills up, or the folder is taken away, part way through
            raise error

    monkeypatch.setattr(checkpoint, "write_bytes_atomic", fail_half_way)
    with pytest.raises(CheckpointError, match=rf"^cannot write checkpoint .*model.pt: {cause}"):
        saved(tmp_path / "model.pt", 32, 16)
    assert same_weights(load_model(tmp_path / "model.pt"), first) and os.listdir(tmp_path) == ["model.pt"]


def test_saving_into_a_missing_folder_names_the_cause(tmp_path):
    with pytest.raises(CheckpointError, match=r"^cannot write checkpoint .*: no such file or directory: check the"):
        saved(tmp_path / "missing" / "model.pt")


KEEP_SAVING = textwrap.dedent(
    """
    import sys, torch
    from mnist_tutorial import NeuralNetwork, save_checkpoint
    model = NeuralNetwork(hidden1=4096, hidden2=4096)  # the largest a checkpoint may hold: 80 MB, slow to save
    for step in range(10**6):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(step)
        history = {name: [0.0] * step for name in ("train_loss", "test_loss", "test_accuracy", "seconds")}
        save_checkpoint(sys.argv[1], model=model, dataset="mnist", history=history)
        print(step, flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_save_leaves_the_previous_checkpoint_whole(tmp_path):
    path = tmp_path / "model.pt"
    saver = subprocess.Popen([sys.executable, "-c", KEEP_SAVING, str(path)], cwd=PROJECT_ROOT,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert saver.stdout.readline().strip() == "0"  # a first checkpoint is complete
        deadline, caught_mid_save = time.monotonic() + 60, False
        while not caught_mid_save and time.monotonic() < deadline:
            temporary = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            caught_mid_save = any(p.exists() and 0 < p.stat().st_size < path.stat().st_size for p in temporary)
        saver.send_signal(signal.SIGKILL)
    finally:
        saver.kill()
        saver.wait()
    assert caught_mid_save, "never saw a save in progress"
    state = load_checkpoint(path)
    steps = {float(p.detach().flatten()[0]) for p in load_model(path).parameters()}
    assert len(steps) == 1 and state["epoch"] == steps.pop()  # one complete save, not a mixture
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in leftovers)  # hidden, never read


PASS_HISTORY = "pass the History that fit returned, or its to_dict()"


@pytest.mark.parametrize(
    "arguments, refusal",
    [({"path": None}, "`path` is None, not a path: pass a file or folder name as a string"),
     ({"path": ""}, "`path` is empty: pass a file or folder name (an unset variable?)"),
     ({"model": torch.nn.Linear(784, 10)},
      "`model` is a Linear, not the lesson's network: pass a mnist_tutorial.NeuralNetwork"),
     ({"history": [0.5]}, f"`history` is not lists of numbers: {PASS_HISTORY}"),
     ({"history": None}, f"`history` is not lists of numbers: {PASS_HISTORY}"),
     ({"history": {"train_loss": [torch.tensor(0.5)]}}, f"`history` is not lists of numbers: {PASS_HISTORY}"),
     ({"history": {**HISTORY, "seconds": []}}, "`history` has lists of different lengths ({'seconds': 0, "
      f"'test_accuracy': 2, 'test_loss': 2, 'train_loss': 2}}): {PASS_HISTORY}"),
     ({"path": "{tmp}/hard"}, "cannot write {tmp}/hard: it is a hard link, not a file the course wrote: move it away "
      "or choose another `path`")],  # a link planted where the checkpoint goes: its target is left alone
)  # fmt: skip
def test_save_checkpoint_refuses_an_argument_of_another_kind_by_name(tmp_path, arguments, refusal):
    (tmp_path / "notes.txt").write_text("my notes\n")
    os.link(tmp_path / "notes.txt", tmp_path / "hard")
    if arguments.get("path"):
        arguments = {"path": arguments["path"].replace("{tmp}", str(tmp_path))}
    with pytest.raises((ConfigError, OutputError)) as refused:
        save_checkpoint(**{"path": tmp_path / "model.pt", "model": NeuralNetwork(), "dataset": "mnist",
                           "history": HISTORY, **arguments})  # fmt: skip
    assert str(refused.value) == refusal.replace("{tmp}", str(tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "my notes\n" and sorted(os.listdir(tmp_path)) == [
        "hard",
        "notes.txt",
    ]


@contextlib.contextmanager
def a_process_group(tmp_path):
    """A one-process gloo group, as DistributedDataParallel needs one."""
    store = torch.distributed.FileStore(str(tmp_path / "store"), 1)
    torch.distributed.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()


WRAP = {
    "DataParallel": torch.nn.DataParallel,
    "DistributedDataParallel": torch.nn.parallel.DistributedDataParallel,
    "torch.compile in DataParallel": lambda model: torch.nn.DataParallel(torch.compile(model)),
}


@pytest.mark.parametrize("wrapper", WRAP)
def test_a_wrapped_network_is_saved_as_the_network_inside(tmp_path, wrapper):
    model = NeuralNetwork(32, 16)
    group = a_process_group(tmp_path) if wrapper == "DistributedDataParallel" else contextlib.nullcontext()
    with group:
        save_checkpoint(tmp_path / "model.pt", model=WRAP[wrapper](model), dataset="mnist", history=HISTORY)
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert list(state["model_state"]) == list(model.state_dict()) and state["sizes"] == model.sizes
    assert same_weights(load_model(tmp_path / "model.pt"), model)
