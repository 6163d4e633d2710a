"""Checkpoints: what they carry, safe loading, a clear message for every bad file, and no torn writes."""

import contextlib
import errno
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator

import pytest
import torch
from helpers import history_of, run_with_deadline, same_weights

from mnist_tutorial import NeuralNetwork, checkpoint, load_checkpoint, load_model, make_optimizer, save_checkpoint
from mnist_tutorial.checkpoint import FORMAT
from mnist_tutorial.cli import main
from mnist_tutorial.defaults import PROJECT_ROOT
from mnist_tutorial.errors import CheckpointError, ConfigError
from mnist_tutorial.files import atomic_path

HISTORY = {"train_loss": [0.9, 0.5], "test_loss": [0.8, 0.6], "test_accuracy": [0.7, 0.8], "seconds": [1.0, 1.1]}


def trained(hidden1: int = 128, hidden2: int = 64) -> tuple[NeuralNetwork, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = NeuralNetwork(hidden1, hidden2)
    optimizer = make_optimizer(model)
    model(torch.rand(4, 784)).sum().backward()
    optimizer.step()  # momentum buffers now exist
    return model, optimizer


def saved(path, hidden1: int = 128, hidden2: int = 64) -> NeuralNetwork:
    model, optimizer = trained(hidden1, hidden2)
    shuffle = torch.Generator().manual_seed(3).get_state()
    save_checkpoint(path, model=model, dataset="mnist", history=HISTORY, optimizer=optimizer, shuffle_state=shuffle)
    return model


def test_a_checkpoint_carries_what_rebuilding_checking_and_resuming_need(tmp_path):
    model = saved(tmp_path / "model.pt")
    state = load_checkpoint(tmp_path / "model.pt")
    assert state["format"] == "mnist-tutorial/1"
    assert state["sizes"] == {"hidden1": 128, "hidden2": 64, "num_classes": 10}
    assert state["dataset"] == "mnist" and state["epoch"] == 2 and state["history"] == HISTORY
    assert state["normalization"] == {"mean": 0.5, "std": 0.5}
    momentum = state["optimizer_state"]["state"][0]["momentum_buffer"]
    assert state["optimizer_state"]["param_groups"][0]["lr"] == 0.001 and momentum.shape == (128, 784)
    assert torch.equal(state["shuffle_state"], torch.Generator().manual_seed(3).get_state())
    assert all(torch.equal(state["model_state"][k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("sizes", [(128, 64), (32, 16)])
def test_load_model_gives_the_same_network_on_the_cpu_in_eval_mode(tmp_path, sizes):
    model = saved(tmp_path / "model.pt", *sizes)
    loaded = load_model(tmp_path / "model.pt")
    assert type(loaded) is NeuralNetwork and not loaded.training
    assert {p.device.type for p in loaded.parameters()} == {"cpu"}
    assert same_weights(loaded, model)


def test_a_bare_state_dict_is_accepted(tmp_path):
    model, _ = trained(32, 16)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    loaded = load_model(tmp_path / "weights.pt")
    assert loaded.sizes == {"hidden1": 32, "hidden2": 16, "num_classes": 10} and same_weights(loaded, model)


RAN = []


class RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (RAN.append, ("code ran",))


def test_loading_never_runs_code_from_the_file(tmp_path):
    torch.save({"fc1.weight": RunsCodeWhenUnpickled()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="holds Python objects besides weights, which are not loaded for safety"):
        load_checkpoint(tmp_path / "evil.pt")
    assert RAN == []


def test_a_whole_pickled_model_is_refused_with_the_fix(tmp_path):
    torch.save(NeuralNetwork(), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"save model.state_dict\(\) rather than the model"):
        load_model(tmp_path / "model.pt")


def message(path) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_model(path)
    assert str(path) in str(caught.value)
    return str(caught.value)


def test_missing_checkpoint(tmp_path):
    assert message(tmp_path / "nope.pt") == (
        f"checkpoint {tmp_path}/nope.pt does not exist: check the path, or train a model first"
    )


def test_a_folder_instead_of_a_checkpoint(tmp_path):
    assert message(tmp_path).endswith("is a folder, not a file: pass the model.pt that training wrote")
    saved(tmp_path / "model.pt")
    assert message(tmp_path) == f"checkpoint {tmp_path} is a folder, not a file: pass {tmp_path}/model.pt"


def test_a_device_or_a_fifo_instead_of_a_checkpoint(tmp_path):
    assert message("/dev/zero") == "checkpoint /dev/zero is a device, not a file: pass the model.pt training wrote"
    os.mkfifo(tmp_path / "model.pt")
    assert message(tmp_path / "model.pt").endswith("model.pt is a FIFO, not a file: pass the model.pt training wrote")


@pytest.mark.parametrize(
    "change, shows",
    [
        ({"epoch": "2"}, "epoch '2', settings dict"),
        ({"epoch": -1}, "epoch -1, settings dict"),
        ({"settings": "lr=0.01"}, "epoch 2, settings str"),
        ({"settings": {"lr": [0.01]}}, "epoch 2, settings dict"),
    ],
)
def test_an_epoch_or_settings_of_another_kind_are_refused_in_one_line(tmp_path, change, shows):
    saved(tmp_path / "model.pt")
    torch.save({**torch.load(tmp_path / "model.pt", weights_only=True), **change}, tmp_path / "model.pt")
    assert message(tmp_path / "model.pt") == (
        f"{tmp_path}/model.pt holds an epoch count or settings of a kind the course never writes ({shows}): "
        "delete it and train again"
    )


@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.6, 0.99])
def test_truncated_checkpoint(tmp_path, fraction):
    saved(tmp_path / "model.pt")
    data = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "model.pt").write_bytes(data[: int(len(data) * fraction)])
    assert message(tmp_path / "model.pt") == (
        f"{tmp_path}/model.pt is not a readable checkpoint (truncated, or not a PyTorch file): "
        "delete it and train again"
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
def test_a_file_that_is_no_checkpoint_at_all_is_named_so_and_never_advised_deleted(tmp_path, case):
    content, what = NOT_CHECKPOINTS[case]
    (tmp_path / "notes").write_bytes(content)
    assert message(tmp_path / "notes") == (
        f"{tmp_path}/notes is not a checkpoint of this course ({what}): pass the model.pt training wrote"
    )


def test_evaluate_on_a_file_of_the_system_is_one_line_that_leaves_it_alone(tmp_path, capsys):
    (tmp_path / "passwd").write_bytes(NOT_CHECKPOINTS["passwd"][0])
    assert main(["evaluate", "--checkpoint", str(tmp_path / "passwd"), "--source", "sample"]) == 2
    assert capsys.readouterr().err == (
        f"mnist-tutorial: error: {tmp_path}/passwd is not a checkpoint of this course (not a PyTorch file): pass "
        "the model.pt training wrote\n"
    )


@pytest.mark.parametrize("payload", [torch.zeros(3), {"conv1.weight": torch.zeros(3)}, [1, 2]])
def test_a_pytorch_file_that_is_not_a_checkpoint(tmp_path, payload):
    torch.save(payload, tmp_path / "other.pt")
    assert "is a PyTorch file but not a mnist-tutorial checkpoint" in message(tmp_path / "other.pt")


def test_a_network_of_another_shape(tmp_path):
    state = NeuralNetwork().state_dict()
    state["fc1.weight"] = torch.zeros(128, 785)  # one input too many
    torch.save(state, tmp_path / "other.pt")
    assert message(tmp_path / "other.pt").startswith(
        f"{tmp_path}/other.pt holds weights of another shape than the lesson's network (its stored sizes "
    )


def test_declared_sizes_that_do_not_match_the_weights(tmp_path):
    saved(tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    state["sizes"]["hidden1"] = 100
    torch.save(state, tmp_path / "model.pt")
    assert "holds weights of another shape" in message(tmp_path / "model.pt")


def test_a_state_dict_missing_layers(tmp_path):
    torch.save({"fc1.weight": torch.zeros(128, 784)}, tmp_path / "part.pt")
    assert "is a state_dict, but not of the lesson's network (fc1, fc2, fc3)" in message(tmp_path / "part.pt")


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
    with pytest.raises(CheckpointError, match=rf"cannot write checkpoint .*model.pt: {cause}"):
        saved(tmp_path / "model.pt", 32, 16)
    assert same_weights(load_model(tmp_path / "model.pt"), first)
    assert os.listdir(tmp_path) == ["model.pt"]


def test_saving_into_a_missing_folder(tmp_path):
    with pytest.raises(
        CheckpointError, match=r"cannot write checkpoint .*: no such file or directory: check the folder"
    ):
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
    model = load_model(path)
    steps = {float(p.detach().flatten()[0]) for p in model.parameters()}
    assert len(steps) == 1 and state["epoch"] == steps.pop()  # one complete save, not a mixture
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in leftovers)  # hidden, never read


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "_orig_mod.module."])
def test_state_dicts_of_wrapped_networks_load(tmp_path, prefix):
    """DataParallel and DDP save `module.`-prefixed names, torch.compile `_orig_mod.`: the weights are the same."""
    model = NeuralNetwork()
    torch.save({prefix + name: tensor for name, tensor in model.state_dict().items()}, tmp_path / "wrapped.pt")
    assert same_weights(load_model(tmp_path / "wrapped.pt"), model)
    saved(tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    state["model_state"] = {prefix + name: tensor for name, tensor in state["model_state"].items()}
    torch.save(state, tmp_path / "model.pt")
    assert set(load_model(tmp_path / "model.pt").state_dict()) == set(model.state_dict())


def test_a_network_trained_on_other_normalisation_is_refused(tmp_path):
    saved(tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    state["normalization"] = {"mean": 0.1307, "std": 0.3081}
    torch.save(state, tmp_path / "model.pt")
    assert "was trained on inputs normalised with {'mean': 0.1307, 'std': 0.3081}" in message(tmp_path / "model.pt")


def a_finished_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_a_save_removes_only_temporaries_whose_writer_is_gone(tmp_path):
    now, dead = time.time(), a_finished_pid()
    gone = {
        ".model.pt.0123abcd.tmp": now - 7200,  # an older version's name, two hours old
        f".model.pt.{os.getpid()}.0123abcd.tmp": now - 7200,  # an hour old, whoever wrote it
        f".model.pt.{dead}.deadbeef.tmp": now - 120,  # its writer ended a while ago
    }
    kept = {
        ".model.pt.deadbeef.tmp": now,  # an older version's name, being written
        f".model.pt.{os.getppid()}.0123abcd.tmp": now - 120,  # a writer still running
        f".model.pt.{dead}.01234567.tmp": now,  # a pid not seen here may be another container's: give it a minute
        ".other.pt.0123abcd.tmp": now - 7200,  # another file's
        ".model.pt.notes.tmp": now - 7200,  # not a temporary's name
        "model.pt.tmp": now - 7200,
    }
    for name, mtime in {**gone, **kept}.items():
        (tmp_path / name).write_bytes(b"half")
        os.utime(tmp_path / name, (mtime, mtime))
    saved(tmp_path / "model.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.pt", *kept])


def test_a_save_leaves_another_writers_save_in_progress_alone(tmp_path):
    path = tmp_path / "model.pt"
    with atomic_path(path) as theirs:  # another kernel's save of the same path, not yet renamed
        torch.save(NeuralNetwork(32, 16).state_dict(), theirs)
        saved(path)
        assert theirs.exists()
    assert load_model(path).sizes["hidden1"] == 32  # the last save to finish wins
    assert os.listdir(tmp_path) == ["model.pt"]


SAVE_MANY_TIMES = textwrap.dedent(
    """
    import pathlib, sys, time, torch
    from mnist_tutorial import NeuralNetwork, save_checkpoint
    from mnist_tutorial.errors import CheckpointError
    path, seed, saves = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.manual_seed(seed)
    model = NeuralNetwork(32, 16)
    history = {"train_loss": [1.0], "test_loss": [1.0], "test_accuracy": [0.5], "seconds": [1.0]}
    (path.parent / f"ready-{seed}").touch()
    while len(list(path.parent.glob("ready-*"))) < 2:  # both writers start together
        time.sleep(0.01)
    failures = []
    for _ in range(saves):
        try:
            save_checkpoint(path, model=model, dataset="mnist", history=history)
        except CheckpointError as error:
            failures.append(str(error))
    print(len(failures), failures[:1])
    """
)


@pytest.mark.slow
def test_two_processes_saving_to_one_path_lose_no_save(tmp_path):
    path = tmp_path / "run" / "model.pt"
    path.parent.mkdir()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "cwd": PROJECT_ROOT}
    writers = [
        subprocess.Popen([sys.executable, "-c", SAVE_MANY_TIMES, str(path), seed, "300"], **pipes) for seed in "12"
    ]
    results = [writer.communicate(timeout=300) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], results
    assert [out for out, _ in results] == ["0 []\n", "0 []\n"]
    torch.manual_seed(1)
    first = NeuralNetwork(32, 16)
    torch.manual_seed(2)
    second = NeuralNetwork(32, 16)
    assert any(same_weights(load_model(path), model) for model in (first, second))
    assert sorted(os.listdir(path.parent)) == ["model.pt", "ready-1", "ready-2"]


# ------------------------------------------------------------------------------------- crafted checkpoints


def lesson_checkpoint(**changes) -> dict:
    """A checkpoint of the lesson's network as the course writes one, with `changes` made."""
    model, optimizer = trained()
    state = {"format": FORMAT, "sizes": model.sizes, "model_state": model.state_dict(), "dataset": "mnist",
             "history": HISTORY, "optimizer_state": optimizer.state_dict()}  # fmt: skip
    return {**state, **changes}


def nested(depth: int) -> list:
    value: list = [0.5]
    for _ in range(depth):
        value = [value]
    return value


def crafted(case: str, path) -> str:
    """Write one crafted checkpoint at `path`: a few MB that, walked or printed naively, take gigabytes or forever;
    returns the words its refusal must contain."""
    if case == "normalization shared":  # 2 million references to one 1 kB string: 2 GB once printed
        torch.save(lesson_checkpoint(normalization=["x" * 1000] * 2_000_000), path)
        return "holds a 'normalization' entry nested over 16 deep or of more than 1,000,000 values in all"
    if case == "sizes shared":
        torch.save(lesson_checkpoint(sizes=["x" * 1000] * 2_000_000), path)
        return "holds a 'sizes' entry nested over 16 deep or of more than 1,000,000 values in all"
    if case == "nested 30,000 deep":
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(100_000)  # for pickle, to write it
        try:
            torch.save(lesson_checkpoint(normalization=nested(30_000)), path)
        finally:
            sys.setrecursionlimit(limit)
        return "holds a 'normalization' entry nested over 16 deep"
    shared = [0.5] * 100_000  # 100,000 history keys sharing one list: 10 billion numbers once followed
    torch.save(lesson_checkpoint(history={f"loss {i}": shared for i in range(100_000)}), path)
    return "holds a training history that is not lists of numbers, or of more than 1,000,000 in all"


EVALUATE_WITH_PEAK = textwrap.dedent(
    """
    import sys
    from mnist_tutorial.cli import main
    print("status", main(["evaluate", "--checkpoint", sys.argv[1], "--source", "sample"]), file=sys.stderr)
    # VmHWM, this process's own peak in kB (getrusage's ru_maxrss would include the forking parent's)
    print("peak", next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")),
          file=sys.stderr)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["normalization shared", "sizes shared", "nested 30,000 deep", "history keys shared"])
def test_a_crafted_structure_is_refused_in_one_line_without_walking_it(tmp_path, case):
    path = tmp_path / "model.pt"
    words = crafted(case, path)
    assert path.stat().st_size < 6_000_000
    limit = ["prlimit", "--as=6000000000"] if shutil.which("prlimit") else []  # torch alone maps about 3 GB
    command = [*limit, sys.executable, "-c", EVALUATE_WITH_PEAK, str(path)]
    # 120 s only catches a hang (it takes seconds); how long it takes is no assertion
    result = run_with_deadline(command, capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 0 and len(lines) == 3 and lines[1] == "status 2", result.stderr[-3000:]
    error, _, peak = lines
    assert error.startswith(f"mnist-tutorial: error: {path} ") and words in error and len(error) < 400, error
    assert int(peak.split()[1]) * 1024 < 1_500_000_000, peak


def test_a_stride_0_momentum_buffer_is_refused_on_loading(tmp_path):
    state = lesson_checkpoint()
    state["optimizer_state"]["state"][0]["momentum_buffer"] = torch.zeros(1).expand(128, 784)
    torch.save(state, tmp_path / "model.pt")
    assert message(tmp_path / "model.pt") == (
        f"{tmp_path}/model.pt holds an optimizer state that does not fit its network (a momentum buffer of another "
        "shape, or a stride-0 view), which the course never writes: delete it and train again"
    )


@pytest.mark.parametrize(
    "change",
    [{"state": {0: {"momentum_buffer": torch.zeros(3)}}}, {"state": {7: {"momentum_buffer": torch.zeros(3)}}},
     {"param_groups": [{"params": [0, 0, 1, 2, 3, 4]}]}, {"param_groups": [{"params": [0, 1, 2, 3, 4, 5], "lr": "x"}]},
     {"state": [1, 2]}],
    ids=["shape", "index", "params", "lr", "kind"],
)  # fmt: skip
def test_an_optimizer_state_that_does_not_fit_the_network_is_refused_on_loading(tmp_path, change):
    state = lesson_checkpoint()
    state["optimizer_state"].update(change)
    torch.save(state, tmp_path / "model.pt")
    assert "holds an optimizer state that does not fit its network" in message(tmp_path / "model.pt")


def test_history_lists_of_unequal_length_are_refused_on_loading(tmp_path):
    torch.save(lesson_checkpoint(history={**HISTORY, "seconds": [1.0]}), tmp_path / "model.pt")
    assert message(tmp_path / "model.pt") == (
        f"{tmp_path}/model.pt holds a training history that has lists of different lengths ({{'seconds': 1, "
        "'test_accuracy': 2, 'test_loss': 2, 'train_loss': 2}), which the course never writes (a crafted file?): "
        "delete it and train again"
    )


def test_a_long_text_is_refused_and_quoted_cut_short(tmp_path):
    torch.save(lesson_checkpoint(settings={"source": "s" * 10**6}), tmp_path / "settings.pt")
    assert "holds an epoch count or settings of a kind" in message(tmp_path / "settings.pt")
    torch.save(lesson_checkpoint(dataset="m" * 10**6), tmp_path / "dataset.pt")
    assert message(tmp_path / "dataset.pt") == (
        f"{tmp_path}/dataset.pt names its dataset 'mmmmmmmmmmmmmmmmm...mmmmmmmmmmmmmmmmmm', which the course never "
        "writes: delete it and train again"
    )


def test_a_wrapper_prefix_repeated_a_million_times_costs_one_pass(tmp_path):
    weights = NeuralNetwork().state_dict()
    weights["module." * 1_000_000 + "fc1.weight"] = weights.pop("fc1.weight")
    torch.save(weights, tmp_path / "wrapped.pt")
    assert same_weights(load_model(tmp_path / "wrapped.pt"), load_model_from(weights))


def load_model_from(weights: dict) -> NeuralNetwork:
    model = NeuralNetwork()
    model.load_state_dict(checkpoint.without_wrappers(weights))
    return model


# -------------------------------------------------------------------------------------- save_checkpoint's edges


@pytest.mark.parametrize(
    "path, refusal",
    [(None, "`path` is None, not a path: pass a file or folder name as a string"),
     ("", "`path` is empty: pass a file or folder name (an unset variable?)")],
)  # fmt: skip
def test_saving_to_no_path_is_refused_by_name(path, refusal):
    with pytest.raises(ConfigError) as refused:
        save_checkpoint(path, model=NeuralNetwork(), dataset="mnist", history=HISTORY)
    assert str(refused.value) == refusal


def test_saving_under_home_expands_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    save_checkpoint("~/x.pt", model=NeuralNetwork(), dataset="mnist", history=HISTORY)
    assert os.listdir(tmp_path) == ["x.pt"] and load_checkpoint(tmp_path / "x.pt")["epoch"] == 2


def test_a_history_object_is_saved_as_its_dict(tmp_path):
    save_checkpoint(tmp_path / "model.pt", model=NeuralNetwork(), dataset="mnist", history=history_of(3))
    state = load_checkpoint(tmp_path / "model.pt")
    assert state["epoch"] == 3 and state["history"] == history_of(3).to_dict()


@pytest.mark.parametrize(
    "history, refusal",
    [([0.5], "`history` is not lists of numbers"), (None, "`history` is not lists of numbers"),
     ({"train_loss": [torch.tensor(0.5)]}, "`history` is not lists of numbers"),
     ({**HISTORY, "seconds": []}, "`history` has lists of different lengths ({'seconds': 0, 'test_accuracy': 2, "
                                  "'test_loss': 2, 'train_loss': 2})")],
)  # fmt: skip
def test_a_history_of_another_kind_is_refused_in_one_sentence(tmp_path, history, refusal):
    with pytest.raises(ConfigError) as refused:
        save_checkpoint(tmp_path / "model.pt", model=NeuralNetwork(), dataset="mnist", history=history)
    assert str(refused.value) == f"{refusal}: pass the History that fit returned, or its to_dict()"
    assert os.listdir(tmp_path) == []


@contextlib.contextmanager
def a_process_group(tmp_path) -> Iterator[None]:
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


def test_a_model_that_is_not_the_lessons_network_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError) as refused:
        save_checkpoint(tmp_path / "model.pt", model=torch.nn.Linear(784, 10), dataset="mnist", history=HISTORY)
    assert str(refused.value) == "`model` is a Linear, not the lesson's network: pass a mnist_tutorial.NeuralNetwork"


def test_a_planted_link_at_the_checkpoint_is_refused_and_its_target_left_alone(tmp_path):
    victim = tmp_path / "notes.txt"
    victim.write_text("my notes\n")
    os.link(victim, tmp_path / "model.pt")
    with pytest.raises(OSError) as refused:
        saved(tmp_path / "model.pt")
    assert str(refused.value) == (
        f"cannot write {tmp_path}/model.pt: it is a hard link, not a file the course wrote: move it away or choose "
        "another `path`"
    )
    assert victim.read_text() == "my notes\n" and sorted(os.listdir(tmp_path)) == ["model.pt", "notes.txt"]
