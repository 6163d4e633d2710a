"""benchmarks/bench_cnn.py: it runs on tiny settings, trains 09's own network, and records what its README quotes."""

import json
from pathlib import Path

import nbformat
import torch
from helpers import tiny_data

from benchmarks import bench_cnn as bench
from mnist_tutorial import NeuralNetwork, fit, make_loaders, make_optimizer, seed_everything
from mnist_tutorial.selfcheck import next_steps

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "benchmarks" / "results" / "cnn_fashion.json"
NOTEBOOK = ROOT / "notebooks" / "09_next_steps.ipynb"


def notebook_namespace() -> dict:
    """09's settings cell and its SmallCNN class, run as the notebook runs them."""
    cells = [cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code"]
    settings = next(source for source in cells if source.startswith("channels1 ="))
    network = next(source for source in cells if source.startswith("class SmallCNN"))
    namespace: dict = {}
    exec(f"import torch\nfrom torch import nn\n{settings}\n{network}", namespace)
    return namespace


def shapes(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(parameter.shape)) for name, parameter in model.named_parameters()]


def test_the_benchmark_trains_09s_network():
    namespace = notebook_namespace()
    assert shapes(namespace["SmallCNN"]()) == shapes(bench.SmallCNN())
    assert (namespace["channels1"], namespace["channels2"]) == next_steps.CHANNELS  # the self-checks' defaults
    assert next_steps.expected_parameters(*next_steps.CHANNELS) == sum(p.numel() for p in bench.SmallCNN().parameters())


def test_fit_trains_09s_cnn_which_flattens_itself():
    # fit's step passes the batch as it comes, (64, 1, 28, 28): a CNN needs the grid, the lesson's MLP flattens it
    seed_everything(0)
    model = notebook_namespace()["SmallCNN"]()
    train_loader, test_loader = make_loaders(tiny_data(640, 200), seed=0)
    history = fit(model, train_loader, test_loader, num_epochs=3, optimizer=make_optimizer(model, lr=0.01))
    assert history.epochs == 3 and history.train_loss[-1] < history.train_loss[0] / 2
    assert history.test_accuracy[-1] > 0.5  # ten bars at ten heights: far above chance's 10%


def test_multiply_adds_are_counted_per_layer():
    assert bench.multiply_adds(NeuralNetwork()) == 784 * 128 + 128 * 64 + 64 * 10
    assert bench.multiply_adds(bench.SmallCNN()) == 28 * 28 * 8 * 9 + 14 * 14 * 16 * 8 * 9 + 16 * 7 * 7 * 10


def test_it_runs_on_tiny_settings_and_reports_every_figure(capsys, tmp_path):
    out = tmp_path / "cnn.json"
    argv = ["--dataset", "mnist", "--source", "sample", "--epochs", "1", "--train-size", "256", "--test-size", "64"]
    assert bench.main([*argv, "--json", "--json-out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == result
    assert (result["train_images"], result["test_images"], result["epochs"]) == (256, 64, 1)
    assert list(result["networks"]) == ["MLP", "CNN"]
    assert result["networks"]["MLP"]["parameters"] == 109_386
    assert result["networks"]["CNN"]["parameters"] == next_steps.expected_parameters(*next_steps.CHANNELS)
    for figures in result["networks"].values():
        assert len(figures["epoch_s"]) == 1 and figures["s_per_epoch"] > 0 and 0 <= figures["test_accuracy"] <= 1


def test_the_recorded_figures_hold_what_the_readme_quotes():
    recorded = json.loads(RECORDED.read_text())
    assert recorded["dataset"] == "fashion" and recorded["train_images"] == 60_000 and recorded["epochs"] == 10
    assert {"cpu", "cores", "torch", "note"} <= set(recorded["machine"])
    for name in ("MLP", "CNN"):
        assert {"parameters", "s_per_epoch", "test_accuracy"} <= set(recorded["networks"][name])
