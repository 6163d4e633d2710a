"""cuda_graphs: the graphed loop computes what the lesson's loop computes, bit for bit.

On the CPU the capture is the stand-in (`Capture`), so these tests run the same static-buffer code path
(warm-up, capture, refilled buffers, replays, eager leftovers, losses read per replay) without CUDA. The
GPU tests at the end check the real graphs, and are skipped without CUDA (benchmarks/gpu_check.sh runs them).
"""

import pytest
import torch
from helpers import same_weights, tiny_data

from mnist_tutorial.data import make_loaders
from mnist_tutorial.errors import ConfigError, TrainingDivergedError
from mnist_tutorial.model import NeuralNetwork
from mnist_tutorial.speed.cuda_graphs import Capture, GraphedTraining, graph_per_epoch
from mnist_tutorial.train import DivergenceCheck, make_optimizer, seed_everything, train_one_epoch

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (benchmarks/gpu_check.sh)")


class CountingCapture(Capture):
    """The CPU stand-in, counting captures and replays, and proving that capturing runs nothing."""

    def __init__(self) -> None:
        self.captured = self.replays = 0

    def __call__(self, work):
        self.captured += 1

        def replay() -> None:
            self.replays += 1
            work()

        return replay


def train(epoch_fn, *, n_train=200, epochs=2, lr=0.001, device="cpu", log_every=2, on_batch=None):
    """Train a fresh seeded network with `epoch_fn`; returns the model, the epoch losses and the printed lines."""
    seed_everything(0)
    model = NeuralNetwork().to(device)
    optimizer = make_optimizer(model, lr=lr)
    loader, _ = make_loaders(tiny_data(n_train, 16), batch_size=64, device=device, seed=0)
    criterion, lines, losses = torch.nn.CrossEntropyLoss(), [], []
    for epoch in range(1, epochs + 1):
        losses.append(
            epoch_fn(
                model,
                loader,
                optimizer,
                criterion,
                epoch=epoch,
                device=device,
                log_every=log_every,
                log=lines.append,
                on_batch=on_batch,
            )
        )
    return model, losses, lines


# 200 images: 3 full batches of 64 and a partial one of 8 per epoch. 2 warm-up steps take epoch 1's first two,
# so epoch 1 queues 1 full batch and epochs 2 and 3 queue 3 each; a graph replays once its slots are full,
# batches still waiting at the epoch's end run eagerly, and so does the partial one.
@pytest.mark.parametrize(("steps_per_graph", "replays"), [(1, 1 + 3 + 3), (2, 0 + 1 + 1), (3, 0 + 1 + 1)])
def test_same_weights_losses_and_lines_as_the_lessons_loop(steps_per_graph, replays):
    capture = CountingCapture()
    graphed = GraphedTraining(steps_per_graph=steps_per_graph, warmup_steps=2, capture=capture)
    expected = train(train_one_epoch, epochs=3)
    model, losses, lines = train(graphed, epochs=3)
    assert same_weights(model, expected[0])
    assert losses == expected[1]  # floats equal: the same per-batch losses, summed in the same order
    assert lines == expected[2] and lines
    assert capture.captured == 1 and graphed.captures == 1
    assert capture.replays == replays


def test_a_dataset_that_is_a_multiple_of_the_batch():
    expected = train(train_one_epoch, n_train=256)
    model, losses, _ = train(GraphedTraining(steps_per_graph=3, warmup_steps=1), n_train=256)
    assert same_weights(model, expected[0]) and losses == expected[1]


def test_one_graph_per_epoch():
    seed_everything(0)
    loader, _ = make_loaders(tiny_data(200, 16), batch_size=64, seed=0)
    graphed = graph_per_epoch(loader)
    assert graphed.steps_per_graph == 3  # 4 batches: all but the last in the graph
    model, losses, _ = train(graphed, epochs=3)
    expected = train(train_one_epoch, epochs=3)
    assert same_weights(model, expected[0]) and losses == expected[1]


def test_a_new_learning_rate_means_a_new_capture():
    capture = CountingCapture()
    graphed = GraphedTraining(warmup_steps=1, capture=capture)
    seed_everything(0)
    model = NeuralNetwork()
    optimizer = make_optimizer(model)
    loader, _ = make_loaders(tiny_data(200, 16), batch_size=64, seed=0)
    criterion = torch.nn.CrossEntropyLoss()
    graphed(model, loader, optimizer, criterion, log=lambda line: None)
    optimizer.param_groups[0]["lr"] = 0.01
    graphed(model, loader, optimizer, criterion, log=lambda line: None)
    assert capture.captured == 2


def test_divergence_is_still_caught():
    graphed = GraphedTraining(steps_per_graph=2, warmup_steps=1)
    with pytest.raises(TrainingDivergedError, match="learning rate 10000"):
        train(graphed, n_train=2000, lr=1e4, on_batch=DivergenceCheck(lr=1e4))


def test_refuses_settings_that_cannot_work():
    with pytest.raises(ConfigError, match="at least 1"):
        GraphedTraining(warmup_steps=0)
    with pytest.raises(ConfigError, match="no batches"):
        GraphedTraining()(NeuralNetwork(), [], torch.optim.SGD(NeuralNetwork().parameters()), torch.nn.MSELoss())


def test_a_compiled_forward_pass_goes_through_the_compiler():
    compiled = []

    def compiler(function):
        compiled.append(function)
        return function  # the identity: same numbers, so the path is checked without compiling for 30 s

    model, losses, _ = train(GraphedTraining(steps_per_graph=2, warmup_steps=1, compiler=compiler))
    expected = train(train_one_epoch)
    assert len(compiled) == 1 and same_weights(model, expected[0]) and losses == expected[1]


@cuda
@pytest.mark.parametrize("steps_per_graph", [1, 3])
def test_cuda_graphs_end_with_the_same_weights_as_eager_on_the_gpu(steps_per_graph):
    expected = train(train_one_epoch, epochs=3, device="cuda")
    model, losses, lines = train(GraphedTraining(steps_per_graph=steps_per_graph), epochs=3, device="cuda")
    assert same_weights(model, expected[0]), "CUDA graphs changed the weights"
    assert losses == expected[1] and lines == expected[2]


@cuda
def test_compiled_graphs_stay_close_to_eager_on_the_gpu():
    expected = train(train_one_epoch, epochs=3, device="cuda")
    model, _, _ = train(GraphedTraining(steps_per_graph=1, compiler=torch.compile), epochs=3, device="cuda")
    gap = max((a - b).abs().max().item() for a, b in zip(model.parameters(), expected[0].parameters(), strict=True))
    assert gap < 1e-4, f"torch.compile inside the graph: largest weight difference from eager {gap:.3g}"


def test_the_recorded_gpu_figures_are_the_benchmarks_own():
    import json

    from mnist_tutorial.defaults import PROJECT_ROOT
    from mnist_tutorial.speed.recorded import recorded_gpu_figures

    recorded = recorded_gpu_figures()
    results = PROJECT_ROOT / "benchmarks" / "results"
    cuda, cpu = (json.loads((results / f"h200_{name}.json").read_text()) for name in ("cuda", "cpu"))
    seconds = recorded["seconds_per_epoch"]
    assert seconds["eager, fast path"] == round(cuda["pipelines"]["fast"]["s_per_epoch"], 3)
    assert seconds["the same machine's CPU, one core"] == round(cpu["pipelines"]["fast"]["s_per_epoch"], 3)
    assert recorded["torch"] == cuda["torch"] and cuda["device_name"] in recorded["machine"]
    assert seconds["one graph per step"] is None  # not yet run on a GPU: 06 and the flag's help say so
