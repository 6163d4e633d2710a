"""Self-checks for the exercises of notebook 02 (the data): `from mnist_tutorial.selfcheck import data as check`."""

import math

import torch

from .verdicts import YourTurn as YourTurn
from .verdicts import as_number, close_to, never_raises, too_rounded, unusable, verdict, whole_number


def as_pair(answer: object) -> tuple[float, float] | None:
    """The answer as two floats (a tuple or list of two numbers), else None."""
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return None
    low, high = (as_number(value) for value in answer)
    return None if low is None or high is None else (low, high)


@never_raises
def min_max_without_normalize(answer: object) -> bool:
    """Check (smallest, largest) value of an image after ToTensor() alone."""
    pair = as_pair(answer)
    if pair is None:
        hint = unusable(answer, "two numbers, (smallest, largest), such as (-3.0, 3.0)")
    elif pair == (-1.0, 1.0):
        hint = "that is what Normalize gives: remove it from the Compose, rebuild the dataset and look again"
    elif pair == (0.0, 255.0):
        hint = "those are the bytes before any transform: ToTensor() changes them too"
    else:
        hint = "print image.min() and image.max() of one image from a dataset built with ToTensor() alone"
    return verdict(pair == (0.0, 1.0), correct="(0.0, 1.0): ToTensor() divides the bytes 0..255 by 255", hint=hint)


def training_bytes(train_set: object) -> torch.Tensor:
    """The training images as bytes: a torchvision MNIST dataset's .data, a course Data's train split, or a tensor."""
    if isinstance(train_set, torch.Tensor):
        return train_set
    if isinstance(getattr(train_set, "data", None), torch.Tensor):  # torchvision's datasets keep the bytes here
        return train_set.data  # type: ignore[attr-defined]
    return train_set.train.images  # type: ignore[attr-defined]  # mnist_tutorial's Data


@never_raises
def mean_pixel(answer: object, train_set: object) -> bool:
    """Check the mean of every pixel of every training image, as ToTensor() gives them (0 to 1)."""
    mean = training_bytes(train_set).double().div(255).mean().item()
    value = as_number(answer)
    close = value is not None and close_to(value, mean, answer=answer, tolerance=5e-4, min_decimals=2)
    if value is None:
        hint = unusable(answer, "one number, such as 0.5")
    elif math.isclose(value, mean * 255, rel_tol=1e-3):
        hint = "that is the mean of the bytes (0 to 255): ToTensor() divides them by 255"
    elif math.isclose(value, (mean - 0.5) / 0.5, abs_tol=1e-3):
        hint = "that is the mean after Normalize too: the exercise asks for ToTensor()'s values, from 0 to 1"
    elif not 0 <= value <= 1:
        hint = "ToTensor()'s values lie between 0 and 1, so their mean does too"
    elif too_rounded(value, mean, answer=answer, min_decimals=2):
        hint = "close: give 2 decimals or more"
    else:
        hint = "average over all training images, every pixel: most pixels are background (0), so expect a small number"
    return verdict(close, correct=f"{mean:.4f}: most of each image is empty background", hint=hint)


@never_raises
def batches_per_epoch(answer: object, *, batch_size: int, images: int) -> bool:
    """Check how many batches a DataLoader of `images` images yields per epoch at `batch_size` (02 and 03 ask)."""
    expected = math.ceil(images / batch_size)
    count = whole_number(answer)
    if count is None:
        hint = unusable(answer, "a whole number of batches")
    elif count == images // batch_size and count != expected:
        hint = (
            f"{images:,} images do not split evenly into batches of {batch_size}: "
            "the last batch counts too, a last, smaller one"
        )
    elif count == images:
        hint = "that is the number of images: how many batches of the batch size do they fill?"
    elif count == images * batch_size:
        hint = "divide the number of images by the batch size, don't multiply"
    else:
        hint = (
            f"divide the images into batches of {batch_size}: together they cover all {images:,} once, "
            "a partial last batch included"
        )
    return verdict(count == expected, correct=f"{expected} batches of up to {batch_size} images", hint=hint)


@never_raises
def transform(transform: object) -> bool:
    """Check the lesson's transform: a 28x28 image of bytes becomes floats of shape (1, 28, 28), 0 -> -1, 255 -> 1."""
    from PIL import Image  # torchvision's dependency; only this check needs it

    ramp = torch.tensor([[0, 255] * 14] * 28, dtype=torch.uint8)  # ink and background side by side
    result = transform(Image.fromarray(ramp.numpy()))  # type: ignore[operator]
    if not isinstance(result, torch.Tensor):
        hint = f"the transform returns {type(result).__name__}, not a tensor: start with transforms.ToTensor()"
    elif tuple(result.shape) != (1, 28, 28):
        hint = f"the transform gives shape {tuple(result.shape)}, not (1, 28, 28): ToTensor() adds the channel"
    elif result.min().item() == 0.0 and result.max().item() == 1.0:
        hint = "0 stays 0 and 255 becomes 1: add transforms.Normalize((0.5,), (0.5,)) after ToTensor()"
    elif not (math.isclose(result.min().item(), -1.0) and math.isclose(result.max().item(), 1.0)):
        low, high = result.min().item(), result.max().item()
        hint = f"bytes 0 and 255 become {low:+.3f} and {high:+.3f}, not -1 and +1: use Normalize((0.5,), (0.5,))"
    else:
        hint = ""
    return verdict(not hint, correct="bytes 0..255 become floats -1..+1 in a (1, 28, 28) tensor", hint=hint)


@never_raises
def loaders(train_loader: object, test_loader: object, *, batch_size: int) -> bool:
    """Check the lesson's two DataLoaders: batches of `batch_size`, the training one shuffled, the test one in order."""
    from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

    for name, loader in (("train_loader", train_loader), ("test_loader", test_loader)):
        if not isinstance(loader, DataLoader):
            return verdict(False, correct="", hint=f"`{name}` is {type(loader).__name__}: make it a DataLoader(...)")
        if loader.batch_size != batch_size:
            hint = f"`{name}` serves batches of {loader.batch_size}: pass batch_size=batch_size ({batch_size})"
            return verdict(False, correct="", hint=hint)
    if not getattr(train_loader.dataset, "train", True):  # type: ignore[union-attr]
        hint = "`train_loader` serves the test images: give it train_set"
    elif getattr(test_loader.dataset, "train", False):  # type: ignore[union-attr]
        hint = "`test_loader` serves the training images: give it test_set"
    elif not isinstance(train_loader.sampler, RandomSampler):  # type: ignore[union-attr]
        hint = "`train_loader` serves the images in the same order every epoch: pass shuffle=True"
    elif not isinstance(test_loader.sampler, SequentialSampler):  # type: ignore[union-attr]
        hint = "`test_loader` shuffles: the test images need no shuffling, pass shuffle=False"
    else:
        hint = ""
    correct = f"batches of {batch_size}, the training images shuffled each epoch, the test images in order"
    return verdict(not hint, correct=correct, hint=hint)
