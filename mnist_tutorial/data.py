"""The data the lesson trains on: decoded splits, the lesson's transform, and two loaders of the same batches.

The lesson's DataLoader converts and normalises every image again each epoch, which on a small CPU costs more than
the network; TensorLoader does it once (`normalize`) and gathers each batch from a tensor already on the device.
"""

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from .datasets.idx import REDOWNLOAD, read_idx
from .datasets.sources import RESTORE_SAMPLE, DataSource, find_file, resolve_source
from .datasets.specs import MAX_IMAGES, SPLIT_FILES, get_spec
from .defaults import BATCH_SIZE, EVAL_BATCH_SIZE, NORMALIZE_MEAN, NORMALIZE_STD, SEED
from .errors import DataError
from .settings import check_count

if TYPE_CHECKING:
    from torchvision import transforms

Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Split:
    """One split as decoded bytes. images: (N, 28, 28) uint8; labels: (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Data:
    """Both splits, where they came from, and the names of the classes."""

    train: Split
    test: Split
    source: DataSource
    class_names: tuple[str, ...]


def read_split(source: DataSource, split: str) -> Split:
    """Decode one split's two IDX files and check that they agree."""
    images_path, labels_path = (find_file(source.folder, name) for name in SPLIT_FILES[split])
    if images_path is None or labels_path is None:
        raise DataError(f"{source.folder} lacks the {split} files {SPLIT_FILES[split]}: check `data_dir`")
    fix = RESTORE_SAMPLE if source.kind == "sample" else REDOWNLOAD
    images = read_idx(images_path, max_items=MAX_IMAGES[split], item_shape=(28, 28), fix=fix)
    labels = read_idx(labels_path, max_items=MAX_IMAGES[split], item_shape=(), fix=fix)
    if len(images) == 0:
        raise DataError(f"{images_path} holds no images: {fix}")
    if len(labels) != len(images):
        both = 'delete both so they are downloaded again, or use `source="sample"`' if fix == REDOWNLOAD else fix
        raise DataError(
            f"{labels_path} holds {len(labels)} labels but {images_path} holds {len(images)} images: {both}"
        )
    if int(labels.max()) > 9:
        raise DataError(f"{labels_path} holds label {int(labels.max())}, outside 0-9, so it is not a label file: {fix}")
    return Split(images, labels.long())


def load_data(
    *,
    dataset: str = "mnist",
    source: str | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Data:
    """Find, decode and check both splits, and say which data is in use."""
    found = resolve_source(dataset=dataset, source=source, data_dir=data_dir, download=download)
    data = Data(read_split(found, "train"), read_split(found, "test"), found, get_spec(dataset).class_names)
    print(f"Data: {found.description}: {len(data.train):,} training and {len(data.test):,} test images")
    return data


def lesson_transform() -> "transforms.Compose":
    """The lesson's preprocessing: bytes 0..255 -> floats 0..1 -> -1..1, per image, shape (1, 28, 28)."""
    from torchvision import transforms  # here, not at the top: importing torchvision takes seconds

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((NORMALIZE_MEAN,), (NORMALIZE_STD,))])


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), bitwise equal to ToTensor() + Normalize per image."""
    # ToTensor's and Normalize's operations in their order, on the CPU as torchvision runs them (CUDA divides by
    # multiplying with the reciprocal, which rounds differently); in place after .to()'s one copy, to save memory.
    floats = images.unsqueeze(1).to(device="cpu", dtype=torch.float32, copy=True)
    return floats.div_(255).sub_(NORMALIZE_MEAN).div_(NORMALIZE_STD)


class ImageDataset(Dataset):
    """Images as torchvision's MNIST class serves them: one PIL image through the transform per item."""

    def __init__(self, split: Split) -> None:
        self.split = split
        self.transform = lesson_transform()

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.split.images[index].numpy())
        return self.transform(image), int(self.split.labels[index])


class TensorLoader:
    """(inputs (b, 1, 28, 28), labels (b,)) batches from tensors on `device`: a DataLoader's batches, in its order.

    With `shuffle=True`, each pass draws from `generator` exactly as a DataLoader with the same generator does.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        check_count("batch_size", batch_size)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.inputs = normalize(images).to(device)
        self.labels = labels.to(device=device, dtype=torch.long)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        """Batches per pass, the last one possibly partial."""
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self) -> Batches:
        if not self.shuffle:  # slices are views: nothing is copied
            return zip(self.inputs.split(self.batch_size), self.labels.split(self.batch_size), strict=True)
        # A DataLoader draws one number (a seed for worker processes), then the permutation, when a pass starts.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        order = torch.randperm(len(self.labels), generator=self.generator).to(self.labels.device)
        return self._shuffled(order)

    def _shuffled(self, order: torch.Tensor) -> Batches:
        yield from self._gather(order)
        # RandomSampler then draws a second, unused permutation (its `num_samples % n` leftover): so do we.
        torch.randperm(len(self.labels), generator=self.generator)

    def _gather(self, order: torch.Tensor) -> Batches:
        """The batches of the images in `order`."""
        # index_select per batch: measured 3x faster than inputs[batch], and faster than permuting all images.
        for batch in order.split(self.batch_size):
            yield self.inputs.index_select(0, batch), self.labels.index_select(0, batch)


def make_loaders(
    data: Data,
    *,
    batch_size: int = BATCH_SIZE,
    fast: bool = True,
    device: str | torch.device = "cpu",
    seed: int = SEED,
) -> tuple[DataLoader | TensorLoader, DataLoader | TensorLoader]:
    """Shuffled training batches and in-order test batches, the fast way or the lesson's, normalised identically.

    No worker processes (DataLoader's num_workers=0): they hang in notebooks on macOS and Windows.
    """
    check_count("batch_size", batch_size)
    shuffled = {"batch_size": batch_size, "shuffle": True, "generator": torch.Generator().manual_seed(seed)}
    if fast:
        train_loader = TensorLoader(data.train.images, data.train.labels, **shuffled, device=device)
    else:
        train_loader = DataLoader(ImageDataset(data.train), **shuffled)
    return train_loader, make_test_loader(data, fast=fast, device=device)


def make_test_loader(data: Data, *, fast: bool = True, device: str | torch.device = "cpu") -> DataLoader | TensorLoader:
    """The test images in order, in one large batch (evaluation keeps no gradients)."""
    in_order = {"batch_size": EVAL_BATCH_SIZE, "shuffle": False}
    if fast:
        return TensorLoader(data.test.images, data.test.labels, **in_order, device=device)
    return DataLoader(ImageDataset(data.test), **in_order)
