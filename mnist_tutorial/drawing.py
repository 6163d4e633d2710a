"""Turning a digit drawn with the mouse into the kind of image the network was trained on.

MNIST's digits were prepared in a particular way (LeCun et al.): each was scaled, keeping its aspect
ratio, to fit a 20x20 box, then placed in a 28x28 image so that its centre of mass sits in the middle.
A drawing on a big canvas looks nothing like that until it gets the same treatment, so `preprocess`
does exactly those steps, then the lesson's normalisation.
"""

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from .fast_loader import normalize

SIZE = 28  # MNIST images are 28x28 ...
BOX = 20  # ... with the digit scaled to fit 20x20 inside them

Point = tuple[float, float]


def rasterize(strokes: Sequence[Sequence[Point]], *, size: int = 280, width: float = 18) -> np.ndarray:
    """Draw pen strokes (lists of (x, y) points) as ink: a (size, size) uint8 array, 0 = paper, 255 = ink."""
    image = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(image)
    radius = width / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=round(width))
        for x, y in points:  # round caps and joins, and a dot for a single click
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(image)


def to_mnist_bytes(ink: np.ndarray | torch.Tensor, *, threshold: float = 0) -> np.ndarray:
    """A drawing (2-D, 0 = paper .. 255 = ink, any size) as a 28x28 uint8 image prepared like MNIST.

    1. crop to the bounding box of the pixels brighter than `threshold`;
    2. scale that box so its longer side is 20 pixels, keeping the aspect ratio (with anti-aliasing);
    3. paste it into a blank 28x28 image so that its centre of mass lands on pixel (14, 14), as near as
       whole-pixel shifts allow, without pushing ink over the edge.
    An empty drawing gives a blank image.
    """
    pixels = np.asarray(ink, dtype=np.float32)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D drawing (height, width), got shape {pixels.shape}")
    pixels = np.clip(np.nan_to_num(pixels), 0, 255)
    rows, columns = np.nonzero(pixels > threshold)
    result = np.zeros((SIZE, SIZE), dtype=np.uint8)
    if len(rows) == 0:
        return result
    box = pixels[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]

    height, width = box.shape
    scale = BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))  # PIL wants (width, height)
    small = np.asarray(Image.fromarray(np.ascontiguousarray(box)).resize(new_size, Image.Resampling.LANCZOS))
    small = np.clip(np.rint(small), 0, 255).astype(np.uint8)  # LANCZOS overshoots a little

    # Centre of mass of the scaled digit, in pixel coordinates of `small`.
    mass = small.astype(np.float64)
    if mass.sum() == 0:  # a faint speck that vanished when scaled: keep it as one pixel
        small[small.shape[0] // 2, small.shape[1] // 2] = 255
        mass = small.astype(np.float64)
    centre_row = (mass.sum(axis=1) * np.arange(small.shape[0])).sum() / mass.sum()
    centre_column = (mass.sum(axis=0) * np.arange(small.shape[1])).sum() / mass.sum()

    # Shift it so that centre lands on pixel (14, 14), as near as whole pixels allow, keeping the digit
    # inside. (14, not the geometric 13.5: MNIST's own digits have their centre of mass at 14.0 ± 0.3.)
    middle = SIZE / 2
    top = min(max(int(np.floor(middle - centre_row + 0.5)), 0), SIZE - small.shape[0])
    left = min(max(int(np.floor(middle - centre_column + 0.5)), 0), SIZE - small.shape[1])
    result[top : top + small.shape[0], left : left + small.shape[1]] = small
    return result


def preprocess(ink: np.ndarray | torch.Tensor, *, threshold: float = 0) -> torch.Tensor:
    """A drawing (2-D, 0 = paper .. 255 = ink) -> the network's input: float32 (1, 1, 28, 28) in -1..1.

    The MNIST-style preparation of `to_mnist_bytes`, then the lesson's ToTensor + Normalize((0.5,), (0.5,)).
    """
    image = torch.from_numpy(to_mnist_bytes(ink, threshold=threshold))
    return normalize(image.unsqueeze(0))
