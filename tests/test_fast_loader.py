"""The TensorLoader yields exactly what the lesson's DataLoader yields, only without the per-image work."""

from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from mnist_tutorial.data import Data, ImageDataset, Split, TensorLoader, lesson_transform, make_loaders, normalize
from mnist_tutorial.datasets.sources import DataSource, get_spec


def make_split(n: int, seed: int = 0) -> Split:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator)
    return Split(images, torch.randint(0, 10, (n,), generator=generator))


def make_data(n_train: int = 203, n_test: int = 57) -> Data:
    source = DataSource("mnist", "sample", Path("made-up"))
    return Data(make_split(n_train, seed=1), make_split(n_test, seed=2), source, get_spec("mnist").class_names)


def lesson_loader(split: Split, *, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(ImageDataset(split), batch_size=batch_size, shuffle=shuffle, generator=generator)


def fast_loader(split: Split, *, batch_size: int, shuffle: bool, seed: int = 0) -> TensorLoader:
    generator = torch.Generator().manual_seed(seed)
    return TensorLoader(split.images, split.labels, batch_size=batch_size, shuffle=shuffle, generator=generator)


def assert_same_batches(expected, actual) -> None:
    expected, actual = list(expected), list(actual)
    assert len(actual) == len(expected)
    for (x_expected, y_expected), (x_actual, y_actual) in zip(expected, actual, strict=True):
        assert x_actual.dtype == x_expected.dtype and y_actual.dtype == y_expected.dtype
        assert torch.equal(x_actual, x_expected)
        assert torch.equal(y_actual, y_expected)


def test_normalize_is_bitwise_the_lessons_transform_for_every_byte_value() -> None:
    every_byte = torch.arange(256, dtype=torch.uint8).repeat(4)[:784].view(1, 28, 28)
    images = torch.cat([every_byte, make_split(20).images])
    transform = lesson_transform()
    expected = torch.stack([transform(Image.fromarray(image.numpy())) for image in images])
    actual = normalize(images)
    assert actual.shape == (21, 1, 28, 28) and actual.dtype == torch.float32
    assert torch.equal(actual, expected)
    assert actual.min() == -1 and actual.max() == 1


def test_normalize_leaves_its_input_alone() -> None:
    images = make_split(3).images
    before = images.clone()
    normalize(images)
    assert torch.equal(images, before)


def test_in_order_batches_equal_the_dataloaders() -> None:
    split = make_split(150)
    assert_same_batches(
        lesson_loader(split, batch_size=64, shuffle=False), fast_loader(split, batch_size=64, shuffle=False)
    )


def test_shuffled_batches_equal_the_dataloaders_epoch_after_epoch() -> None:
    """Same seed: the same indices in the same order as the DataLoader, so training computes the same numbers."""
    split = make_split(150)
    lesson, fast = lesson_loader(split, batch_size=32, shuffle=True), fast_loader(split, batch_size=32, shuffle=True)
    for _ in range(3):
        assert_same_batches(lesson, fast)


@pytest.mark.parametrize(("n", "batch_size"), [(103, 10), (100, 10), (7, 64), (64, 64), (1, 1)])
def test_length_and_batch_sizes_match_a_dataloader(n: int, batch_size: int) -> None:
    split = make_split(n)
    lesson = lesson_loader(split, batch_size=batch_size, shuffle=True)
    fast = fast_loader(split, batch_size=batch_size, shuffle=True)
    assert len(fast) == len(lesson)
    assert [len(y) for _, y in fast] == [len(y) for _, y in lesson]
    assert [len(y) for _, y in fast][-1] == (n % batch_size or batch_size)


def indices_per_epoch(loader: TensorLoader, epochs: int) -> list[torch.Tensor]:
    # The labels are the indices 0..n-1, so each batch says which images it holds.
    return [torch.cat([labels for _, labels in loader]) for _ in range(epochs)]


def index_loader(n: int, *, seed: int, batch_size: int = 16) -> TensorLoader:
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    generator = torch.Generator().manual_seed(seed)
    return TensorLoader(images, torch.arange(n), batch_size=batch_size, shuffle=True, generator=generator)


def test_each_epoch_is_a_permutation_of_every_index() -> None:
    for order in indices_per_epoch(index_loader(100, seed=0), epochs=3):
        assert torch.equal(order.sort().values, torch.arange(100))


def test_same_seed_same_orders_and_each_epoch_a_new_order() -> None:
    first = indices_per_epoch(index_loader(100, seed=0), epochs=3)
    again = indices_per_epoch(index_loader(100, seed=0), epochs=3)
    other = indices_per_epoch(index_loader(100, seed=1), epochs=3)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    assert not torch.equal(first[0], other[0])
    assert not torch.equal(first[0], torch.arange(100))


def test_generator_state_resumes_the_same_shuffles() -> None:
    """The training generator's state is saved in checkpoints: restoring it must give the next epochs."""
    loader = index_loader(100, seed=0)
    indices_per_epoch(loader, epochs=1)
    state = loader.generator.get_state()
    expected = indices_per_epoch(loader, epochs=2)
    resumed = index_loader(100, seed=5)
    resumed.generator.set_state(state)
    assert all(torch.equal(a, b) for a, b in zip(indices_per_epoch(resumed, epochs=2), expected, strict=True))


def test_unshuffled_loader_keeps_the_order_and_does_not_use_the_generator() -> None:
    loader = fast_loader(make_split(50), batch_size=16, shuffle=False)
    state = loader.generator.get_state()
    assert torch.equal(torch.cat([y for _, y in loader]), make_split(50).labels)
    assert torch.equal(loader.generator.get_state(), state)


def test_make_loaders_fast_and_lesson_yield_the_same_batches() -> None:
    data = make_data()
    fast_train, fast_test = make_loaders(data, batch_size=64, fast=True, seed=3)
    lesson_train, lesson_test = make_loaders(data, batch_size=64, fast=False, seed=3)
    for _ in range(2):
        assert_same_batches(lesson_train, fast_train)
    assert torch.equal(torch.cat([x for x, _ in fast_test]), torch.cat([x for x, _ in lesson_test]))


def test_data_lives_on_the_cpu_by_default() -> None:
    loader = fast_loader(make_split(10), batch_size=4, shuffle=True)
    x, y = next(iter(loader))
    assert x.device.type == "cpu" and y.device.type == "cpu"
    assert x.is_contiguous() and x.shape == (4, 1, 28, 28) and y.dtype == torch.long


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_data_lives_on_the_gpu_and_matches_the_cpu_bitwise() -> None:
    split = make_split(100)
    gpu = TensorLoader(
        split.images,
        split.labels,
        batch_size=32,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        device="cuda",
    )
    assert gpu.inputs.device.type == "cuda" and gpu.labels.device.type == "cuda"
    cpu = fast_loader(split, batch_size=32, shuffle=True)
    for (x_gpu, y_gpu), (x_cpu, y_cpu) in zip(gpu, cpu, strict=True):
        assert x_gpu.device.type == "cuda" and y_gpu.device.type == "cuda"
        assert torch.equal(x_gpu.cpu(), x_cpu) and torch.equal(y_gpu.cpu(), y_cpu)


def test_rejects_a_batch_size_below_one_and_mismatched_lengths() -> None:
    split = make_split(10)
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(split.images, split.labels, batch_size=0, shuffle=False)
    with pytest.raises(ValueError, match="labels"):
        TensorLoader(split.images, split.labels[:5], batch_size=2, shuffle=False)
