"""drawing: a drawn digit prepared like MNIST (box to 20 px, centred by mass in 28x28), then normalised.

The web page's preprocess.js mirrors this module; tests/test_export_page.py checks the two agree.
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


def canvas(size: int = 280) -> np.ndarray:
    return np.zeros((size, size), dtype=np.uint8)


def test_a_square_in_a_corner_ends_up_centred_at_20_pixels() -> None:
    drawing = canvas()
    drawing[:50, :50] = 255
    image = to_mnist_bytes(drawing)
    assert image.shape == (SIZE, SIZE) and image.dtype == np.uint8
    assert ink_box(image) == (5, 24, 5, 24)  # 20x20, its centre (14.5) half a pixel from (14, 14)
    assert (image[5:25, 5:25] == 255).all()


def test_a_single_dot_in_the_far_corner_is_centred() -> None:
    drawing = canvas()
    drawing[279, 279] = 255
    row, column = centre_of_mass(to_mnist_bytes(drawing))
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5


def test_the_aspect_ratio_is_kept() -> None:
    drawing = canvas()
    drawing[10:200, 100:120] = 255  # 190 tall, 20 wide
    top, bottom, left, right = ink_box(to_mnist_bytes(drawing))
    assert bottom - top + 1 == BOX
    assert right - left + 1 == 2  # 20 * 20/190, rounded


def test_a_lopsided_digit_is_centred_by_mass_not_by_box() -> None:
    drawing = canvas()
    drawing[0:200, 0:30] = 255  # a heavy bar on the left ...
    drawing[0:20, 30:100] = 255  # ... and a light one along the top: a box 200 tall, 100 wide
    image = to_mnist_bytes(drawing)
    top, bottom, left, right = ink_box(image)
    assert (bottom - top + 1, right - left + 1) == (20, 10)
    row, column = centre_of_mass(image)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5
    assert (top, left) != (4, 9)  # where centring the box would have put it


def test_ink_is_never_pushed_over_the_edge() -> None:
    drawing = canvas()
    drawing[0:200, 0:3] = 255  # nearly all the mass at the left edge of the box
    drawing[0:3, 0:200] = 255
    drawing[197:200, 0:200] = 255
    image = to_mnist_bytes(drawing)
    assert int(image.astype(np.int64).sum()) == int(scale_to_box(drawing[:200, :200]).astype(np.int64).sum())


def test_an_empty_canvas_gives_a_blank_image() -> None:
    assert not to_mnist_bytes(canvas()).any()
    inputs = preprocess(canvas())
    assert inputs.shape == (1, 1, 28, 28)
    assert (inputs == -1).all()  # the background value after Normalize((0.5,), (0.5,))


def test_output_is_the_network_input_normalised_like_the_lesson() -> None:
    drawing = rasterize([[(40, 40), (240, 250)], [(200, 30)]])
    inputs = preprocess(drawing)
    assert inputs.shape == (1, 1, 28, 28) and inputs.dtype == torch.float32
    assert inputs.min() >= -1 and inputs.max() <= 1 and inputs.max() == 1
    assert torch.equal(inputs, normalize(torch.from_numpy(to_mnist_bytes(drawing)).unsqueeze(0)))


def test_area_weights_are_the_overlaps_on_a_common_ruler() -> None:
    # 3 pixels to 2: on a ruler of 6 units, old pixels span 2 units each, new ones 3.
    assert area_weights(3, 2).tolist() == [[2, 1, 0], [0, 1, 2]]
    assert area_weights(2, 4).tolist() == [[2, 0], [2, 0], [0, 2], [0, 2]]  # stretching repeats pixels
    assert (area_weights(280, 20).sum(axis=1) == 280).all()


def test_scaling_averages_areas_and_rounds_halves_up() -> None:
    stripes = np.zeros((40, 40), dtype=np.uint8)
    stripes[::2] = 255  # every other row: each new pixel averages one inked and one empty row
    assert (scale_to_box(stripes) == 128).all() and scale_to_box(stripes).shape == (20, 20)  # 127.5 -> 128
    assert (scale_to_box(np.full((7, 70), 200, dtype=np.uint8)) == 200).all()
    assert scale_to_box(np.full((7, 70), 200, dtype=np.uint8)).shape == (2, 20)  # 7 * 20/70 = 2
    assert scale_to_box(np.full((5, 40), 9, dtype=np.uint8)).shape == (3, 20)  # 2.5 rounds up to 3


def test_float_images_within_0_to_1_are_read_as_0_to_1() -> None:
    image = load_data(source="sample").test.images[0]
    as_floats = image.float() / 255  # what ToTensor() gives, without the channel dimension
    assert torch.equal(preprocess(as_floats), preprocess(image))
    assert torch.equal(preprocess(as_floats.double().numpy()), preprocess(image.numpy()))


def test_rasterize_inks_exactly_the_pixels_within_half_the_pen_of_the_stroke() -> None:
    stroke = [(30.3, 40.7), (120.2, 61.9), (60.5, 150.1)]
    ink = rasterize([stroke], size=200, width=14)
    for row in range(200):
        for column in range(200):
            distance = min(segment_distance((column + 0.5, row + 0.5), a, b) for a, b in itertools.pairwise(stroke))
            if abs(distance - 7) > 1e-9:
                assert (ink[row, column] == 255) == (distance < 7), (row, column, distance)


def segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    t = max(0.0, min(1.0, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)))
    return float(np.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay)))


def test_tensors_and_floats_are_accepted_and_clipped() -> None:
    drawing = torch.zeros(100, 60)
    drawing[20:80, 10:50] = 400.0  # out of range: clipped to 255
    image = to_mnist_bytes(drawing)
    assert image.max() == 255 and ink_box(image)[1] - ink_box(image)[0] + 1 == BOX


def test_a_drawing_must_be_two_dimensional() -> None:
    with pytest.raises(ValueError, match="2-D"):
        to_mnist_bytes(np.zeros((3, 28, 28)))


def test_rasterize_draws_strokes_and_dots() -> None:
    assert not rasterize([]).any()
    dot = rasterize([[(100, 100)]], width=20)
    top, bottom, left, right = ink_box(dot)
    assert 18 <= bottom - top + 1 <= 22 and 18 <= right - left + 1 <= 22
    line = rasterize([[(20, 140), (260, 140)]], width=10)
    assert line[140, 20:261].min() == 255 and not line[100].any()


@settings(max_examples=60, deadline=None)
@given(
    top=st.integers(0, 250),
    left=st.integers(0, 250),
    height=st.integers(5, 120),
    width=st.integers(5, 120),
)
def test_any_rectangle_lands_centred_within_20_pixels(top: int, left: int, height: int, width: int) -> None:
    drawing = canvas()
    drawing[top : top + height, left : left + width] = 255
    image = to_mnist_bytes(drawing)
    box_top, box_bottom, box_left, box_right = ink_box(image)
    assert max(box_bottom - box_top, box_right - box_left) + 1 == BOX
    row, column = centre_of_mass(image)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5


def test_mnist_digits_survive_being_drawn_big_and_off_centre() -> None:
    """Blow real digits up 8x into a corner of a big canvas: preparing them gives back nearly the original."""
    images = load_data(source="sample").test.images[:100].numpy()
    agreement = []
    for original in images:
        drawing = canvas(300)
        drawing[:224, 50:274] = np.asarray(Image.fromarray(original).resize((224, 224), Image.Resampling.BILINEAR))
        again = to_mnist_bytes(drawing)
        assert np.hypot(*np.subtract(centre_of_mass(again), centre_of_mass(original))) < 1.5
        agreement.append(np.corrcoef(again.ravel().astype(float), original.ravel().astype(float))[0, 1])
    assert np.median(agreement) > 0.9 and min(agreement) > 0.5


def test_mnist_digits_have_their_centre_of_mass_at_14() -> None:
    """The fact behind the target pixel (14, 14): measured on the embedded sample's real digits."""
    images = load_data(source="sample").train.images[:2000].numpy()
    centres = np.array([centre_of_mass(image) for image in images])
    assert np.abs(centres.mean(axis=0) - 14).max() < 0.1
