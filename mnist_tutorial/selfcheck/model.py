"""Self-checks for the exercises of notebook 01 (the model): `from mnist_tutorial.selfcheck import model as check`."""

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

from ..defaults import HIDDEN_SIZES
from ..model import NeuralNetwork, count_parameters
from .verdicts import YourTurn as YourTurn
from .verdicts import as_shape, never_raises, unusable, verdict, whole_number

PIXELS = 28 * 28
CLASSES = 10


def expected_parameters(hidden1: int, hidden2: int) -> int:
    """Weights and biases of 784 -> hidden1 -> hidden2 -> 10: each nn.Linear(n, m) holds m·n + m."""
    return PIXELS * hidden1 + hidden1 + hidden1 * hidden2 + hidden2 + hidden2 * CLASSES + CLASSES


@never_raises
def parameter_count(answer: object, *, hidden1: int = HIDDEN_SIZES[0], hidden2: int = HIDDEN_SIZES[1]) -> bool:
    """Check a hand count of the parameters of NeuralNetwork(hidden1, hidden2)."""
    expected = expected_parameters(hidden1, hidden2)
    count = whole_number(answer)
    sizes = f"784 → {hidden1} → {hidden2} → 10"
    if count is None:
        hint = unusable(answer, "a whole number, such as 12345")
    elif count == expected - (hidden1 + hidden2 + CLASSES):
        hint = "that counts the weights only: each nn.Linear(n, m) also holds m biases, one per output"
    elif count == PIXELS * hidden1 + hidden1:
        hint = "that is fc1 alone: add the parameters of fc2 and fc3"
    elif (hidden1, hidden2) != HIDDEN_SIZES and count == expected_parameters(*HIDDEN_SIZES):
        hint = f"that is the count for the lesson's 128 and 64: redo it for {sizes}"
    else:
        direction = "too many" if count > expected else "too few"
        hint = f"{direction}: for each layer nn.Linear(n, m) count m·n weights plus m biases, then add the three"
    return verdict(count == expected, correct=f"{expected:,} parameters for {sizes}", hint=hint)


@never_raises
def fc2_output_shape(
    answer: object, *, batch_size: int = 32, hidden1: int = HIDDEN_SIZES[0], hidden2: int = HIDDEN_SIZES[1]
) -> bool:
    """Check the shape of fc2's output for a batch of `batch_size` images."""
    expected = (batch_size, hidden2)
    shape = as_shape(answer)
    if shape is None:
        hint = unusable(answer, "a tuple of whole numbers, such as (10, 20)")
    elif shape == (batch_size, hidden1):
        hint = f"that is fc2's input: fc2 is nn.Linear({hidden1}, {hidden2}), so what comes out?"
    elif shape == expected[::-1]:
        hint = "the right numbers in the wrong order: PyTorch puts the batch first, one row per image"
    elif len(shape) != 2:
        hint = "fc2's output has two dimensions: one row per image, one column per output of fc2"
    else:
        hint = "look at the shape table above: which line shows fc2, and what would change with another batch size?"
    return verdict(shape == expected, correct=f"{expected}: {batch_size} rows, one per image", hint=hint)


def without_relu(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight (10, 784) and bias (10,) of the one linear map that fc3(fc2(fc1(x))) amounts to."""
    with torch.no_grad():
        bias = model.fc3(model.fc2(model.fc1(torch.zeros(1, PIXELS))))[0]
        # Row j of the identity is an image with pixel j alone set to 1: what it adds is column j of the weight.
        weight = (model.fc3(model.fc2(model.fc1(torch.eye(PIXELS)))) - bias).T
    return weight, bias


@never_raises
def collapsed_layer(layer: object, model: object) -> bool:
    """Check that one nn.Linear(784, 10) computes what `model` computes once its ReLUs are removed."""
    if not isinstance(layer, nn.Linear):
        return verdict(False, correct="", hint=f"build an nn.Linear(784, 10), not a {type(layer).__name__}")
    if (layer.in_features, layer.out_features) != (PIXELS, CLASSES):
        hint = f"your layer maps {layer.in_features} to {layer.out_features}: the network maps 784 pixels to 10 scores"
        return verdict(False, correct="", hint=hint)
    weight, bias = without_relu(model)
    right_weight = torch.allclose(layer.weight, weight, atol=1e-5)
    right_bias = torch.allclose(layer.bias, bias, atol=1e-5)
    if right_weight and right_bias:
        return verdict(True, correct="one layer computes exactly what three linear layers without ReLU do", hint="")
    if right_weight:
        hint = "the weight is right, the bias is not: fc1's and fc2's biases also pass through the later layers"
    elif right_bias:
        hint = "the bias is right, the weight is not: multiply the weights last layer first, fc3 @ fc2 @ fc1"
    else:
        hint = "follow x through fc1, fc2 and fc3 with the formula x @ W.T + b and collect the terms in x"
    return verdict(False, correct="", hint=hint)


def layer_problem(model: nn.Module, name: str, inputs: int, outputs: int | None) -> str | None:
    """What is wrong with `model.<name>` as an nn.Linear(inputs, outputs), or None (outputs None: any)."""
    layer = getattr(model, name, None)
    wanted = f"nn.Linear({inputs}, {'...' if outputs is None else outputs})"
    if not isinstance(layer, nn.Linear):
        return f"`self.{name}` is missing: make it in __init__ as {wanted}"
    if layer.in_features != inputs or outputs not in (None, layer.out_features):
        return f"`self.{name}` maps {layer.in_features} to {layer.out_features}: make it {wanted}"
    return None


def lesson_forward(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """What the lesson's forward computes with `model`'s layers: (batch, 1, 28, 28) -> (batch, 10)."""
    x = torch.relu(model.fc1(images.reshape(-1, PIXELS)))
    return model.fc3(torch.relu(model.fc2(x)))


@never_raises
def network(model: object, *, hidden1: int | None = None, hidden2: int | None = None) -> bool:
    """Check the learner's network (or class): three nn.Linear layers that chain, forward as the lesson's.

    `hidden1` and `hidden2` are the sizes it must have; left out, whatever network.py set.
    """
    if isinstance(model, type):
        try:
            model = model()
        except NotImplementedError as stub:  # a practice copy's blank, left to write
            raise YourTurn(str(stub) or "the class") from None
    if not isinstance(model, nn.Module):
        return verdict(False, correct="", hint=f"pass the network you made, `model`, not {type(model).__name__}")
    sizes = [PIXELS, hidden1, hidden2, CLASSES]  # each layer's inputs are the outputs of the one before
    for index, name in enumerate(("fc1", "fc2", "fc3")):
        problem = layer_problem(model, name, sizes[index], sizes[index + 1])  # type: ignore[arg-type]
        if problem:
            return verdict(False, correct="", hint=problem)
        sizes[index + 1] = getattr(model, name).out_features
    images = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, expected = model(images), lesson_forward(model, images)
        no_relu = model.fc3(model.fc2(model.fc1(images.reshape(-1, PIXELS))))
    if tuple(logits.shape) != (4, CLASSES):
        hint = f"forward turns 4 images into shape {tuple(logits.shape)}, not (4, 10): return fc3's output"
    elif torch.allclose(logits, no_relu, atol=1e-6):
        hint = "forward applies no ReLU: put self.relu(...) around fc1's and fc2's outputs"
    elif not torch.allclose(logits, expected, atol=1e-5):
        hint = "forward does not compute relu(fc1) -> relu(fc2) -> fc3: compare it with the lesson's four lines"
    else:
        hint = ""
    shown = " → ".join(map(str, sizes)) + f" with ReLU between, {tuple(logits.shape)} scores for 4 images"
    return verdict(not hint, correct=f"your network is the lesson's: {shown}", hint=hint)


def network_from_01(folder: str | os.PathLike = ".") -> type[nn.Module]:
    """The NeuralNetwork class that 01 wrote to network.py in `folder`, read afresh; else the course's, said so."""
    path = Path(folder) / "network.py"
    if not path.is_file():
        print("no network.py beside this notebook (01_model writes it): using the course's copy of the lesson's class")
        return NeuralNetwork
    spec = importlib.util.spec_from_file_location("network", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    sizes = " → ".join(str(getattr(module, name, "?")) for name in ("hidden1", "hidden2"))
    print(f"your network from 01 (network.py): 784 → {sizes} → 10{parameters_of(module.NeuralNetwork)}")
    return module.NeuralNetwork


def parameters_of(network: type[nn.Module]) -> str:
    """ ", N parameters" of a fresh `network()`, leaving the random numbers as they were; "" for a practice blank."""
    try:
        with torch.random.fork_rng(devices=[]):
            return f", {count_parameters(network()):,} parameters"
    except NotImplementedError:
        return ""
