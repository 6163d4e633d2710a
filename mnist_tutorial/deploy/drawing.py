"""A digit drawn with the mouse, prepared as MNIST's digits were (LeCun et al.): scaled to fit 20x20 keeping its
aspect ratio, then placed in 28x28 with its centre of mass in the middle.

The one specification of it: the web page's preprocess.js does the same steps line for line, and a test checks that
both give the same 784 numbers for the same strokes. So every step is exact: whole numbers where it can be, else the
same few floating-point operations in the same order, which give the same bits in NumPy and JavaScript.
"""

from collections.abc import Sequence

import numpy as np
import torch

from ..data import normalize

SIZE = 28  # MNIST images are 28x28 ...
BOX = 20  # ... with the digit scaled to fit 20x20 inside them
CENTRE = 14  # ... and its centre of mass on pixel (14, 14): MNIST's own digits measure 14.0 ± 0.3
CANVAS, PEN = 280, 18  # the pad's and the page's canvas side and pen width, in canvas pixels (app.js: the same)

Point = tuple[float, float]


def rasterize(strokes: Sequence[Sequence[Point]], *, size: int = CANVAS, width: float = PEN) -> np.ndarray:
    """Pen strokes (lists of (x, y) canvas points) as a (size, size) uint8 array, 0 = paper, 255 = ink.

    A pixel is ink when its centre (column + 0.5, row + 0.5) lies within width / 2 of a stroke's segment, or of
    its point for a single click. No anti-aliasing: the scaling makes the grey levels.
    """
    ink = np.zeros((size, size), dtype=bool)
    radius = width / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        for start, end in zip(points, points[1:] or points, strict=False):
            _ink_segment(ink, start, end, radius)
    return ink.astype(np.uint8) * 255


def _ink_segment(ink: np.ndarray, start: Point, end: Point, radius: float) -> None:
    """Mark the pixels whose centres lie within `radius` of the segment start-end (a point when they are equal)."""
    (x0, y0), (x1, y1) = start, end
    # Only the pixels near the segment can be inked: look at its bounding box, widened by the radius.
    top, bottom = _window(min(y0, y1) - radius, max(y0, y1) + radius, ink.shape[0])
    left, right = _window(min(x0, x1) - radius, max(x0, x1) + radius, ink.shape[1])
    if top >= bottom or left >= right:
        return
    py = np.arange(top, bottom, dtype=np.float64)[:, None] + 0.5  # pixel centres
    px = np.arange(left, right, dtype=np.float64)[None, :] + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    # t: where along the segment (0 = start, 1 = end) the point nearest each pixel centre lies.
    t = np.clip(((px - x0) * dx + (py - y0) * dy) / length2, 0, 1) if length2 > 0 else np.zeros((1, 1))
    ex, ey = px - (x0 + t * dx), py - (y0 + t * dy)
    ink[top:bottom, left:right] |= ex * ex + ey * ey <= radius * radius


def _window(low: float, high: float, size: int) -> tuple[int, int]:
    """Whole-pixel range [first, last + 1) of the pixels that may have centres in [low, high], within 0..size."""
    return max(int(np.floor(low)) - 1, 0), min(int(np.ceil(high)) + 1, size)


def as_bytes(ink: np.ndarray | torch.Tensor) -> np.ndarray:
    """A drawing as whole numbers 0..255 (int64): floats rounded and clipped; a float image within 0..1 is scaled."""
    pixels = np.asarray(ink)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D drawing (height, width), got shape {pixels.shape}")
    if np.issubdtype(pixels.dtype, np.floating):
        pixels = np.nan_to_num(pixels.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if pixels.max(initial=0) <= 1:  # 0..1, as ToTensor() gives: 1.0 is full ink
            pixels = pixels * 255
        pixels = np.rint(pixels)
    return np.clip(pixels, 0, 255).astype(np.int64)


def area_weights(old: int, new: int) -> np.ndarray:
    """(new, old) whole-number weights for resizing `old` pixels to `new` by area averaging.

    On one ruler of old * new units, old pixel i spans [i * new, (i + 1) * new) and new pixel r [r * old, (r + 1) *
    old); weight [r, i] is the length of their overlap, and each row of weights sums to `old`.
    """
    edges_old = np.arange(old + 1) * new
    edges_new = np.arange(new + 1) * old
    ends = np.minimum(edges_new[1:, None], edges_old[None, 1:])
    starts = np.maximum(edges_new[:-1, None], edges_old[None, :-1])
    return np.maximum(ends - starts, 0)


def scale_to_box(box: np.ndarray) -> np.ndarray:
    """Scale a (height, width) image of 0..255 so its longer side is BOX pixels, by area averaging.

    New sides are round(side * BOX / longer side), at least 1; each new pixel is the overlap-weighted average of the
    old pixels it covers. All in whole numbers, halves rounded up.
    """
    height, width = box.shape
    longer = max(height, width)
    new_height = max(1, (2 * height * BOX + longer) // (2 * longer))
    new_width = max(1, (2 * width * BOX + longer) // (2 * longer))
    total = area_weights(height, new_height) @ box.astype(np.int64) @ area_weights(width, new_width).T
    area = height * width  # of one new pixel, in the ruler's units squared
    return ((2 * total + area) // (2 * area)).astype(np.uint8)


def centre_offset(mass: np.ndarray, axis: int, room: int) -> int:
    """The shift that puts the centre of mass along `axis` nearest to pixel CENTRE, within 0..room."""
    profile = mass.sum(axis=1 - axis)
    total, moment = int(profile.sum()), int((profile * np.arange(len(profile))).sum())
    # floor(CENTRE - moment / total + 1/2), in whole numbers
    shift = ((2 * CENTRE + 1) * total - 2 * moment) // (2 * total)
    return min(max(shift, 0), room)


def to_mnist_bytes(ink: np.ndarray | torch.Tensor) -> np.ndarray:
    """A drawing (2-D, 0 = paper .. 255 = ink, or floats 0..1, any size) as a 28x28 uint8 image prepared like MNIST.

    Crop to the inked pixels; scale the longer side to 20 pixels (scale_to_box); paste into
    28x28 with the centre of mass as near pixel (14, 14) as whole shifts allow, no ink over the edge. Empty: blank.
    """
    pixels = as_bytes(ink)
    rows, columns = np.nonzero(pixels)
    result = np.zeros((SIZE, SIZE), dtype=np.uint8)
    if len(rows) == 0:
        return result
    small = scale_to_box(pixels[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1])
    if not small.any():  # a faint speck that vanished when scaled: keep it as one pixel
        small[small.shape[0] // 2, small.shape[1] // 2] = 255
    mass = small.astype(np.int64)
    top = centre_offset(mass, 0, SIZE - small.shape[0])
    left = centre_offset(mass, 1, SIZE - small.shape[1])
    result[top : top + small.shape[0], left : left + small.shape[1]] = small
    return result


def preprocess(ink: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A drawing -> the network's input, float32 (1, 1, 28, 28) in -1..1: to_mnist_bytes, then Normalize."""
    image = torch.from_numpy(to_mnist_bytes(ink))
    return normalize(image.unsqueeze(0))


def digit_strokes(image: np.ndarray | torch.Tensor, *, size: int = CANVAS) -> list[list[Point]]:
    """A 28x28 image (0 = paper .. 255 = ink) as pen dots on a size x size canvas, one per inked pixel, as app.js does.

    This is how a keyboard reaches a prediction ("Show me a test digit"): drawn as if by hand, prepared as any drawing.
    """
    pixels = np.asarray(image, dtype=np.int64).reshape(SIZE, SIZE)
    scale = size / SIZE
    rows, columns = np.nonzero(pixels >= 128)  # half ink and more; row by row, left to right: the order app.js uses
    return [[((c + 0.5) * scale, (r + 0.5) * scale)] for r, c in zip(rows.tolist(), columns.tolist(), strict=True)]
