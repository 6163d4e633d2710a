"""How good is the model: loss, accuracy, predictions, and where it goes wrong."""

from collections.abc import Iterable

import torch
from torch import nn

from .data import normalize
from .errors import ConfigError


@torch.inference_mode()
def evaluate(model: nn.Module, loader: Iterable, *, device: str | torch.device = "cpu") -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy (a fraction) over every batch of `loader`."""
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    count = 0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        outputs = model(inputs)
        total_loss += nn.functional.cross_entropy(outputs, labels, reduction="sum")
        correct += (outputs.argmax(dim=1) == labels).sum()
        count += len(labels)
    if count == 0:
        raise ConfigError("`loader` yielded no images to evaluate: pass a loader over at least one image")
    return total_loss.item() / count, correct.item() / count


@torch.inference_mode()
def predict(
    model: nn.Module, loader: Iterable | torch.Tensor, *, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Class probabilities (N, 10) and true labels (N,) on the CPU, for a loader of (inputs, labels) batches; for
    uint8 images (28, 28) or (N, 28, 28), normalised here as the lesson does, the labels are None."""
    model.eval()
    if isinstance(loader, torch.Tensor):
        return model(normalize(as_image_batch(loader)).to(device)).softmax(dim=1).cpu(), None
    probabilities, labels = [], []
    for inputs, batch_labels in loader:
        probabilities.append(model(inputs.to(device)).softmax(dim=1).cpu())
        labels.append(batch_labels.cpu())
    if not labels:
        raise ConfigError("`loader` yielded no images to predict: pass a loader over at least one image")
    return torch.cat(probabilities), torch.cat(labels)


def as_image_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (28, 28) or (N, 28, 28) as (N, 28, 28); float ones are refused, their scale being unknown."""
    if images.dtype != torch.uint8:
        raise ConfigError(
            f"`images` are {images.dtype}, but predict takes the uint8 pixels (0-255) and normalises them as the "
            "lesson does: pass e.g. data.test.images, or a loader of already normalised batches"
        )
    if tuple(images.shape[-2:]) != (28, 28) or images.dim() not in (2, 3):
        raise ConfigError(f"`images` have shape {tuple(images.shape)}: pass one (28, 28) image or a (N, 28, 28) batch")
    return images.view(-1, 28, 28)


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """(num_classes, num_classes) counts: row = true class, column = predicted class."""
    flat = labels * num_classes + predictions
    return torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """Fraction of each true class predicted correctly, shape (num_classes,)."""
    return confusion.diag().float() / confusion.sum(dim=1).clamp(min=1).float()


def most_confident_mistakes(probabilities: torch.Tensor, labels: torch.Tensor, k: int = 12) -> torch.Tensor:
    """Indices of the k wrong predictions made with the highest probability, most confident first."""
    confidence, predictions = probabilities.max(dim=1)
    wrong = (predictions != labels).nonzero().flatten()
    order = confidence[wrong].argsort(descending=True)
    return wrong[order[:k]]
