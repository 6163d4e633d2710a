"""Self-checks of notebook 02: each accepts the official answer, rejects typical wrong ones with a hint."""

import pytest
import torch
from helpers import tiny_data
from torch.utils.data import DataLoader, TensorDataset
from torchvision import transforms

from mnist_tutorial.selfcheck import data as check


def said(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip()


@pytest.mark.parametrize("answer", [(0.0, 1.0), [0, 1], (torch.tensor(0.0), torch.tensor(1.0))])
def test_min_max_without_normalize_accepts_0_and_1(capsys, answer):
    assert bool(check.min_max_without_normalize(answer)) is True
    assert said(capsys).startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "hint"), [((-1.0, 1.0), "Normalize"), ((0, 255), "bytes"), ((0.0, 0.5), "print"), (1.0, "two numbers")]
)
def test_min_max_without_normalize_explains_typical_mistakes(capsys, answer, hint):
    assert bool(check.min_max_without_normalize(answer)) is False
    out = said(capsys)
    assert out.startswith("Not yet:") and hint in out


def images_with_mean_a_quarter() -> torch.Tensor:
    """Two 28x28 images: one all 0, one with half its pixels 255: mean 0.25 once divided by 255."""
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[1, :14] = 255
    return images


class TorchvisionLike:
    """What the check reads from torchvision's MNIST: the bytes in `.data`."""

    data = images_with_mean_a_quarter()
    train = True  # as torchvision's MNIST has: a flag, not the split


@pytest.mark.parametrize("train_set", [TorchvisionLike(), images_with_mean_a_quarter()])
def test_mean_pixel_accepts_the_mean_of_totensors_values(capsys, train_set):
    assert bool(check.mean_pixel(0.25, train_set)) is True
    assert bool(check.mean_pixel(torch.tensor(0.2501), train_set)) is True  # float32 sums round a little
    assert said(capsys).count("Correct: 0.2500") == 2


def test_mean_pixel_reads_the_course_data_too(capsys):
    data = tiny_data()
    mean = data.train.images.double().mean().item() / 255
    assert bool(check.mean_pixel(mean, data)) is True


@pytest.mark.parametrize(("answer", "hint"), [(0.25 * 255, "bytes"), (-0.5, "after Normalize"), (0.3, "average")])
def test_mean_pixel_explains_typical_mistakes(capsys, answer, hint):
    assert bool(check.mean_pixel(answer, TorchvisionLike())) is False
    out = said(capsys)
    assert out.startswith("Not yet:") and hint in out and "0.25" not in out


def test_mean_pixel_answers_a_string_with_a_hint(capsys):
    assert bool(check.mean_pixel("0.13", TorchvisionLike())) is False
    assert said(capsys).startswith("Not yet: answer with one number")


def test_batches_per_epoch_counts_the_last_partial_batch(capsys):
    assert bool(check.batches_per_epoch(125, batch_size=64, images=8000)) is True  # 8000 / 64 = 125 exactly
    assert bool(check.batches_per_epoch(80, batch_size=100, images=8000)) is True
    assert bool(check.batches_per_epoch(938, batch_size=64, images=60_000)) is True  # 937 full + one of 32
    assert said(capsys).count("Correct:") == 3


@pytest.mark.parametrize(("answer", "hint"), [(937, "last batch"), (3_840_000, "don't multiply"), (900, "cover")])
def test_batches_per_epoch_explains_typical_mistakes(capsys, answer, hint):
    assert bool(check.batches_per_epoch(answer, batch_size=64, images=60_000)) is False
    assert hint in said(capsys)


@pytest.mark.parametrize("answer", ["938", None, 937.5])
def test_batches_per_epoch_answers_anything_with_a_hint(capsys, answer):
    assert bool(check.batches_per_epoch(answer, batch_size=64, images=60_000)) is False
    assert said(capsys).startswith("Not yet:")


@pytest.mark.parametrize(
    ("transform", "hint"),
    [
        (transforms.ToTensor(), "add transforms.Normalize((0.5,), (0.5,))"),
        (transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]), "not -1 and +1"),
        (transforms.PILToTensor(), "not -1 and +1"),  # bytes: 0 and 255
        (lambda image: image, "not a tensor"),
    ],
)
def test_transform_names_what_differs_from_the_lessons(capsys, transform, hint):
    assert bool(check.transform(transform)) is False
    assert hint in said(capsys)


def test_transform_accepts_the_lessons(capsys):
    lesson = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    assert bool(check.transform(lesson)) is True
    assert said(capsys).startswith("Correct: bytes 0..255 become floats -1..+1")


@pytest.mark.parametrize(
    ("shuffles", "batch_sizes", "hint"),
    [
        ((True, False), (64, 64), ""),
        ((False, False), (64, 64), "pass shuffle=True"),
        ((True, True), (64, 64), "pass shuffle=False"),
        ((True, False), (32, 64), "serves batches of 32"),
    ],
)
def test_loaders_check_batch_size_and_order(capsys, shuffles, batch_sizes, hint):
    dataset = TensorDataset(torch.zeros(10, 1, 28, 28), torch.zeros(10, dtype=torch.long))
    train, test = (DataLoader(dataset, batch_size=b, shuffle=s) for s, b in zip(shuffles, batch_sizes, strict=True))
    assert bool(check.loaders(train, test, batch_size=64)) is (not hint)
    assert hint in said(capsys)
