"""A DataLoader without the per-image work: the whole dataset decoded once, kept as one tensor.

The lesson's DataLoader turns every image into a PIL image, then a tensor, then normalises it, one at
a time, every epoch: on a small CPU that costs far more than the network's own arithmetic. Here that
work is done once, in one vectorised step, and each batch is just an index into a tensor.
"""

import math
from collections.abc import Iterator

import torch

from .defaults import NORMALIZE_MEAN, NORMALIZE_STD


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), bitwise equal to ToTensor() + Normalize per image."""
    # Same operations in the same order as ToTensor (divide by 255) then Normalize (subtract, divide),
    # so every float is rounded identically.
    return images.unsqueeze(1).float().div(255).sub(NORMALIZE_MEAN).div(NORMALIZE_STD)


class TensorLoader:
    """Iterate (inputs, labels) batches from tensors resident on `device`, like a DataLoader."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.inputs = normalize(images).to(device)
        self.labels = labels.to(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                yield self.inputs[start : start + self.batch_size], self.labels[start : start + self.batch_size]
            return
        # A fresh permutation each epoch from a seeded CPU generator: reproducible on any device.
        order = torch.randperm(n, generator=self.generator).to(self.labels.device)
        for start in range(0, n, self.batch_size):
            batch = order[start : start + self.batch_size]
            yield self.inputs[batch], self.labels[batch]
