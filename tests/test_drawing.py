"""drawing: a drawn digit prepared like MNIST (box to 20 px, centred by mass in 28x28), then normalised.

The web page's preprocess.js mirrors this module; tests/test_export.py checks the two agree in Chromium.
"""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_tutorial import load_data, normalize
from mnist_tutorial.deploy.drawing import BOX, SIZE, area_weights, preprocess, rasterize, scale_to_box, to_mnist_bytes


def ink_box(image: np.ndarray) -> tuple[int, int, int, int]:
    rows, columns = np.nonzero(image)
    return rows.min(), rows.max(), columns.min(), columns.max()


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    mass = image.astype(np.float64)
    rows, columns = np.indices(image.shape)
    return (rows * mass).sum() / mass.sum(), (columns * mass).sum() / mass.sum()


def centred(image: np.ndarray) -> bool:
    row, column = centre_of_mass(image)
    return abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5


def canvas(*boxes: tuple[slice, slice], size: int = 280) -> np.ndarray:
    drawing = np.zeros((size, size), dtype=np.uint8)
    for box in boxes:
        drawing[box] = 255
    return drawing


def test_a_square_in_a_corner_ends_up_centred_at_20_pixels_and_a_dot_centred() -> None:
    image = to_mnist_bytes(canvas(np.s_[:50, :50]))
    assert image.shape == (SIZE, SIZE) and image.dtype == np.uint8
    assert ink_box(image) == (5, 24, 5, 24)  # 20x20, its centre (14.5) half a pixel from (14, 14)
    assert (image[5:25, 5:25] == 255).all()
    assert centred(to_mnist_bytes(canvas(np.s_[279:, 279:])))  # a single dot in the far corner


@settings(max_examples=60, deadline=None)
@given(top=st.integers(0, 250), left=st.integers(0, 250), height=st.integers(5, 120), width=st.integers(5, 120))
def test_any_rectangle_lands_centred_within_20_pixels(top: int, left: int, height: int, width: int) -> None:
    image = to_mnist_bytes(canvas(np.s_[top : top + height, left : left + width]))
    box_top, box_bottom, box_left, box_right = ink_box(image)
    assert max(box_bottom - box_top, box_right - box_left) + 1 == BOX
    assert centred(image)


def test_the_aspect_ratio_is_kept_a_lopsided_digit_is_centred_by_mass_and_no_ink_pushed_over_the_edge() -> None:
    top, bottom, left, right = ink_box(to_mnist_bytes(canvas(np.s_[10:200, 100:120])))  # 190 tall, 20 wide
    assert (bottom - top + 1, right - left + 1) == (BOX, 2)  # 20 * 20/190, rounded
    image = to_mnist_bytes(canvas(np.s_[0:200, 0:30], np.s_[0:20, 30:100]))  # a heavy bar left, a light one on top
    top, bottom, left, right = ink_box(image)
    assert (bottom - top + 1, right - left + 1) == (20, 10) and centred(image)
    assert (top, left) != (4, 9)  # where centring the box would have put it
    drawing = canvas(np.s_[0:200, 0:3], np.s_[0:3, 0:200], np.s_[197:200, 0:200])  # the mass at the box's left edge
    assert int(to_mnist_bytes(drawing).astype(np.int64).sum()) == int(scale_to_box(drawing[:200, :200]).sum())


def test_any_drawing_becomes_the_network_input_normalised_like_the_lesson() -> None:
    assert (preprocess(canvas()) == -1).all()  # empty: the background value after Normalize((0.5,), (0.5,))
    drawing = rasterize([[(40, 40), (240, 250)], [(200, 30)]])
    inputs = preprocess(drawing)
    assert inputs.shape == (1, 1, 28, 28) and inputs.dtype == torch.float32
    assert inputs.min() >= -1 and inputs.max() == 1
    assert torch.equal(inputs, normalize(torch.from_numpy(to_mnist_bytes(drawing)).unsqueeze(0)))
    image = load_data(source="sample").test.images[0]
    as_floats = image.float() / 255  # what ToTensor() gives, without the channel dimension: read as 0..1
    assert torch.equal(preprocess(as_floats), preprocess(image))
    assert torch.equal(preprocess(as_floats.double().numpy()), preprocess(image.numpy()))
    drawing = torch.zeros(100, 60)
    drawing[20:80, 10:50] = 400.0  # out of range: clipped to 255
    clipped = to_mnist_bytes(drawing)
    assert clipped.max() == 255 and ink_box(clipped)[1] - ink_box(clipped)[0] + 1 == BOX
    with pytest.raises(ValueError, match="2-D"):
        to_mnist_bytes(np.zeros((3, 28, 28)))


def test_scaling_averages_areas_weighted_by_their_overlaps_on_a_common_ruler_and_rounds_halves_up() -> None:
    # 3 pixels to 2: on a ruler of 6 units, old pixels span 2 units each, new ones 3.
    assert area_weights(3, 2).tolist() == [[2, 1, 0], [0, 1, 2]]
    assert area_weights(2, 4).tolist() == [[2, 0], [2, 0], [0, 2], [0, 2]]  # stretching repeats pixels
    assert (area_weights(280, 20).sum(axis=1) == 280).all()
    stripes = np.zeros((40, 40), dtype=np.uint8)
    stripes[::2] = 255  # every other row: each new pixel averages one inked and one empty row
    assert (scale_to_box(stripes) == 128).all() and scale_to_box(stripes).shape == (20, 20)  # 127.5 -> 128
    flat = scale_to_box(np.full((7, 70), 200, dtype=np.uint8))
    assert (flat == 200).all() and flat.shape == (2, 20)  # 7 * 20/70 = 2
    assert scale_to_box(np.full((5, 40), 9, dtype=np.uint8)).shape == (3, 20)  # 2.5 rounds up to 3


def test_rasterize_inks_exactly_the_pixels_within_half_the_pen_of_a_stroke_or_dot() -> None:
    assert not rasterize([]).any()
    strokes = [[(30.3, 40.7), (120.2, 61.9), (60.5, 150.1)], [(150.2, 30.7)]]
    ink = rasterize(strokes, size=200, width=14)
    segments = [pair for stroke in strokes for pair in itertools.pairwise(stroke + stroke[:1] * (len(stroke) == 1))]
    for row, column in itertools.product(range(200), repeat=2):
        distance = min(segment_distance((column + 0.5, row + 0.5), a, b) for a, b in segments)
        if abs(distance - 7) > 1e-9:
            assert (ink[row, column] == 255) == (distance < 7), (row, column, distance)


def segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    length2 = (bx - ax) ** 2 + (by - ay) ** 2
    t = max(0.0, min(1.0, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / length2)) if length2 else 0.0
    return float(np.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay)))


def test_mnist_digits_have_their_centre_of_mass_at_14_and_survive_being_drawn_big_and_off_centre() -> None:
    """The fact behind the target pixel (14, 14), measured on the sample's real digits; then those digits blown up
    8x into a corner of a big canvas: preparing them gives back nearly the original."""
    data = load_data(source="sample")
    centres = np.array([centre_of_mass(image) for image in data.train.images[:2000].numpy()])
    assert np.abs(centres.mean(axis=0) - 14).max() < 0.1
    images = data.test.images[:100].numpy()
    agreement = []
    for original in images:
        drawing = canvas(size=300)
        drawing[:224, 50:274] = np.asarray(Image.fromarray(original).resize((224, 224), Image.Resampling.BILINEAR))
        again = to_mnist_bytes(drawing)
        assert np.hypot(*np.subtract(centre_of_mass(again), centre_of_mass(original))) < 1.5
        agreement.append(np.corrcoef(again.ravel().astype(float), original.ravel().astype(float))[0, 1])
    assert np.median(agreement) > 0.9 and min(agreement) > 0.5
