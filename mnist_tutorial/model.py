"""The lesson's network: a multilayer perceptron from 28x28 pixels to 10 class scores."""

import torch
from torch import nn

from .defaults import HIDDEN_SIZES


class NeuralNetwork(nn.Module):
    """784 -> 128 -> 64 -> 10 with ReLU between: 109,386 parameters at the default sizes.

    Input: images of shape (batch, 1, 28, 28) or (batch, 784). Output: logits of shape (batch, 10).
    """

    def __init__(self, hidden1: int = HIDDEN_SIZES[0], hidden2: int = HIDDEN_SIZES[1], num_classes: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden1)
        self.fc2 = nn.Linear(hidden1, hidden2)
        self.fc3 = nn.Linear(hidden2, num_classes)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 28 * 28)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        # No softmax here: CrossEntropyLoss expects raw scores (logits) and applies log-softmax itself.
        return self.fc3(x)

    @property
    def sizes(self) -> dict[str, int]:
        """The layer sizes that rebuild this network: NeuralNetwork(**model.sizes)."""
        return {
            "hidden1": self.fc1.out_features,
            "hidden2": self.fc2.out_features,
            "num_classes": self.fc3.out_features,
        }


def count_parameters(model: nn.Module) -> int:
    """Number of trainable numbers in the model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
