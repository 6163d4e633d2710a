"""Self-checks for the exercises of notebook 02 (the data): `from mnist_tutorial.selfcheck import data as check`."""

import math

import torch

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
