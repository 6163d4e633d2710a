"""The data: the embedded sample, what torchvision makes of it, the checks on a split, and the loaders."""

import shutil

import numpy as np
import pytest
import torch
from helpers import write_dataset
from torchvision import datasets

from mnist_tutorial import load_data, make_loaders, make_test_loader, normalize
from mnist_tutorial.data import ImageDataset, lesson_transform, read_split
from mnist_tutorial.datasets.idx import write_idx
from mnist_tutorial.datasets.sources import SAMPLE_DIR, DataSource
from mnist_tutorial.defaults import SAMPLE_ROOT
from mnist_tutorial.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def sample():
    return load_data(source="sample")


def test_sample_is_8000_train_and_2000_test_images(sample):
    assert (len(sample.train), len(sample.test)) == (8000, 2000)
    assert sample.train.images.shape == (8000, 28, 28) and sample.train.images.dtype == torch.uint8
    assert sample.source.kind == "sample"


def test_sample_says_which_data_and_how_many_images(capsys):
    load_data(source="sample")
    out = capsys.readouterr().out
    assert "embedded sample of real MNIST digits" in out and "8,000 training and 2,000 test images" in out


def test_sample_labels_cover_0_to_9_and_the_split_is_stratified(sample):
    train_counts = torch.bincount(sample.train.labels, minlength=10)
    test_counts = torch.bincount(sample.test.labels, minlength=10)
    assert set(sample.train.labels.unique().tolist()) == set(range(10)) == set(sample.test.labels.unique().tolist())
    total = train_counts + test_counts
    # 80/20 within each class, to the nearest image: the test share of every class is 20% of that class
    assert torch.all((test_counts.float() - 0.2 * total.float()).abs() <= 1)


def test_torchvision_reads_the_sample_and_sees_what_we_see(sample):
    train = datasets.MNIST(root=str(SAMPLE_ROOT), train=True, download=False)
    test = datasets.MNIST(root=str(SAMPLE_ROOT), train=False, download=False)
    assert torch.equal(train.data, sample.train.images) and torch.equal(train.targets, sample.train.labels)
    assert torch.equal(test.data, sample.test.images) and torch.equal(test.targets, sample.test.labels)


def test_sample_digits_look_like_handwriting_not_noise(sample):
    images = sample.train.images.float()
    # MNIST digits: mostly black background, centred ink, a dark 4-pixel border
    assert (images == 0).float().mean() > 0.7
    assert images[:, 12:16, 12:16].mean() > 4 * images[:, :, :2].mean()


def test_fast_and_lesson_loaders_give_the_same_first_batch(sample):
    fast_train, fast_test = make_loaders(sample, batch_size=64, fast=True, seed=3)
    _, lesson_test = make_loaders(sample, batch_size=64, fast=False, seed=3)
    inputs, labels = next(iter(fast_test))
    lesson_inputs, lesson_labels = next(iter(lesson_test))
    assert inputs.shape[1:] == lesson_inputs.shape[1:] == (1, 28, 28)
    assert torch.equal(inputs, lesson_inputs) and torch.equal(labels, lesson_labels)
    batch, _ = next(iter(fast_train))
    assert batch.shape == (64, 1, 28, 28) and batch.min() >= -1 and batch.max() <= 1


def test_lesson_transform_maps_bytes_to_minus_one_to_one():
    from PIL import Image

    image = Image.fromarray(np.array([[0, 255]], dtype=np.uint8))
    assert lesson_transform()(image).tolist() == [[[-1.0, 1.0]]]
    assert normalize(torch.tensor([[[0, 255]]], dtype=torch.uint8)).tolist() == [[[[-1.0, 1.0]]]]


def test_image_dataset_serves_what_torchvision_mnist_serves(sample):
    ours = ImageDataset(sample.test)
    theirs = datasets.MNIST(root=str(SAMPLE_ROOT), train=False, transform=lesson_transform())
    for index in (0, 1, 1999):
        assert torch.equal(ours[index][0], theirs[index][0]) and ours[index][1] == theirs[index][1]


def test_training_batches_are_shuffled_and_test_batches_are_not(sample):
    train, test = make_loaders(sample, batch_size=8000)
    _, train_labels = next(iter(train))
    _, test_labels = next(iter(test))
    assert not torch.equal(train_labels, sample.train.labels)
    assert torch.equal(test_labels.cpu(), sample.test.labels[: len(test_labels)])


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_whole_number(sample, batch_size):
    with pytest.raises(ConfigError, match=f"`batch_size={batch_size!r}` is not a positive whole number"):
        make_loaders(sample, batch_size=batch_size)


def full_source(raw_dir):
    return DataSource("mnist", "full", raw_dir)


def test_image_and_label_counts_that_disagree(tmp_path):
    raw = write_dataset(tmp_path, n_train=30, n_test=10)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.zeros(9, dtype=np.uint8))
    with pytest.raises(DataError) as caught:
        read_split(full_source(raw), "test")
    message = str(caught.value)
    assert f"{raw}/t10k-labels-idx1-ubyte.gz holds 9 labels but {raw}/t10k-images-idx3-ubyte.gz holds 10" in message
    assert message.endswith('delete both so they are downloaded again, or use `source="sample"`')


def test_images_that_are_not_28_by_28(tmp_path):
    raw = write_dataset(tmp_path, n_train=30, n_test=10)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", np.zeros((10, 32, 32), dtype=np.uint8))
    with pytest.raises(DataError, match=r"holds data of shape \(10, 32, 32\), not \(N, 28, 28\)"):
        read_split(full_source(raw), "test")


def test_labels_outside_0_to_9(tmp_path):
    raw = write_dataset(tmp_path, n_train=30, n_test=10)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.full(10, 200, dtype=np.uint8))
    with pytest.raises(DataError, match="holds label 200, outside 0-9, so it is not a label file"):
        read_split(full_source(raw), "test")


def test_a_damaged_sample_says_to_restore_it_not_to_download_it(tmp_path):
    copy = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, copy)
    (copy / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01\0\0")
    with pytest.raises(DataError, match=r"truncated inside its header: reinstall the course with pip"):
        read_split(DataSource("mnist", "sample", copy), "test")


@pytest.mark.parametrize("fast", [True, False])
def test_the_test_loader_alone_is_the_one_make_loaders_builds(sample, fast):
    _, test_loader = make_loaders(sample, fast=fast)
    inputs, labels = next(iter(test_loader))
    alone_inputs, alone_labels = next(iter(make_test_loader(sample, fast=fast)))
    assert len(labels) == len(sample.test)  # the whole test set in one batch
    assert torch.equal(inputs, alone_inputs) and torch.equal(labels, alone_labels)
