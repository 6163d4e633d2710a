"""03's training cell is the lesson's loop: it trains exactly as the package's train_one_epoch does, and the
settings cell feeds it (an edited copy of the notebook changes the run)."""

from pathlib import Path

import nbformat
import pytest
import torch
from helpers import code_cells, cut_after, execute, printed, same_weights, tiny_data, writing_into
from torch import nn, optim

from mnist_tutorial import NeuralNetwork, cpu_threads, load_data, make_loaders, train_one_epoch
from mnist_tutorial.data import Data
from mnist_tutorial.defaults import DEVICE_ENV, PROGRESS_ENV, SAMPLE_LOG_EVERY, SOURCE_ENV

pytestmark = pytest.mark.slow  # make check leaves these to make test

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_training.ipynb"
LESSON_LINES = (
    "optimizer.zero_grad()",
    "outputs = model(inputs.view(-1, 784))",
    "loss = criterion(outputs, labels)",
    "loss.backward()",
    "optimizer.step()",
    "running_loss += loss.item()",
)


def loop_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The one code cell that runs the lesson's loop."""
    (cell,) = [cell for cell in code_cells(notebook) if "optimizer.zero_grad()" in cell.source]
    return cell


def seeded_run(data: Data, *, seed: int = 0, batch_size: int = 32, lr: float = 0.01):
    """A seeded network, its loader and optimizer: the notebook's cells before the loop, on `data`."""
    torch.manual_seed(seed)
    model = NeuralNetwork()
    train_loader, _ = make_loaders(data, batch_size=batch_size, seed=seed)
    return model, train_loader, optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def run_loop_cell(times: int, *, num_epochs: int, log_every: int) -> dict:
    """Execute 03's loop cell `times` times in one namespace, as a learner re-running it would."""
    model, train_loader, optimizer = seeded_run(tiny_data())
    namespace = {
        "model": model,
        "train_loader": train_loader,
        "optimizer": optimizer,
        "criterion": nn.CrossEntropyLoss(),
        "num_epochs": num_epochs,
        "log_every": log_every,
        "epoch_losses": [],
    }
    code = compile(loop_cell(nbformat.read(NOTEBOOK, as_version=4)).source, "03_training loop cell", "exec")
    with cpu_threads(1):
        for _ in range(times):
            exec(code, namespace)
    return namespace


def run_package(epochs: int, *, log_every: int) -> tuple[nn.Module, list[float]]:
    """The same from the same seed and batches, with the package's train_one_epoch."""
    model, train_loader, optimizer = seeded_run(tiny_data())
    criterion = nn.CrossEntropyLoss()
    with cpu_threads(1):
        means = [
            train_one_epoch(model, train_loader, optimizer, criterion, epoch=epoch, log_every=log_every)
            for epoch in range(1, epochs + 1)
        ]
    return model, means


def test_the_loop_cell_holds_the_lessons_lines_and_its_committed_output_the_running_loss():
    cell = loop_cell(nbformat.read(NOTEBOOK, as_version=4))
    assert all(line in cell.source for line in LESSON_LINES)
    assert 'print(f"[Epoch {epoch + 1}, Batch {i}] Loss: {running_loss / log_every:.3f}")' in cell.source
    printed = "".join(output.get("text", "") for output in cell.outputs)
    assert "[Epoch 1, Batch 50] Loss: " in printed and "[Epoch 10, Batch 100] Loss: " in printed


# 256 tiny images in batches of 32: 8 batches per epoch. Run once for 2 epochs, or twice for 1 as a learner re-running
# the cell would: the lines and the weights are train_one_epoch's, and a second run continues from the first.
@pytest.mark.parametrize(
    ("times", "num_epochs", "log_every", "said"),
    [
        (1, 2, 3, ["training a fresh network", "1, Batch 3", "1, Batch 6", "2, Batch 3", "2, Batch 6"]),
        (2, 1, 4, ["training a fresh network", "1, Batch 4", "1, Batch 8", "continuing from epoch 1", "2, Batch 4",
                   "2, Batch 8"]),
    ],
)  # fmt: skip
def test_the_loop_cell_trains_bit_for_bit_as_train_one_epoch(capsys, times, num_epochs, log_every, said):
    namespace = run_loop_cell(times, num_epochs=num_epochs, log_every=log_every)
    notebook_lines = capsys.readouterr().out.splitlines()
    model, means = run_package(2, log_every=log_every)
    package_lines = iter(capsys.readouterr().out.splitlines())
    assert same_weights(namespace["model"], model)
    expected = [line if line[0].isalpha() else next(package_lines) for line in said]
    assert notebook_lines == expected and next(package_lines, None) is None
    assert [line.split("]")[0].removeprefix("[Epoch ") for line in expected] == said
    assert namespace["epoch_losses"] == pytest.approx(means, rel=1e-12)  # the same losses, summed in another order


def notebook_env(monkeypatch) -> None:
    for name, value in {SOURCE_ENV: "sample", DEVICE_ENV: "cpu", PROGRESS_ENV: "text"}.items():
        monkeypatch.setenv(name, value)


def edited_copy(*, whole: bool = False, **settings: object) -> nbformat.NotebookNode:
    """03 with `settings` changed in its settings cell, cut after the loop cell unless `whole` (it saves to build/)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(cell for cell in code_cells(notebook) if cell.source.startswith("lr = "))  # the settings cell
    lines = cell.source.splitlines()
    for name, value in settings.items():
        (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{name} = ")]
        lines[index] = f"{name} = {value!r}"
    cell.source = "\n".join(lines)
    if not whole:
        notebook.cells = notebook.cells[: notebook.cells.index(loop_cell(notebook)) + 1]
    return notebook


def test_the_settings_cell_feeds_the_run(tmp_path, monkeypatch, capsys):
    notebook_env(monkeypatch)
    notebook = edited_copy(lr=0.01, batch_size=32, num_epochs=1)
    lines = execute(notebook, tmp_path)
    assert "250 batches of 32 images per epoch" in lines  # 8,000 sample images
    running = [line for line in lines if line.startswith("[Epoch")]

    data = load_data(source="sample")
    model, train_loader, optimizer = seeded_run(data, batch_size=32, lr=0.01)
    capsys.readouterr()
    with cpu_threads(1):
        train_one_epoch(model, train_loader, optimizer, nn.CrossEntropyLoss(), log_every=SAMPLE_LOG_EVERY)
    assert running == capsys.readouterr().out.splitlines()
    assert [line.split("]")[0] for line in running] == [f"[Epoch 1, Batch {b}" for b in (50, 100, 150, 200, 250)]
    committed = [line for line in printed(nbformat.read(NOTEBOOK, as_version=4)) if line.startswith("[Epoch 1,")]
    assert running[0] != committed[0]  # the lesson's settings print another first loss


# ------------------------------------------------------------------------ a learner's mistakes, diagnosed


def judged_by_04(build: Path) -> list[str]:
    """What 04 prints up to its own count of the test accuracy, judging the network saved under `build`."""
    evaluation = writing_into(nbformat.read(NOTEBOOK.with_name("04_evaluation.ipynb"), as_version=4), build)
    return execute(cut_after(evaluation, 'print(f"Test Accuracy: {100 * correct / total:.2f}%")'), build)


# The checks on a learner's objects (a missing zero_grad or step, a stale optimizer) are unit-tested in
# test_selfcheck.py; here, once, that 03's verdict cell hands them the learner's own, and 04 judges that network.
def test_a_loop_without_zero_grad_is_named_and_its_network_is_the_one_04_judges(tmp_path, monkeypatch):
    notebook_env(monkeypatch)
    training = writing_into(nbformat.read(NOTEBOOK, as_version=4), tmp_path)
    loop = loop_cell(training)
    loop.source = loop.source.replace("optimizer.zero_grad()", "# optimizer.zero_grad()")
    lines = execute(cut_after(training, "check.saved("), tmp_path)
    verdicts = [line for line in lines if "zero_grad" in line]
    assert any(line.startswith("below 87% after 10 epochs: the gradients stored in your network") for line in verdicts)
    lines = judged_by_04(tmp_path)
    accuracy = float(next(line for line in lines if line.startswith("Test Accuracy:")).split()[-1].rstrip("%"))
    assert accuracy < 20  # the broken network, near chance: not a network the learner never trained
    assert any(line.startswith("judging your network from 03") for line in lines)


def test_run_all_at_lr_1_ends_with_a_verdict_and_04_judges_that_network(tmp_path, monkeypatch):
    notebook_env(monkeypatch)
    training = writing_into(edited_copy(whole=True, lr=1.0, num_epochs=2), tmp_path)
    lines = execute(training, tmp_path)  # Run All: an error output would raise here
    assert any(line.startswith("below 87% after 2 epochs: ") for line in lines)
    judged = judged_by_04(tmp_path)
    assert any(
        line.startswith("judging your network from 03 (") and "2 epochs, lr 1, momentum 0.9" in line for line in judged
    )
    assert any(line.startswith("03's verdict: below 87% after 2 epochs") for line in judged)
