"""The lesson's network: its layers, its parameter count, and the shapes it maps between."""

import pytest
import torch

from mnist_tutorial import NeuralNetwork, count_parameters


def test_the_default_network_is_784_128_64_10_with_the_lessons_109386_parameters():
    model = NeuralNetwork()
    assert [tuple(layer.weight.shape) for layer in (model.fc1, model.fc2, model.fc3)] == [
        (128, 784),
        (64, 128),
        (10, 64),
    ]
    assert count_parameters(model) == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10 == 109_386


@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 28, 28), (5, 784)])
def test_images_of_any_usual_shape_give_one_row_of_10_logits_each(shape):
    assert NeuralNetwork()(torch.rand(shape)).shape == (5, 10)


def test_logits_are_not_probabilities():
    # CrossEntropyLoss wants raw scores: the network must not apply softmax itself.
    torch.manual_seed(0)
    logits = NeuralNetwork()(torch.rand(8, 784))
    assert not torch.allclose(logits.sum(dim=1), torch.ones(8))


def test_sizes_rebuild_an_identically_shaped_network():
    model = NeuralNetwork(hidden1=32, hidden2=16, num_classes=7)
    assert model.sizes == {"hidden1": 32, "hidden2": 16, "num_classes": 7}
    rebuilt = NeuralNetwork(**model.sizes)
    rebuilt.load_state_dict(model.state_dict())  # strict: raises on any name or shape difference
    assert count_parameters(rebuilt) == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 7 + 7
