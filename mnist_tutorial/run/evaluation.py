"""Evaluating a saved model on the test split of the data it was trained on."""

import os

from ..checkpoint import load_checkpoint, model_from_checkpoint
from ..data import load_data, make_test_loader
from ..datasets.specs import get_spec
from ..errors import CheckpointError, ConfigError, keywords_only
from ..evaluate import evaluate
from ..files import path_argument
from ..model import NeuralNetwork
from ..train import pick_device


def check_classes(path: str | os.PathLike, model: NeuralNetwork, dataset: str) -> None:
    """Refuse a network whose number of outputs differs from the dataset's number of classes."""
    classes = len(get_spec(dataset).class_names)
    if model.sizes["num_classes"] != classes:
        raise CheckpointError(
            f"{path} holds a network with {model.sizes['num_classes']} outputs, but {dataset} has {classes} "
            "classes: pass a checkpoint trained on it"
        )


@keywords_only
def evaluate_checkpoint(
    *,
    checkpoint: str | os.PathLike,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    source: str | None = None,
    device: str | None = None,
) -> float:
    """Test accuracy (a fraction) of a saved model on the test split of the data it was trained on."""
    torch_device = pick_device(device)
    checkpoint = path_argument("checkpoint", checkpoint)
    state = load_checkpoint(checkpoint)
    trained_on = state.get("dataset", "mnist")
    dataset = dataset or trained_on
    get_spec(dataset)
    if dataset != trained_on:
        raise ConfigError(f"{checkpoint} was trained on {trained_on}, not {dataset}: pass `dataset={trained_on}`")
    model = model_from_checkpoint(checkpoint, state).to(torch_device)
    check_classes(checkpoint, model, dataset)
    data = load_data(dataset=dataset, source=source, data_dir=data_dir)
    test_loader = make_test_loader(data, device=torch_device)
    _, accuracy = evaluate(model, test_loader, device=torch_device)
    print(f"Test Accuracy: {100 * accuracy:.2f}%")
    return accuracy
