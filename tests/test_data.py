"""The data: the embedded sample, the checks on a split, and the two loaders (the lesson's and TensorLoader)."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import write_dataset
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets

from mnist_tutorial import load_data, make_loaders, make_test_loader, normalize
from mnist_tutorial.data import Data, ImageDataset, Split, TensorLoader, lesson_transform, read_split
from mnist_tutorial.datasets.idx import write_idx
from mnist_tutorial.datasets.sources import SAMPLE_DIR, DataSource
from mnist_tutorial.defaults import SAMPLE_ROOT
from mnist_tutorial.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def sample():
    return load_data(source="sample")


def make_split(n: int, seed: int = 0) -> Split:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator)
    return Split(images, torch.randint(0, 10, (n,), generator=generator))


def loader(split: Split, *, fast: bool, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader | TensorLoader:
    generator = torch.Generator().manual_seed(seed)
    if fast:
        return TensorLoader(split.images, split.labels, batch_size=batch_size, shuffle=shuffle, generator=generator)
    return DataLoader(ImageDataset(split), batch_size=batch_size, shuffle=shuffle, generator=generator)


def assert_same_batches(expected, actual) -> None:
    """Bitwise: the same operations on the same shapes in one process."""
    expected, actual = list(expected), list(actual)
    assert len(actual) == len(expected)
    for (x_expected, y_expected), (x_actual, y_actual) in zip(expected, actual, strict=True):
        assert x_actual.dtype == x_expected.dtype and y_actual.dtype == y_expected.dtype == torch.long
        assert torch.equal(x_actual, x_expected) and torch.equal(y_actual, y_expected)


# --- the embedded sample ------------------------------------------------------------------------------------------


def test_sample_is_8000_train_and_2000_test_real_stratified_digits(sample, capsys):
    load_data(source="sample")
    out = capsys.readouterr().out
    assert "embedded sample of real MNIST digits" in out and "8,000 training and 2,000 test images" in out
    assert (len(sample.train), len(sample.test), sample.source.kind) == (8000, 2000, "sample")
    assert sample.train.images.shape == (8000, 28, 28) and sample.train.images.dtype == torch.uint8
    train_counts = torch.bincount(sample.train.labels, minlength=10)
    test_counts = torch.bincount(sample.test.labels, minlength=10)
    assert train_counts.min() > 0 and test_counts.min() > 0
    # 80/20 within each class, to the nearest image
    assert torch.all((test_counts.float() - 0.2 * (train_counts + test_counts).float()).abs() <= 1)
    images = sample.train.images.float()  # handwriting, not noise: mostly black, ink in the middle, dark borders
    assert (images == 0).float().mean() > 0.7
    assert images[:, 12:16, 12:16].mean() > 4 * images[:, :, :2].mean()


def test_torchvision_reads_the_sample_and_serves_what_image_dataset_serves(sample):
    train = datasets.MNIST(root=str(SAMPLE_ROOT), train=True, download=False)
    test = datasets.MNIST(root=str(SAMPLE_ROOT), train=False, transform=lesson_transform())
    assert torch.equal(train.data, sample.train.images) and torch.equal(train.targets, sample.train.labels)
    assert torch.equal(test.data, sample.test.images) and torch.equal(test.targets, sample.test.labels)
    ours = ImageDataset(sample.test)
    for index in (0, 1, 1999):
        assert torch.equal(ours[index][0], test[index][0]) and ours[index][1] == test[index][1]


# --- a split's checks ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "array", "message"),
    [
        ("t10k-images-idx3-ubyte.gz", np.zeros((10, 32, 32)), "holds data of shape (10, 32, 32), not (N, 28, 28)"),
        ("t10k-labels-idx1-ubyte.gz", np.full(10, 200), "holds label 200, outside 0-9, so it is not a label file"),
    ],
    ids=["32x32", "label-200"],
)
def test_a_split_that_is_not_mnists_shape_is_refused(tmp_path, name, array, message):
    # More of them, and their whole messages, through the command line: test_cli.py::test_bad_data_files.
    raw = write_dataset(tmp_path, n_train=30, n_test=10)
    write_idx(raw / name, array.astype(np.uint8))
    with pytest.raises(DataError, match=re.escape(f"{raw / name} {message}")):
        read_split(DataSource("mnist", "full", raw), "test")


def test_a_damaged_sample_says_to_restore_it_not_to_download_it(tmp_path):
    copy = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, copy)
    (copy / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01\0\0")
    with pytest.raises(
        DataError, match=r"truncated inside its header: reinstall the course \(pip install --force-reinstall"
    ):
        read_split(DataSource("mnist", "sample", copy), "test")


# --- the lesson's transform and TensorLoader ----------------------------------------------------------------------


def test_normalize_is_bitwise_the_lessons_transform_for_every_byte_and_leaves_its_input_alone():
    every_byte = torch.arange(256, dtype=torch.uint8).repeat(4)[:784].view(1, 28, 28)
    images = torch.cat([every_byte, make_split(20).images])
    before = images.clone()
    expected = torch.stack([lesson_transform()(Image.fromarray(image.numpy())) for image in images])
    actual = normalize(images)
    assert actual.shape == (21, 1, 28, 28) and actual.dtype == torch.float32
    assert torch.equal(actual, expected) and torch.equal(images, before)
    assert actual[0].flatten()[[0, 255]].tolist() == [-1.0, 1.0]  # bytes 0 and 255


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize(("n", "batch_size"), [(150, 32), (103, 10), (100, 10), (7, 64), (64, 64), (1, 1)])
def test_tensor_loader_yields_the_dataloaders_batches_epoch_after_epoch(n, batch_size, shuffle):
    """Same seed: the same images in the same order as the DataLoader, so training computes the same numbers."""
    split = make_split(n)
    lesson = loader(split, fast=False, batch_size=batch_size, shuffle=shuffle)
    fast = loader(split, fast=True, batch_size=batch_size, shuffle=shuffle)
    state = fast.generator.get_state()
    for _ in range(3):
        assert_same_batches(lesson, fast)
    assert len(fast) == len(lesson) and torch.equal(fast.generator.get_state(), state) != shuffle  # in order: unused
    x, _ = next(iter(fast))
    assert x.device.type == "cpu" and x.is_contiguous() and x.shape == (min(n, batch_size), 1, 28, 28)


def indices_per_epoch(loader: TensorLoader, epochs: int) -> list[torch.Tensor]:
    # The labels are the indices 0..n-1, so each batch says which images it holds.
    return [torch.cat([labels for _, labels in loader]) for _ in range(epochs)]


def index_loader(n: int, *, seed: int) -> TensorLoader:
    images, generator = torch.zeros(n, 28, 28, dtype=torch.uint8), torch.Generator().manual_seed(seed)
    return TensorLoader(images, torch.arange(n), batch_size=16, shuffle=True, generator=generator)


def test_each_epoch_is_a_new_permutation_a_seed_repeats_them_and_a_saved_state_resumes_them():
    first = indices_per_epoch(index_loader(100, seed=0), epochs=3)
    again = indices_per_epoch(index_loader(100, seed=0), epochs=3)
    other = indices_per_epoch(index_loader(100, seed=1), epochs=3)
    assert all(torch.equal(order.sort().values, torch.arange(100)) for order in first)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    assert not torch.equal(first[0], other[0]) and not torch.equal(first[0], torch.arange(100))
    # The training generator's state is saved in checkpoints: restoring it must give the next epochs.
    loader = index_loader(100, seed=0)
    indices_per_epoch(loader, epochs=1)
    resumed = index_loader(100, seed=5)
    resumed.generator.set_state(loader.generator.get_state())
    assert all(torch.equal(a, b) for a, b in zip(indices_per_epoch(resumed, epochs=2), first[1:], strict=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_data_lives_on_the_gpu_and_matches_the_cpu_bitwise():
    split = make_split(100)
    generator = torch.Generator().manual_seed(0)
    gpu = TensorLoader(split.images, split.labels, batch_size=32, shuffle=True, generator=generator, device="cuda")
    assert gpu.inputs.device.type == "cuda" and gpu.labels.device.type == "cuda"
    for (x_gpu, y_gpu), (x_cpu, y_cpu) in zip(gpu, loader(split, fast=True, batch_size=32, shuffle=True), strict=True):
        assert x_gpu.device.type == "cuda" and y_gpu.device.type == "cuda"
        assert torch.equal(x_gpu.cpu(), x_cpu) and torch.equal(y_gpu.cpu(), y_cpu)


# --- make_loaders and make_test_loader ----------------------------------------------------------------------------


def test_make_loaders_fast_and_lesson_yield_the_same_batches_and_the_test_set_in_order():
    data = Data(make_split(203, seed=1), make_split(57, seed=2), DataSource("mnist", "sample", Path("made-up")), ())
    fast_train, fast_test = make_loaders(data, batch_size=64, fast=True, seed=3)
    lesson_train, lesson_test = make_loaders(data, batch_size=64, fast=False, seed=3)
    for _ in range(2):
        assert_same_batches(lesson_train, fast_train)
    assert not torch.equal(torch.cat([y for _, y in fast_train]), data.train.labels)  # shuffled
    for fast in (True, False):
        (test_batch,) = make_test_loader(data, fast=fast)  # the whole test set, in one batch, in order
        assert_same_batches([test_batch], fast_test)
        assert torch.equal(test_batch[1], data.test.labels)
    assert_same_batches(lesson_test, fast_test)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_whole_number_and_the_labels_match_the_images(batch_size):
    split = make_split(4)
    data = Data(split, split, DataSource("mnist", "sample", Path("made-up")), ())
    refused = re.escape(f"`batch_size={batch_size!r}` is not a positive whole number")
    with pytest.raises(ConfigError, match=refused):
        make_loaders(data, batch_size=batch_size, fast=False)
    with pytest.raises(ConfigError, match=refused):
        TensorLoader(split.images, split.labels, batch_size=batch_size, shuffle=False)
    with pytest.raises(ValueError, match="4 images but 2 labels"):
        TensorLoader(split.images, split.labels[:2], batch_size=2, shuffle=False)
