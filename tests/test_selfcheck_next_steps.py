"""Self-checks of notebook 09: each accepts the official answer, rejects typical wrong ones with a hint."""

import pytest
import torch
from torch import nn

from mnist_tutorial.selfcheck import next_steps as check


def said(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip()


class SmallCNN(nn.Module):
    """09's network, as the notebook writes it."""

    def __init__(self, channels1: int = 8, channels2: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels1, channels2, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(channels2 * 7 * 7, 10)
        self.relu = nn.ReLU()

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))
        return self.pool(self.relu(self.conv2(x)))


@pytest.mark.parametrize("channels", [(8, 16), (16, 32), (4, 4)])
def test_the_expected_count_is_pytorchs(channels):
    model = SmallCNN(*channels)
    assert check.expected_parameters(*channels) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("answer", [9098, 9098.0, torch.tensor(9098), 80 + 1168 + 7850])
def test_parameter_count_accepts_the_official_answer(capsys, answer):
    assert bool(check.cnn_parameter_count(answer)) is True
    assert said(capsys) == "Correct: 9,098 parameters for 1 → 8 → 16 channels"


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (9098 - 34, "weights only"),
        (7850, "fc alone"),
        (80 + 1168 + 16 * 28 * 28 * 10 + 10, "halves the height"),
        (80 + 1168 + 16 * 14 * 14 * 10 + 10, "halves the height"),
        (80 + 160 + 7850, "all 8 channels"),
        (9000, "too few"),
        (None, "replace None"),
        ("9098", "whole number"),
    ],
)
def test_parameter_count_explains_typical_mistakes(capsys, answer, hint):
    assert bool(check.cnn_parameter_count(answer)) is False
    out = said(capsys)
    assert out.startswith("Not yet:") and hint in out
    assert "9,098" not in out and "9098" not in out.split("you gave")[0]


def test_parameter_count_for_other_channels_knows_the_notebooks_count(capsys):
    wider = check.expected_parameters(16, 32)
    assert wider == sum(p.numel() for p in SmallCNN(16, 32).parameters())
    assert bool(check.cnn_parameter_count(9098, channels1=16, channels2=32)) is False
    assert "redo it for 1 → 16 → 32" in said(capsys)
    assert bool(check.cnn_parameter_count(wider, channels1=16, channels2=32)) is True
    assert said(capsys) == f"Correct: {wider:,} parameters for 1 → 16 → 32 channels"


def test_pooled_shape_is_what_the_network_computes(capsys):
    shape = tuple(SmallCNN().pooled(torch.zeros(32, 1, 28, 28)).shape)
    assert bool(check.pooled_shape(shape)) is True
    assert said(capsys) == "Correct: (32, 16, 7, 7): 16 maps of 7×7 per image"
    assert bool(check.pooled_shape(torch.Size([32, 16, 7, 7]))) is True


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ((32, 784), "after flatten"),
        ((32, 16, 14, 14), "pools once"),
        ((32, 16, 28, 28), "no pooling"),
        ((32, 8, 7, 7), "conv1's number of channels"),
        ((16, 32, 7, 7), "batch first"),
        ((32, 16, 7), "four dimensions"),
        ((32, 16, 6, 6), "shape table"),
        (None, "replace None"),
        ("(32, 16, 7, 7)", "tuple of whole numbers"),
    ],
)
def test_pooled_shape_explains_typical_mistakes(capsys, answer, hint):
    assert bool(check.pooled_shape(answer)) is False
    out = said(capsys)
    assert out.startswith("Not yet:") and hint in out and "(32, 16, 7, 7)" not in out.split("you gave")[0]


def test_the_receptive_field_is_what_the_network_computes():
    # Which pixels can change one value after the second pooling? The gradient of that value says so, once the
    # max poolings are averages over the same 2×2 windows (a max passes its gradient to one pixel of four).
    torch.manual_seed(0)
    model = SmallCNN()
    model.pool = nn.AvgPool2d(2)
    with torch.no_grad():  # positive weights and biases: every ReLU passes, no pixel is hidden by a zero
        for parameter in model.parameters():
            parameter.uniform_(0.1, 1.0)
    image = torch.rand(1, 1, 28, 28, requires_grad=True)
    model.pooled(image)[0, 0, 3, 3].backward()
    rows, columns = image.grad[0, 0].abs().gt(0).nonzero().unbind(1)
    sides = (rows.max() - rows.min() + 1).item(), (columns.max() - columns.min() + 1).item()
    assert sides == (check.receptive_side(), check.receptive_side()) == (10, 10)


def test_receptive_field_accepts_ten(capsys):
    assert bool(check.receptive_field(10)) is True
    assert said(capsys) == "Correct: a 10×10 square of pixels"


@pytest.mark.parametrize(
    ("answer", "hint"),
    [(28, "whole image"), (3, "conv1's outputs"), (100, "side of the square"), (4, "walk back"), (20, "start from")],
)
def test_receptive_field_explains_typical_mistakes(capsys, answer, hint):
    assert bool(check.receptive_field(answer)) is False
    out = said(capsys)
    assert out.startswith("Not yet:") and hint in out and "10" not in out


@pytest.mark.parametrize("answer", [None, "ten", [10], object()])
def test_every_check_answers_any_kind_of_answer_calmly(capsys, answer):
    for verdict in (check.cnn_parameter_count(answer), check.pooled_shape(answer), check.receptive_field(answer)):
        assert bool(verdict) is False
    assert all(line.startswith("Not yet:") for line in said(capsys).splitlines())
